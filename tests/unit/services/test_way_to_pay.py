"""A stage without a way to pay refuses reminder runs: logged, counted every time, finance told once an hour."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.services.way_to_pay import WayToPay


class Recorder:
    def __init__(self) -> None:
        self.alerts: list[tuple[str, dict[str, Any]]] = []
        self.counts: list[tuple[str, int, dict[str, str]]] = []

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        self.alerts.append((subject, message))

    def count(self, name: str, value: int, dimensions: Mapping[str, str]) -> None:
        self.counts.append((name, value, dict(dimensions)))


def test_with_a_way_to_pay_nothing_is_refused_or_reported() -> None:
    recorder = Recorder()
    assert WayToPay(None, recorder, recorder, "prod").refusal("invoices") is None
    assert recorder.alerts == [] and recorder.counts == []


def test_refusals_are_logged_and_counted_each_time_and_alerted_once_an_hour(caplog: pytest.LogCaptureFixture) -> None:
    recorder, now = Recorder(), [datetime(2026, 12, 1, 9, tzinfo=UTC)]
    guard = WayToPay("no way to pay: set SELLER_IBAN", recorder, recorder, "prod", clock=lambda: now[0])
    with caplog.at_level(logging.ERROR, logger="chalicelib.services.way_to_pay"):
        assert guard.refusal("plans") == "no way to pay: set SELLER_IBAN"
        assert guard.refusal("invoices") == "no way to pay: set SELLER_IBAN"
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert "stage prod" in caplog.records[0].getMessage()
    assert recorder.counts == [("RemindersRefused", 1, {"reason": "no_way_to_pay", "run": "plans"}),
                               ("RemindersRefused", 1, {"reason": "no_way_to_pay", "run": "invoices"})]
    [(subject, message)] = recorder.alerts
    assert "prod" in subject and message["reason"] == "no way to pay: set SELLER_IBAN"
    assert "SellerIban" in message["fix"]

    now[0] += timedelta(minutes=59)
    guard.refusal("invoices")
    assert len(recorder.alerts) == 1
    now[0] += timedelta(minutes=1)
    guard.refusal("invoices")
    assert len(recorder.alerts) == 2
