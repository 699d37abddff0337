"""Collector workflows over HTTP against moto: disputes (whole and deductions), promises to pay and write-offs,
and what each does to the dunning sweep (POST /dunning/runs with a simulated clock)."""

from __future__ import annotations

import email
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import bootstrap, config
from tests.integration.conftest import issue_key
from tests.integration.helpers import drop, dunwell_csv, get_json

ROW = "{number},invoice,{customer},{customer_title} GmbH,ap@{customer}.example,,en,Europe/Berlin,DE,2026-11-01," \
      "2026-12-01,,EUR,{total},0,,open,"
# The default ladder for a due date of 2026-12-01: upcoming 11-24, due_today 12-01, overdue_7 12-08,
# overdue_21 12-22, final_notice 2027-01-05, escalation 2027-01-20.


def row(number: str, total: str = "1000.00", customer: str = "acme") -> str:
    return ROW.format(number=number, total=total, customer=customer, customer_title=customer.title())


@pytest.fixture
def clock(dunning: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set the collections service's clock (the API's 'now'): `clock("2026-12-02")`."""
    service = bootstrap.collections_service()

    def set_to(day: str, hour: int = 10) -> None:
        at = datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)
        monkeypatch.setattr(service, "clock", lambda: at)

    return set_to


def post(client: Any, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    response = client.http.post(path, headers={**headers, "Content-Type": "application/json"}, body=json.dumps(body))
    return response.status_code, json.loads(response.body) if response.body else None


def run(client: Any, headers: dict[str, str], as_of: str) -> dict[str, Any]:
    status, summary = post(client, "/dunning/runs", {"as_of": as_of}, headers)
    assert status == 200, summary
    return dict(summary)


def mails() -> list[Any]:
    backend = ses_backends[DEFAULT_ACCOUNT_ID][config.settings().region]
    return [email.message_from_string(m.raw_data) for m in backend.sent_messages]


def text_of(message: Any) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode())
    raise AssertionError("no text part")


def events(client: Any, invoice_id: str, headers: dict[str, str]) -> list[str]:
    _, export = get_json(client, f"/invoices/{invoice_id}/agency-export", headers)
    return [e["type"] for e in export["history"]]


# ---- disputes ----------------------------------------------------------------------------------------------

def test_a_dispute_pauses_dunning_and_a_rejection_resumes_it_at_the_current_step(
        client: Any, s3: Any, bucket: str, clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    assert run(client, admin_headers, "2026-11-24")["reminders"] == {"upcoming": 1}

    clock("2026-11-30")
    status, opened = post(client, "/invoices/INV-1/disputes", {"reason": "damaged", "note": "arrived broken"},
                          collector_headers)
    assert status == 201, opened
    assert (opened["status"], opened["whole_invoice"], opened["reason"]) == ("open", True, "damaged")
    assert opened["invoice"]["status"] == "disputed" and opened["invoice"]["dispute_id"] == opened["id"]

    held = run(client, admin_headers, "2026-12-01")
    assert held["skipped"] == {"disputed": 1} and held["reminders"] == {}
    assert run(client, admin_headers, "2026-12-08")["invoices_considered"] == 0  # out of the index while held
    assert len(mails()) == 1

    clock("2026-12-09")
    status, listed = get_json(client, "/disputes?status=open", admin_headers)
    assert status == 200 and [d["id"] for d in listed["items"]] == [opened["id"]]
    assert listed["items"][0]["age_days"] >= 0
    status, rejected = post(client, f"/disputes/{opened['id']}/resolve", {"outcome": "rejected"}, collector_headers)
    assert status == 200, rejected
    assert (rejected["status"], rejected["outcome"], rejected["credited"]) == ("resolved", "rejected", "0.00")
    assert rejected["invoice"]["status"] == "open"
    assert rejected["invoice"]["next_action_at"] == "2026-12-09T10:00:00+00:00"

    resumed = run(client, admin_headers, "2026-12-09")
    # The step reached by now (overdue_7), not the ladder's start; due_today, missed while held, is superseded.
    assert resumed["reminders"] == {"overdue_7": 1}
    assert len(mails()) == 2 and "overdue" in mails()[-1]["Subject"].lower()

    status, again = post(client, f"/disputes/{opened['id']}/resolve", {"outcome": "accepted"}, collector_headers)
    assert status == 409 and again["error"]["code"] == "dispute_resolved"
    assert get_json(client, "/disputes?status=open", admin_headers)[1]["items"] == []
    [resolved] = get_json(client, "/disputes?status=resolved", admin_headers)[1]["items"]
    assert resolved["age_days"] == 9  # opened 30 Nov, resolved 9 Dec
    assert get_json(client, f"/disputes/{opened['id']}", admin_headers)[1]["resolved_by"] == "key:test-collector"
    history = events(client, "INV-1", admin_headers)
    assert "invoice.disputed" in history and "invoice.dispute_resolved" in history


def test_an_accepted_dispute_credits_the_invoice(client: Any, s3: Any, bucket: str, clock: Any,
                                                  admin_headers: dict[str, str],
                                                  collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    clock("2026-11-30")
    status, opened = post(client, "/invoices/INV-1/disputes", {"reason": "pricing", "amount": "300.00"},
                          collector_headers)
    assert status == 201, opened
    assert opened["invoice"]["status"] == "open"  # a deduction: the rest is still chased
    assert (opened["invoice"]["disputed_amount"], opened["invoice"]["undisputed_balance"]) == ("300.00", "700.00")
    status, second = post(client, "/invoices/INV-1/disputes", {"reason": "other"}, collector_headers)
    assert status == 409 and second["error"]["code"] == "dispute_open"

    status, accepted = post(client, f"/disputes/{opened['id']}/resolve", {"outcome": "accepted", "note": "agreed"},
                            collector_headers)
    assert status == 200, accepted
    assert accepted["credited"] == "300.00"
    _, invoice = get_json(client, "/invoices/INV-1", admin_headers)
    assert (invoice["balance"], invoice["credited"], invoice["status"]) == ("700.00", "300.00", "partially_paid")
    assert invoice["dispute_id"] is None and invoice["disputed_amount"] is None


def test_a_deduction_is_held_back_and_the_reminder_asks_for_the_rest(
        client: Any, s3: Any, bucket: str, clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    clock("2026-12-02")
    status, opened = post(client, "/invoices/INV-1/disputes", {"reason": "quantity", "amount": "300.00"},
                          collector_headers)
    assert status == 201, opened

    assert run(client, admin_headers, "2026-12-08")["reminders"] == {"overdue_7": 1}
    text = text_of(mails()[-1])
    assert "Open balance: €700.00" in text and "Total due: €700.00" in text  # 300.00 held back

    clock("2026-12-15")
    status, partial = post(client, f"/disputes/{opened['id']}/resolve",
                           {"outcome": "partial", "credit_amount": "100.00"}, collector_headers)
    assert status == 200, partial
    assert partial["invoice"]["balance"] == "900.00" and partial["invoice"]["undisputed_balance"] == "900.00"
    assert run(client, admin_headers, "2026-12-22")["reminders"] == {"overdue_21": 1}
    assert "Total due: €900.00" in text_of(mails()[-1])


def test_a_partial_resolution_needs_a_credit_within_what_is_held(client: Any, s3: Any, bucket: str, clock: Any,
                                                                  collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    clock("2026-12-02")
    _, opened = post(client, "/invoices/INV-1/disputes", {"reason": "pricing", "amount": "300.00"},
                     collector_headers)
    for body, field in (({"outcome": "partial"}, "credit_amount"),
                        ({"outcome": "partial", "credit_amount": "300.01"}, "credit_amount"),
                        ({"outcome": "rejected", "credit_amount": "1.00"}, "credit_amount")):
        status, error = post(client, f"/disputes/{opened['id']}/resolve", body, collector_headers)
        assert (status, error["error"]["field"]) == (422, field)
    status, error = post(client, f"/disputes/{opened['id']}/resolve", {"outcome": "maybe"}, collector_headers)
    assert (status, error["error"]["field"]) == (400, "outcome")


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"reason": "because"}, 400, "reason"),
    ({"reason": "pricing", "amount": 12}, 400, "amount"),
    ({"reason": "pricing", "amount": "abc"}, 400, "amount"),
    ({"reason": "pricing", "amount": "0.00"}, 422, "amount"),
    ({"reason": "pricing", "amount": "1000.01"}, 422, "amount"),
    ({"reason": "pricing", "amount": "1.001"}, 422, None),
    ({"reason": "pricing", "colour": "red"}, 400, "colour"),
])
def test_opening_a_dispute_checks_its_body(client: Any, s3: Any, bucket: str, clock: Any,
                                           collector_headers: dict[str, str], body: dict[str, Any], status: int,
                                           field: str | None) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    answer, error = post(client, "/invoices/INV-1/disputes", body, collector_headers)
    assert answer == status, error
    assert error["error"].get("field") == field


def test_disputes_are_listed_newest_first_with_a_cursor(client: Any, s3: Any, bucket: str, clock: Any,
                                                        admin_headers: dict[str, str],
                                                        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1"), row("INV-2"), row("INV-3")))
    for hour, number in enumerate(("INV-1", "INV-2", "INV-3"), start=8):
        clock("2026-12-02", hour)
        assert post(client, f"/invoices/{number}/disputes", {"reason": "other"}, collector_headers)[0] == 201
    clock("2026-12-12")
    status, first = get_json(client, "/disputes?limit=2", admin_headers)
    assert status == 200 and [d["invoice_id"] for d in first["items"]] == ["INV-3", "INV-2"]
    assert first["next_cursor"]
    status, second = get_json(client, f"/disputes?limit=2&cursor={first['next_cursor']}", admin_headers)
    assert [d["invoice_id"] for d in second["items"]] == ["INV-1"]
    assert get_json(client, "/disputes?status=closed", admin_headers)[0] == 400
    assert get_json(client, "/disputes/dsp_" + "0" * 24, admin_headers)[0] == 404
    assert get_json(client, "/disputes/not-a-dispute", admin_headers)[0] == 404
    assert post(client, "/invoices/INV-404/disputes", {"reason": "other"}, collector_headers)[0] == 404


def test_a_dispute_takes_over_a_chargebacks_hold(client: Any, s3: Any, bucket: str, clock: Any,
                                                 admin_headers: dict[str, str],
                                                 collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    ledger = bootstrap.ledger()
    invoice = ledger.get_invoices(["INV-1"])["INV-1"]
    ledger.save_invoice(replace(invoice, disputed=True), [], datetime.now(UTC))  # as a chargeback leaves it
    _, view = get_json(client, "/invoices/INV-1", admin_headers)
    assert view["status"] == "disputed" and view["dispute_id"] is None  # held, with no dispute record
    clock("2026-12-02")
    status, opened = post(client, "/invoices/INV-1/disputes", {"reason": "not_received"}, collector_headers)
    assert status == 201 and opened["from_chargeback"] is True
    status, rejected = post(client, f"/disputes/{opened['id']}/resolve", {"outcome": "rejected"}, collector_headers)
    assert status == 200 and rejected["invoice"]["status"] == "open"


# ---- promises ----------------------------------------------------------------------------------------------

def test_a_broken_promise_holds_until_its_date_then_a_promise_missed_reminder_and_a_task(
        client: Any, s3: Any, bucket: str, clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    run(client, admin_headers, "2026-11-24")
    run(client, admin_headers, "2026-12-01")
    assert len(mails()) == 2

    clock("2026-12-02")
    status, promised = post(client, "/invoices/INV-1/promises", {"date": "2026-12-10", "amount": "1000.00"},
                            collector_headers)
    assert status == 201, promised
    assert (promised["promised_until"], promised["promised_amount"]) == ("2026-12-10", "1000.00")

    assert run(client, admin_headers, "2026-12-08")["skipped"] == {"promised": 1}  # overdue_7 is due: held
    for day in ("2026-12-10", "2026-12-11", "2026-12-13"):  # the date, then the grace days
        assert run(client, admin_headers, day)["reminders"] == {}
    assert len(mails()) == 2

    broken = run(client, admin_headers, "2026-12-14")
    assert broken["actions"] == {"promise_broken": 1} and broken["reminders"] == {"overdue_7": 1}
    message = mails()[-1]
    assert message["Subject"] == "Promised payment not received: invoice INV-1"
    assert "December 10, 2026" in text_of(message)
    [task] = get_json(client, "/tasks", admin_headers)[1]["items"]
    assert (task["kind"], task["invoice_id"]) == ("broken_promise", "INV-1")
    _, invoice = get_json(client, "/invoices/INV-1", admin_headers)
    assert invoice["promised_until"] is None and invoice["broken_promise"] is None  # said once, by that reminder
    assert {"invoice.promised", "promise.broken"} <= set(events(client, "INV-1", admin_headers))

    assert run(client, admin_headers, "2026-12-22")["reminders"] == {"overdue_21": 1}
    assert mails()[-1]["Subject"] == "Payment overdue: invoice INV-1"  # the ladder's own tone again


def test_a_kept_promise_lets_the_ladder_chase_the_rest(client: Any, s3: Any, bucket: str, clock: Any,
                                                       admin_headers: dict[str, str],
                                                       collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    clock("2026-12-02")
    assert post(client, "/invoices/INV-1/promises", {"date": "2026-12-10", "amount": "400.00"},
                collector_headers)[0] == 201
    status, payment = post(client, "/payments", {"amount": "400.00", "currency": "EUR", "customer_id": "acme",
                                                 "invoice_numbers": ["INV-1"]}, collector_headers)
    assert status == 201, payment
    assert run(client, admin_headers, "2026-12-08")["reminders"] == {}
    kept = run(client, admin_headers, "2026-12-14")
    assert kept["actions"] == {"promise_kept": 1} and kept["reminders"] == {"overdue_7": 1}
    assert mails()[-1]["Subject"] == "Statement: invoice INV-1 is open"  # the first word about it: neutral
    assert "600.00" in text_of(mails()[-1])
    assert get_json(client, "/tasks", admin_headers)[1]["items"] == []


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"date": "2026-12-01", "amount": "10.00"}, 422, "date"),  # yesterday
    ({"date": "2027-03-03", "amount": "10.00"}, 422, "date"),  # more than 90 days ahead
    ({"date": "2026-12-10", "amount": "1000.01"}, 422, "amount"),
    ({"date": "2026-12-10", "amount": "0"}, 422, "amount"),
    ({"date": "10/12/2026", "amount": "10.00"}, 400, "date"),
    ({"date": "2026-12-10"}, 400, "amount"),
])
def test_a_promise_is_checked(client: Any, s3: Any, bucket: str, clock: Any, collector_headers: dict[str, str],
                              body: dict[str, Any], status: int, field: str) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    clock("2026-12-02")
    answer, error = post(client, "/invoices/INV-1/promises", body, collector_headers)
    assert (answer, error["error"]["field"]) == (status, field)


# ---- write-offs --------------------------------------------------------------------------------------------

def test_write_offs_above_the_collector_limit_need_an_admin_and_stop_dunning(
        client: Any, s3: Any, bucket: str, clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1"), row("INV-2", total="250.00")))
    clock("2026-12-02")
    status, refused = post(client, "/invoices/INV-1/write-off", {"amount": "500.01", "reason": "insolvent"},
                           collector_headers)
    assert status == 403 and refused["error"]["code"] == "needs_approval"
    assert "500.00" in refused["error"]["message"]
    status, body = post(client, "/invoices/INV-1/write-off", {"amount": "100.00"}, collector_headers)
    assert (status, body["error"]["field"]) == (400, "reason")

    status, written = post(client, "/invoices/INV-1/write-off", {"amount": "1000.00", "reason": "insolvent"},
                           admin_headers)
    assert status == 200, written
    assert (written["status"], written["balance"], written["written_off"]) == ("written_off", "0.00", "1000.00")

    status, small = post(client, "/invoices/INV-2/write-off", {"amount": "50.00", "reason": "goodwill"},
                         collector_headers)
    assert status == 200 and (small["balance"], small["status"]) == ("200.00", "open")

    for day in ("2026-12-08", "2027-01-20"):
        run(client, admin_headers, day)
    sent = [text_of(m) for m in mails()]
    assert sent and all("INV-1" not in text for text in sent)  # never reminded
    assert "200.00" in sent[0]
    _, export = get_json(client, "/invoices/INV-1/agency-export", admin_headers)
    [entry] = [e for e in export["history"] if e["type"] == "invoice.written_off"]
    assert entry["actor"] == "key:test-admin"
    assert (entry["data"]["reason"], entry["data"]["bad_debt"], entry["data"]["amount"]) == (
        "insolvent", True, "1000.00")
    status, again = post(client, "/invoices/INV-1/write-off", {"amount": "1.00", "reason": "x"}, admin_headers)
    assert (status, again["error"]["field"]) == (422, "amount")  # nothing left to write off


def test_a_task_opened_by_hand_is_listed_audited_and_completed(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    status, task = post(client, "/tasks", {"title": "Call Acme's AP about the PO", "invoice_id": "INV-1",
                                           "note": "they said next week"}, collector_headers)
    assert status == 201, task
    assert (task["kind"], task["customer_id"], task["invoice_id"], task["created_by"]) == (
        "manual", "acme", "INV-1", "key:test-collector")
    assert [t["id"] for t in get_json(client, "/tasks", admin_headers)[1]["items"]] == [task["id"]]
    status, done = post(client, f"/tasks/{task['id']}/complete", {}, collector_headers)
    assert status == 200 and done["status"] == "done"
    _, timeline = get_json(client, "/invoices/INV-1/timeline", admin_headers)
    assert {"task.opened", "task.completed"} <= {e["type"] for e in timeline["items"]}
    assert post(client, "/tasks", {"title": "x", "invoice_id": "NOPE-1"}, collector_headers)[0] == 404
    assert post(client, "/tasks", {"title": ""}, collector_headers)[0] == 400
    viewer = {"Authorization": f"Bearer {issue_key('viewer')}"}
    assert post(client, "/tasks", {"title": "x"}, viewer)[0] == 403


def test_a_retried_write_off_with_the_same_idempotency_key_writes_off_once(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1", total="400.00")))
    retried = {**collector_headers, "Idempotency-Key": "wo-2026-0042"}
    answers = [post(client, "/invoices/INV-1/write-off", {"amount": "100.00", "reason": "small balance"}, retried)
               for _ in range(2)]
    assert [(status, body["written_off"], body["balance"]) for status, body in answers] == [
        (200, "100.00", "300.00"), (200, "100.00", "300.00")]
    history = events(client, "INV-1", admin_headers)
    assert history.count("invoice.written_off") == 1
    other = post(client, "/invoices/INV-1/write-off", {"amount": "100.00", "reason": "another"},
                 {**collector_headers, "Idempotency-Key": "wo-2026-0043"})
    assert other[1]["written_off"] == "200.00"  # another key is another write-off
