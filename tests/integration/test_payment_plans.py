"""Payment plans over HTTP against moto: making one, its instalment reminders, payments covering instalments in
order, and how it ends (completed, broken, cancelled), with what each does to the dunning sweep
(POST /dunning/runs with a simulated clock)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.services.ports import SendFailed
from tests.integration.conftest import issue_key
from tests.integration.helpers import drop, dunwell_csv, get_json
from tests.integration.test_collections import mails, post, row, run, text_of


@pytest.fixture
def plan_clock(dunning: None) -> Iterator[Any]:
    """Set the API's 'now' for plans and payments: `plan_clock("2026-11-20")`."""
    now: list[datetime] = []
    bootstrap.use(bootstrap.Container(clock=lambda: now[-1] if now else datetime.now(UTC)))

    def set_to(day: str, hour: int = 10) -> None:
        now.append(datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC))

    yield set_to


def pay(client: Any, amount: str, *numbers: str, key: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {issue_key('collector')}", "Idempotency-Key": key,
               "Content-Type": "application/json"}
    body = {"amount": amount, "currency": "EUR", "customer_id": "acme", "method": "wire",
            "received_on": "2026-11-21", "invoice_numbers": list(numbers)}
    response = client.http.post("/payments", headers=headers, body=json.dumps(body))
    assert response.status_code == 201, response.body
    return dict(json.loads(response.body))


THREE = [{"due_date": "2026-12-15", "amount": "300.00"}, {"due_date": "2027-01-15", "amount": "300.00"},
         {"due_date": "2027-02-15", "amount": "300.00"}]


def test_a_plan_takes_invoices_off_the_ladder_and_reminds_of_each_instalment_until_it_breaks(
        client: Any, s3: Any, bucket: str, plan_clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("P-1", "600.00"), row("P-2", "300.00")))
    plan_clock("2026-11-20")
    status, plan = post(client, "/customers/acme/payment-plans",
                        {"invoice_ids": ["P-1", "P-2"], "instalments": THREE, "note": "agreed by phone"},
                        collector_headers)
    assert status == 201, plan
    assert (plan["status"], plan["total"], plan["outstanding"], plan["paid"]) == ("active", "900.00", "900.00", "0.00")
    assert [i["state"] for i in plan["instalments"]] == ["upcoming"] * 3
    _, invoice = get_json(client, "/invoices/P-1", admin_headers)
    assert invoice["in_payment_plan"] is True and invoice["payment_plan_id"] == plan["id"]

    # The invoices' own reminders (upcoming on 11-24, due today on 12-01) do not go: they are in the plan.
    quiet = run(client, admin_headers, "2026-11-24")
    assert quiet["invoices_considered"] == 0 and quiet["plans"]["plans_considered"] == 0
    assert run(client, admin_headers, "2026-12-01")["invoices_considered"] == 0
    assert mails() == []

    # Three days before the first instalment is a Saturday: the reminder waits for Monday.
    assert run(client, admin_headers, "2026-12-12")["plans"]["plans_considered"] == 0
    before = run(client, admin_headers, "2026-12-14")
    assert before["plans"]["reminders"] == {"before": 1} and before["plans"]["sent"] == {"email": 1, "sms": 0}
    [mail] = mails()
    assert mail["Subject"] == "Payment plan: instalment due on Dec 15, 2026"
    text = text_of(mail)
    assert "Instalment 1/3" in text and "Instalment amount: €300.00" in text
    assert "questions about your payment plan" in text
    assert run(client, admin_headers, "2026-12-14")["plans"]["sent"] == {"email": 0, "sms": 0}  # once per stage

    paid = pay(client, "300.00", "P-1", key="wire-1")
    assert paid["status"] == "applied"
    assert run(client, admin_headers, "2026-12-15")["plans"]["plans_considered"] == 1
    assert len(mails()) == 1  # instalment 1 is paid: no "due today" mail for it
    _, current = get_json(client, f"/payment-plans/{plan['id']}", admin_headers)
    assert [(i["state"], i["paid"]) for i in current["instalments"]] == [
        ("paid", "300.00"), ("upcoming", "0.00"), ("upcoming", "0.00")]
    assert current["next_instalment"]["number"] == 2 and current["paid"] == "300.00"

    assert run(client, admin_headers, "2027-01-12")["plans"]["reminders"] == {"before": 1}
    assert run(client, admin_headers, "2027-01-15")["plans"]["reminders"] == {"due": 1}
    overdue = run(client, admin_headers, "2027-01-18")  # due + 2 (Monday)
    assert overdue["plans"]["reminders"] == {"overdue": 1}
    assert mails()[-1]["Subject"] == "Payment plan: instalment overdue"
    assert "Please pay the amount due by January 20, 2027." in text_of(mails()[-1])  # before the grace runs out
    assert len(mails()) == 4

    broken = run(client, admin_headers, "2027-01-21")  # due + grace + 1: instalment 2 missed
    assert broken["plans"]["broken"] == 1
    # Back on the ladder at once, one step on from where each invoice was (catch-up never jumps to escalation).
    assert broken["invoices_considered"] == 2 and broken["reminders"] == {"overdue_7": 2}
    _, ended = get_json(client, f"/payment-plans/{plan['id']}", admin_headers)
    assert (ended["status"], ended["end_reason"], ended["ended_by"]) == ("broken", "instalment 2 missed",
                                                                         "system:plans")
    _, tasks = get_json(client, "/tasks", admin_headers)
    assert [t["kind"] for t in tasks["items"] if t["kind"] == "broken_plan"] == ["broken_plan"]
    _, invoice = get_json(client, "/invoices/P-1", admin_headers)
    assert invoice["in_payment_plan"] is False and invoice["payment_plan_id"] is None
    _, timeline = get_json(client, "/customers/acme/timeline", admin_headers)
    kinds = [e["type"] for e in timeline["items"]]
    assert {"plan.created", "plan.reminder_sent", "plan.broken", "invoice.planned", "invoice.plan_ended"} <= set(kinds)
    _, listed = get_json(client, "/payment-plans?status=broken", admin_headers)
    assert [p["id"] for p in listed["items"]] == [plan["id"]]


