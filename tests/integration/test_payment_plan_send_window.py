"""Instalment reminders go only in the customer's send window on their sending days, like invoice reminders: a
plan whose reminder is due at once (made at night or on a weekend, its first instalment close) waits for the
next window instead of going out there and then."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import bootstrap
from tests.integration.helpers import drop, dunwell_csv
from tests.integration.test_collections import mails, post, row, run

ONE = [{"due_date": "2026-11-23", "amount": "600.00"}]  # a Monday


@pytest.fixture
def clock(dunning: None) -> Callable[[datetime], None]:
    """The API's and the plan sweep's 'now'."""
    now: list[datetime] = []
    bootstrap.use(bootstrap.Container(clock=lambda: now[-1] if now else datetime.now(UTC)))
    return now.append


def test_a_plan_made_on_a_saturday_is_reminded_on_monday_not_at_once(
        client: Any, s3: Any, bucket: str, clock: Callable[[datetime], None], admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("P-1", "600.00")))  # acme: Berlin, DE
    clock(datetime(2026, 11, 21, 10, tzinfo=UTC))  # Saturday
    status, plan = post(client, "/customers/acme/payment-plans", {"invoice_ids": ["P-1"], "instalments": ONE},
                        collector_headers)
    assert status == 201, plan

    saturday = run(client, admin_headers, "2026-11-21")["plans"]
    assert saturday["plans_considered"] == 1 and saturday["skipped"] == {"outside_send_window": 1}, saturday
    assert saturday["sent"] == {"email": 0, "sms": 0} and mails() == []
    sunday = run(client, admin_headers, "2026-11-22")["plans"]  # read (due by Monday morning anywhere), not sent
    assert sunday["sent"] == {"email": 0, "sms": 0} and mails() == [], sunday
    monday = run(client, admin_headers, "2026-11-23")["plans"]
    assert monday["reminders"] == {"due": 1} and monday["sent"] == {"email": 1, "sms": 0}, monday
    [mail] = mails()
    assert mail["Subject"] == "Payment plan: instalment due on Nov 23, 2026"


def test_a_plan_made_at_night_is_reminded_in_the_next_morning_window(
        client: Any, s3: Any, bucket: str, clock: Callable[[datetime], None],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("P-1", "600.00")))
    clock(datetime(2026, 11, 20, 21, tzinfo=UTC))  # Friday, 22:00 in Berlin
    status, plan = post(client, "/customers/acme/payment-plans", {"invoice_ids": ["P-1"], "instalments": ONE},
                        collector_headers)
    assert status == 201, plan
    service = bootstrap.plan_service()

    night = service.sweep()  # the hourly sweep, real-clock mode
    assert night.skipped == {"outside_send_window": 1} and night.sent["email"] == 0 and mails() == []
    clock(datetime(2026, 11, 21, 10, tzinfo=UTC))  # Saturday: still not
    assert service.sweep().plans_considered == 0 and mails() == []
    clock(datetime(2026, 11, 23, 8, 30, tzinfo=UTC))  # Monday, 09:30 in Berlin
    morning = service.sweep()
    assert morning.reminders == {"due": 1} and morning.sent["email"] == 1
    assert len(mails()) == 1
