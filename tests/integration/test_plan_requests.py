"""Portal actions and payment plan requests against moto: a dispute, a promise and a plan request made through
PortalActions land on the staff API and the timeline with the actor `portal:<email>`; a collector sees the request
(GET /plan-requests, a task), accepts it into a real plan or declines it, and the customer gets one email."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.domain.errors import NotFound
from chalicelib.domain.money import Money
from tests.integration.helpers import drop, dunwell_csv, get_json
from tests.integration.test_collections import mails, post, row, text_of

TODAY = date(2026, 12, 7)
ASKER = "ap@acme.example"


@pytest.fixture
def portal(dunning: None) -> Iterator[Any]:
    now = datetime(2026, 12, 7, 10, tzinfo=UTC)
    bootstrap.use(bootstrap.Container(clock=lambda: now))
    yield bootstrap.portal_actions()


def events_of(client: Any, path: str, headers: dict[str, str]) -> list[tuple[str, str]]:
    _, timeline = get_json(client, path, headers)
    return [(e["type"], e["actor"]) for e in timeline["items"]]


def test_portal_actions_land_on_the_staff_api_and_never_on_another_customers_invoice(
        client: Any, s3: Any, bucket: str, portal: Any, admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("A-1", "600.00"), row("A-2", "300.00"),
                                                           row("G-1", "50.00", customer="globex")))
    dispute = portal.dispute("acme", ASKER, "A-1", "damaged", Money.of("100.00", "EUR"), "two crates broken")
    status, shown = get_json(client, f"/disputes/{dispute.dispute_id}", admin_headers)
    assert status == 200 and shown["opened_by"] == f"portal:{ASKER}" and shown["amount"] == "100.00"
    [promised] = portal.promise("acme", ASKER, ["A-2"], date(2026, 12, 20), None, TODAY)
    assert promised.promised_until == date(2026, 12, 20)
    _, invoice = get_json(client, "/invoices/A-2", admin_headers)
    assert invoice["promised_until"] == "2026-12-20"
    assert ("invoice.promised", f"portal:{ASKER}") in events_of(client, "/invoices/A-2/timeline", admin_headers)
    for attempt in (lambda: portal.dispute("acme", ASKER, "G-1", "other", None, ""),
                    lambda: portal.promise("acme", ASKER, ["G-1"], date(2026, 12, 20), None, TODAY),
                    lambda: portal.request_plan("acme", ASKER, ["G-1"], 2, date(2026, 12, 20), TODAY)):
        with pytest.raises(NotFound):
            attempt()
    _, other = get_json(client, "/invoices/G-1", admin_headers)
    assert other["status"] == "open" and other["promised_until"] is None


def test_a_plan_request_is_listed_accepted_into_a_plan_and_the_customer_told_once(
        client: Any, s3: Any, bucket: str, portal: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("A-1", "600.00"), row("A-2", "300.00")))
    asked = portal.request_plan("acme", ASKER, ["A-1", "A-2"], 3, date(2026, 12, 15), TODAY)
    assert portal.request_plan("acme", ASKER, ["A-1", "A-2"], 3, date(2026, 12, 15), TODAY) == asked

    status, page = get_json(client, "/plan-requests", admin_headers)
    assert status == 200 and [r["id"] for r in page["items"]] == [asked.request_id]
    listed = page["items"][0]
    assert (listed["status"], listed["total"], listed["requested_by"]) == ("pending", "900.00", f"portal:{ASKER}")
    assert [p["amount"] for p in listed["proposal"]] == ["300.00", "300.00", "300.00"]
    _, tasks = get_json(client, "/tasks?status=open", admin_headers)
    [task] = [t for t in tasks["items"] if t["kind"] == "plan_request"]
    assert task["detail"]["request_id"] == asked.request_id and task["customer_id"] == "acme"
    assert ("plan.requested", f"portal:{ASKER}") in events_of(client, "/customers/acme/timeline", admin_headers)

    status, done = post(client, f"/plan-requests/{asked.request_id}/accept", {"first_date": "2026-12-20"},
                        collector_headers)
    assert status == 200, done
    assert done["status"] == "accepted" and done["plan"]["status"] == "active"
    assert [i["due_date"] for i in done["plan"]["instalments"]] == ["2026-12-20", "2027-01-20", "2027-02-20"]
    status, again = post(client, f"/plan-requests/{asked.request_id}/accept", {}, collector_headers)
    assert status == 200 and again["plan"]["id"] == done["plan"]["id"]
    _, invoice = get_json(client, "/invoices/A-1", admin_headers)
    assert invoice["in_payment_plan"] is True and invoice["payment_plan_id"] == done["plan"]["id"]
    _, tasks = get_json(client, "/tasks?status=open", admin_headers)
    assert [t for t in tasks["items"] if t["kind"] == "plan_request"] == []
    [mail] = mails()
    assert mail["To"] == ASKER and "agreed" in mail["Subject"]
    assert "Instalment 1: €300.00 by Dec 20, 2026" in text_of(mail)
    timeline = events_of(client, "/customers/acme/timeline", admin_headers)
    assert ("plan.request_accepted", "key:test-collector") in timeline
    assert ("plan.created", "key:test-collector") in timeline
    assert any(t == "plan.request_answer_sent" for t, _ in timeline)
    status, error = post(client, f"/plan-requests/{asked.request_id}/decline", {"reason": "no"}, collector_headers)
    assert status == 409 and error["error"]["code"] == "plan_request_decided"
    _, accepted = get_json(client, "/plan-requests?status=accepted", admin_headers)
    assert [r["plan_id"] for r in accepted["items"]] == [done["plan"]["id"]]


def test_a_declined_request_tells_the_customer_why_and_plans_nothing(
        client: Any, s3: Any, bucket: str, portal: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("A-1", "600.00")))
    asked = portal.request_plan("acme", ASKER, ["A-1"], 12, date(2026, 12, 15), TODAY)
    status, error = post(client, f"/plan-requests/{asked.request_id}/decline", {}, collector_headers)
    assert status == 400 and error["error"]["field"] == "reason"
    status, declined = post(client, f"/plan-requests/{asked.request_id}/decline",
                            {"reason": "Twelve months is too long; we can offer three."}, collector_headers)
    assert status == 200 and declined["status"] == "declined"
    assert declined["decline_reason"] == "Twelve months is too long; we can offer three."
    [mail] = mails()
    assert "Reason: Twelve months is too long; we can offer three." in text_of(mail)
    _, invoice = get_json(client, "/invoices/A-1", admin_headers)
    assert invoice["in_payment_plan"] is False
    status, _ = get_json(client, "/plan-requests/prq_" + "0" * 24, admin_headers)
    assert status == 404
    status, _ = get_json(client, "/plan-requests/not-an-id", admin_headers)
    assert status == 404
    response = client.http.post(f"/plan-requests/{asked.request_id}/accept", headers={
        **collector_headers, "Content-Type": "application/json"}, body=json.dumps({"count": 2}))
    assert response.status_code == 400  # unknown field


@pytest.mark.parametrize("body", [
    {"instalments": 0}, {"instalments": 1000}, {"instalments": "3"}, {"instalments": True},
    {"first_date": "2026-02-30"}, {"first_date": "9999-12-31"}, {"first_date": 20261220},
    {"grace_days": 31}, {"grace_days": -1},
    {"first_date": "2026-12-01"}, [], "x", None,
])
def test_an_acceptance_body_out_of_bounds_is_a_4xx_and_plans_nothing(
        client: Any, s3: Any, bucket: str, portal: Any, collector_headers: dict[str, str], body: Any) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("A-1", "600.00")))
    asked = portal.request_plan("acme", ASKER, ["A-1"], 3, date(2026, 12, 15), TODAY)
    response = client.http.post(f"/plan-requests/{asked.request_id}/accept",
                                headers={**collector_headers, "Content-Type": "application/json"},
                                body=json.dumps(body))
    assert 400 <= response.status_code < 500, response.body
    assert bootstrap.plan_requests().get(asked.request_id).status.value == "pending"