def test_equal_monthly_instalments_and_a_plan_paid_in_full_completes(
        client: Any, s3: Any, bucket: str, plan_clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("P-1", "100.00")))
    plan_clock("2026-11-20")
    status, plan = post(client, "/customers/acme/payment-plans",
                        {"invoice_ids": ["P-1"], "count": 3, "first_due_date": "2027-01-31"}, collector_headers)
    assert status == 201, plan
    assert [(i["due_date"], i["amount"]) for i in plan["instalments"]] == [
        ("2027-01-31", "33.34"), ("2027-02-28", "33.33"), ("2027-03-31", "33.33")]

    pay(client, "100.00", "P-1", key="wire-all")
    done = run(client, admin_headers, "2027-01-28")  # the plan's next look: nothing is open any more
    assert done["plans"]["completed"] == 1 and done["plans"]["sent"] == {"email": 0, "sms": 0}
    _, completed = get_json(client, "/payment-plans?status=completed", admin_headers)
    assert [p["id"] for p in completed["items"]] == [plan["id"]]
    _, mine = get_json(client, "/customers/acme/payment-plans", admin_headers)
    assert [p["status"] for p in mine["items"]] == ["completed"]
    assert mails() == []


def test_cancelling_a_plan_puts_its_invoices_back_on_the_ladder(
        client: Any, s3: Any, bucket: str, plan_clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("P-1", "600.00")))
    plan_clock("2026-11-20")
    _, plan = post(client, "/customers/acme/payment-plans",
                   {"invoice_ids": ["P-1"], "count": 2, "first_due_date": "2026-12-20"}, collector_headers)
    plan_clock("2026-12-08")
    status, cancelled = post(client, f"/payment-plans/{plan['id']}/cancel", {"reason": "customer asked"},
                             collector_headers)
    assert status == 200, cancelled
    assert (cancelled["status"], cancelled["end_reason"], cancelled["ended_by"]) == (
        "cancelled", "customer asked", "key:test-collector")
    resumed = run(client, admin_headers, "2026-12-08")
    assert resumed["reminders"] == {"overdue_7": 1} and resumed["plans"]["plans_considered"] == 0
    status, again = post(client, f"/payment-plans/{plan['id']}/cancel", {"reason": "twice"}, collector_headers)
    assert status == 422 and "cancelled already" in again["error"]["message"]


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"invoice_ids": ["P-1"], "instalments": [{"due_date": "2026-12-20", "amount": "500.00"}]},
     "instalments", "sum to 500.00 EUR; the invoices' open balance is 600.00 EUR"),
    ({"invoice_ids": ["P-1"], "instalments": [{"due_date": "2026-11-01", "amount": "600.00"}]},
     "instalments", "in the past"),
    ({"invoice_ids": ["P-1", "P-X"], "count": 2, "first_due_date": "2026-12-20"}, "invoice_ids", "P-X not found"),
    ({"invoice_ids": ["P-1"], "count": 2}, "first_due_date", "count needs first_due_date"),
    ({"invoice_ids": ["P-1"]}, "instalments", "either instalments or count"),
    ({"invoice_ids": ["OTHER-1"], "count": 2, "first_due_date": "2026-12-20"}, "invoice_ids", "another customer"),
])
def test_a_plan_that_does_not_add_up_is_refused_with_the_reason(
        client: Any, s3: Any, bucket: str, plan_clock: Any, collector_headers: dict[str, str],
        body: dict[str, Any], field: str, words: str) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("P-1", "600.00"), row("OTHER-1", customer="bolt")))
    plan_clock("2026-11-20")
    status, refused = post(client, "/customers/acme/payment-plans", body, collector_headers)
    assert status in (404, 422), refused
    assert refused["error"]["field"] == field and words in refused["error"]["message"]


def test_an_invoice_is_in_one_plan_at_a_time_and_viewers_cannot_make_plans(
        client: Any, s3: Any, bucket: str, plan_clock: Any, collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("P-1", "600.00")))
    plan_clock("2026-11-20")
    body = {"invoice_ids": ["P-1"], "count": 2, "first_due_date": "2026-12-20"}
    assert post(client, "/customers/acme/payment-plans", body, collector_headers)[0] == 201
    status, second = post(client, "/customers/acme/payment-plans", body, collector_headers)
    assert status == 422 and "is in payment plan pln_" in second["error"]["message"]
    viewer = {"Authorization": f"Bearer {issue_key('viewer')}"}
    assert post(client, "/customers/acme/payment-plans", body, viewer)[0] == 403


def test_a_payment_without_reference_of_the_next_instalment_goes_to_the_plans_invoices_oldest_first(
        client: Any, s3: Any, bucket: str, plan_clock: Any, collector_headers: dict[str, str],
        admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("P-1", "600.00"), row("P-2", "300.00"),
                                                           row("OUT-1", "250.00")))
    plan_clock("2026-11-20")
    _, plan = post(client, "/customers/acme/payment-plans", {"invoice_ids": ["P-1", "P-2"], "instalments": THREE},
                   collector_headers)

    instalment = pay(client, "300.00", key="no-reference-1")  # no invoice number: the plan says where it goes
    assert instalment["status"] == "applied" and instalment["match"] == "payment_plan"
    assert [(a["number"], a["amount"]) for a in instalment["allocations"]] == [("P-1", "300.00")]
    assert f"payment plan {plan['id']}: 300.00 EUR is the next instalment" in instalment["reason"]

    two = pay(client, "600.00", key="no-reference-2")  # the next two instalments
    assert [(a["number"], a["amount"]) for a in two["allocations"]] == [("P-1", "300.00"), ("P-2", "300.00")]
    _, settled = get_json(client, f"/payment-plans/{plan['id']}", admin_headers)
    assert settled["settled"] is True and settled["paid"] == "900.00"

    other = pay(client, "250.00", key="no-reference-3")  # not an instalment: the usual rules (exact balance)
    assert other["match"] == "exact_balance" and other["allocations"][0]["number"] == "OUT-1"


def test_an_amount_that_is_no_instalment_is_not_guessed_onto_the_plan(
        client: Any, s3: Any, bucket: str, plan_clock: Any, collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("P-1", "600.00"), row("P-2", "300.00")))
    plan_clock("2026-11-20")
    post(client, "/customers/acme/payment-plans", {"invoice_ids": ["P-1", "P-2"], "instalments": THREE},
         collector_headers)
    odd = pay(client, "123.45", key="odd")
    assert odd["status"] == "unapplied" and odd["allocations"] == []


# ---- exactly once, whatever happens between the claim and the record ----------------------------------------

def _plan_with_reminder_due(client: Any, s3: Any, bucket: str, plan_clock: Any,
                            collector_headers: dict[str, str]) -> dict[str, Any]:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("P-1", "900.00")))
    plan_clock("2026-11-20")
    status, plan = post(client, "/customers/acme/payment-plans", {"invoice_ids": ["P-1"], "instalments": THREE},
                        collector_headers)
    assert status == 201, plan
    return dict(plan)


def test_a_crash_between_send_and_record_is_repaired_without_a_second_send(
        client: Any, s3: Any, bucket: str, plan_clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan_with_reminder_due(client, s3, bucket, plan_clock, collector_headers)
    service = bootstrap.plan_service()

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the process died")

    with monkeypatch.context() as patched:
        patched.setattr(service, "_record", crash)
        with pytest.raises(RuntimeError):
            service.sweep(as_of=datetime(2026, 12, 14).date())
    assert len(mails()) == 1
    repaired = run(client, admin_headers, "2026-12-14")["plans"]
    assert (repaired["repaired"], repaired["sent"]) == (1, {"email": 0, "sms": 0})
    assert len(mails()) == 1
    _, current = get_json(client, f"/payment-plans/{plan['id']}", admin_headers)
    assert current["reminders_sent"] == ["1:before:email"]


def test_a_crash_while_sending_is_never_sent_twice_but_flagged(
        client: Any, s3: Any, bucket: str, plan_clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan_with_reminder_due(client, s3, bucket, plan_clock, collector_headers)
    service = bootstrap.plan_service()

    def dies(*_args: Any, **_kwargs: Any) -> str:
        raise RuntimeError("the process died while SES had the message")

    def at(hour: int, minute: int = 0) -> None:  # the hourly sweep on Monday 14 Dec, real-clock mode
        monkeypatch.setattr(service, "clock", lambda: datetime(2026, 12, 14, hour, minute, tzinfo=UTC))

    at(10)
    with monkeypatch.context() as patched:
        patched.setattr(service.sender, "send_email", dies)
        with pytest.raises(RuntimeError):
            service.sweep()
    at(10, 5)
    in_flight = service.sweep()  # within the claim's lease: another run may still be sending it
    assert in_flight.skipped == {"send_in_progress": 1} and in_flight.sent["email"] == 0
    at(11)  # the next hourly sweep: the lease is over; recorded as unconfirmed, a task, nothing sent again
    later = service.sweep()
    assert later.unconfirmed == 1 and later.sent["email"] == 0
    _, tasks = get_json(client, "/tasks", admin_headers)
    assert [t["kind"] for t in tasks["items"]] == ["unconfirmed_reminder"]
    _, current = get_json(client, f"/payment-plans/{plan['id']}", admin_headers)
    assert current["reminders_sent"] == ["1:before:email"]
    assert mails() == []


def test_a_refused_send_is_released_and_retried(
        client: Any, s3: Any, bucket: str, plan_clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _plan_with_reminder_due(client, s3, bucket, plan_clock, collector_headers)
    service = bootstrap.plan_service()

    def refuse(*_args: Any, **_kwargs: Any) -> str:
        raise SendFailed("Throttling")

    with monkeypatch.context() as patched:
        patched.setattr(service.sender, "send_email", refuse)
        refused = run(client, admin_headers, "2026-12-14")["plans"]
    assert refused["failed"][0]["reason"] == "Throttling" and mails() == []
    assert run(client, admin_headers, "2026-12-14")["plans"]["sent"]["email"] == 1  # an hour later, it goes


def test_a_plan_cancelled_after_the_sweep_read_it_sends_nothing(
        client: Any, s3: Any, bucket: str, plan_clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan_with_reminder_due(client, s3, bucket, plan_clock, collector_headers)
    service = bootstrap.plan_service()
    stale = service.plans.get(plan["id"])
    assert stale is not None
    post(client, f"/payment-plans/{plan['id']}/cancel", {"reason": "paid in full by cheque"}, collector_headers)
    monkeypatch.setattr(service.plans, "due", lambda until, limit: [stale])
    summary = service.sweep(as_of=datetime(2026, 12, 14).date())
    assert summary.skipped == {"plan_changed": 1} and mails() == []


def test_the_kill_switch_stops_plan_reminders_too(
        client: Any, s3: Any, bucket: str, plan_clock: Any, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    _plan_with_reminder_due(client, s3, bucket, plan_clock, collector_headers)
    response = client.http.put("/dunning/settings", headers={**admin_headers, "Content-Type": "application/json"},
                               body=json.dumps({"kill_switch": True}))
    assert response.status_code == 200, response.body
    stopped = run(client, admin_headers, "2026-12-14")["plans"]
    assert stopped["kill_switch"] is True and stopped["plans_considered"] == 0 and mails() == []
