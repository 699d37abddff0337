"""Collector workflows on `make run`'s stack over simulated dates: what disputes, promises to pay and write-offs do
to the reminders the dunning sweep sends, read back from `.dunwell/outbox/` (which invoice is in which mail, how
many mails each run sends).

Seven customers, all in Berlin, all due on the same day D: one per workflow and one nobody touches (the control),
which must keep getting its reminder on every run where a held invoice gets none. The stack is this module's own,
so the outbox counts are exact (as in test_dunning_ladder.py).

The collections API runs on the real clock (a promise may not be dated in the past; resolving a dispute asks the
sweep to look again "now"), only `POST /dunning/runs` takes a simulated `as_of`. So D is chosen from today: the
first day at least 10 days ahead on which every run day of this test is a German business day. Whatever day the
test runs, each simulated run then falls on a sending day and sends the same mails.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from babel.dates import format_date

from tests.e2e.stack import RunningStack
from tests.e2e.user_tools import (
    Mail,
    Outbox,
    call,
    collector_key,
    first_due_date,
    import_invoices,
    invoices_csv,
    mail_of,
    module_stack,
    run_dunning,
)

pytestmark = pytest.mark.e2e

# Offsets from the due date of the runs below (the default ladder: upcoming -7, due_today 0, overdue_7 +7,
# overdue_21 +21); +9 is the first day after the promises' date (+5) and its 3 days of grace.
RUN_OFFSETS = (-7, 0, 7, 9, 21)
PROMISE_OFFSET = 5

CONTROL, HELD, DEDUCTED, ACCEPTED = "CW-CTRL-1", "CW-HELD-1", "CW-DEDUCT-1", "CW-ACCEPT-1"
KEPT, BROKEN, WRITTEN_OFF, STILL_OWED = "CW-KEPT-1", "CW-BROKEN-1", "CW-WOFF-1", "CW-WOFF-2"
# customer id -> its invoices (number, total); no number is a prefix of another, so `in mail.text` is exact.
CUSTOMERS: dict[str, tuple[tuple[str, str], ...]] = {
    "cw-control": ((CONTROL, "1000.00"),),
    "cw-held": ((HELD, "1000.00"),),
    "cw-deduct": ((DEDUCTED, "1000.00"),),
    "cw-accept": ((ACCEPTED, "1000.00"),),
    "cw-kept": ((KEPT, "1000.00"),),
    "cw-broken": ((BROKEN, "1000.00"),),
    "cw-woff": ((WRITTEN_OFF, "1000.00"), (STILL_OWED, "300.00")),
}
NUMBERS = tuple(number for rows in CUSTOMERS.values() for number, _ in rows)

stack = module_stack("collector-workflows-home")


# --- the user's tools (shared ones in user_tools.py) ------------------------------------------------------


def get_invoice(stack: RunningStack, number: str) -> dict[str, Any]:
    found: dict[str, Any] = call(stack, "GET", f"/invoices/{number}")
    return found


def reminders_sent(stack: RunningStack, number: str) -> list[str]:
    return list(get_invoice(stack, number)["reminders_sent"])


def run(stack: RunningStack, outbox: Outbox, day: date, expected: dict[str, set[str]]
        ) -> tuple[dict[str, Any], dict[str, Mail]]:
    """`POST /dunning/runs` as of `day`; exactly one mail per customer in `expected` (and no SMS), listing exactly
    the invoices given. Returns the run's summary and the mails by customer."""
    summary = run_dunning(stack, day)
    assert summary["sent"] == {"email": len(expected), "sms": 0}, summary
    mails = outbox.new(mails=len(expected))
    by_customer = {customer: m for customer in CUSTOMERS for m in mails if m.to == mail_of(customer)}
    assert len(by_customer) == len(mails), [(m.to, m.subject) for m in mails]
    assert {customer: {n for n in NUMBERS if n in m.text} for customer, m in by_customer.items()} == expected, \
        f"{day}: {[(m.to, m.subject) for m in mails]}"
    return summary, by_customer


# --- the workflows ----------------------------------------------------------------------------------------


def test_disputes_promises_and_write_offs_change_what_the_sweep_sends(stack: RunningStack):
    due = first_due_date(datetime.now(UTC).date(), RUN_OFFSETS)
    upcoming_day, due_day, overdue_day, after_grace_day, overdue_21_day = (
        due + timedelta(days=offset) for offset in RUN_OFFSETS)
    promised_on = due + timedelta(days=PROMISE_OFFSET)
    outbox = Outbox.of(stack)
    assert outbox.counts() == (0, 0)
    collector = collector_key(stack, "cw-collector")

    invoices = [(number, customer, due, total) for customer, rows in CUSTOMERS.items() for number, total in rows]
    import_invoices(stack, "incoming/collector-workflows.csv", invoices_csv(invoices, "Ltd"), NUMBERS)

    # 1. D - 7: every invoice gets its friendly reminder (the write-off customer's two in one mail).
    summary, _ = run(stack, outbox, upcoming_day, {customer: {n for n, _ in rows} for customer, rows in
                                                   CUSTOMERS.items()})
    assert summary["reminders"] == {"upcoming": 8}, summary

    # 2. The collector's day (on the real clock, before D).
    # A dispute of the whole invoice: disputed, dunning holds.
    held = call(stack, "POST", f"/invoices/{HELD}/disputes", collector, 201, json={"reason": "pricing"})
    assert (held["status"], held["whole_invoice"], held["reason"]) == ("open", True, "pricing"), held
    assert (held["invoice"]["status"], held["invoice"]["dispute_id"]) == ("disputed", held["id"]), held
    accepted = call(stack, "POST", f"/invoices/{ACCEPTED}/disputes", collector, 201, json={"reason": "damaged"})
    assert accepted["invoice"]["status"] == "disputed", accepted
    # A deduction: 100.00 is held back, the rest is still chased.
    deduction = call(stack, "POST", f"/invoices/{DEDUCTED}/disputes", collector, 201,
                     json={"reason": "quantity", "amount": "100.00"})
    assert (deduction["whole_invoice"], deduction["amount"]) == (False, "100.00"), deduction
    assert deduction["invoice"]["status"] == "open", deduction
    assert (deduction["invoice"]["balance"], deduction["invoice"]["disputed_amount"],
            deduction["invoice"]["undisputed_balance"]) == ("1000.00", "100.00", "900.00"), deduction
    # Two promises to pay by D + 5: one will be kept (400.00 of 1000.00), one broken.
    for number, amount in ((KEPT, "400.00"), (BROKEN, "1000.00")):
        promised = call(stack, "POST", f"/invoices/{number}/promises", collector, 201,
                        json={"date": promised_on.isoformat(), "amount": amount})
        assert (promised["promised_until"], promised["promised_amount"]) == (promised_on.isoformat(), amount)
    # A write-off of the whole 1000.00: above the collector's limit of 500.00, so the admin does it.
    refused = call(stack, "POST", f"/invoices/{WRITTEN_OFF}/write-off", collector, 403,
                   json={"amount": "1000.00", "reason": "customer insolvent"})
    assert refused["error"]["code"] == "needs_approval" and "500.00" in refused["error"]["message"], refused
    untouched = get_invoice(stack, WRITTEN_OFF)
    assert (untouched["status"], untouched["balance"], untouched["written_off"]) == ("open", "1000.00", "0.00")
    written = call(stack, "POST", f"/invoices/{WRITTEN_OFF}/write-off",
                   json={"amount": "1000.00", "reason": "customer insolvent"})
    assert (written["status"], written["balance"], written["written_off"]) == ("written_off", "0.00", "1000.00")

    # 3. D: the control is reminded, the disputed ones are not; the deduction's mail asks for 900.00; the
    # promised ones wait; the write-off customer is reminded of the other invoice only.
    summary, mails = run(stack, outbox, due_day, {"cw-control": {CONTROL}, "cw-deduct": {DEDUCTED},
                                                 "cw-woff": {STILL_OWED}})
    assert summary["reminders"] == {"due_today": 3}, summary
    # Read and held: the two disputed, the two promised; the written-off invoice left the sweep's index.
    assert summary["invoices_considered"] == 7 and summary["skipped"] == {"disputed": 2, "promised": 2}, summary
    assert mails["cw-control"].subject == f"Invoice {CONTROL} is due today"
    text = mails["cw-deduct"].text
    assert "Invoice total: €1,000.00" in text and "Open balance: €900.00" in text, text
    assert "Total due: €900.00" in text, text
    assert "Total due: €300.00" in mails["cw-woff"].text, mails["cw-woff"].text
    assert reminders_sent(stack, HELD) == ["upcoming:email"]

    # 4. Between D and D + 7: the kept promise's 400.00 arrives; one dispute is rejected, one accepted.
    payment = call(stack, "POST", "/payments", collector, 201,
                   headers={"Idempotency-Key": uuid.uuid4().hex},
                   json={"amount": "400.00", "currency": "EUR", "customer_id": "cw-kept", "invoice_numbers": [KEPT]})
    assert payment["unapplied"] == "0.00", payment
    paid = get_invoice(stack, KEPT)
    assert (paid["balance"], paid["status"], paid["promised_until"]) == (
        "600.00", "partially_paid", promised_on.isoformat()), paid
    rejected = call(stack, "POST", f"/disputes/{held['id']}/resolve", collector, json={"outcome": "rejected"})
    assert (rejected["status"], rejected["outcome"], rejected["credited"]) == ("resolved", "rejected", "0.00")
    assert (rejected["invoice"]["status"], rejected["invoice"]["balance"]) == ("open", "1000.00"), rejected
    credited = call(stack, "POST", f"/disputes/{accepted['id']}/resolve", collector, json={"outcome": "accepted"})
    assert (credited["outcome"], credited["credited"]) == ("accepted", "1000.00"), credited
    assert (credited["invoice"]["balance"], credited["invoice"]["credited"], credited["invoice"]["status"]) == (
        "0.00", "1000.00", "paid"), credited

    # 5. D + 7: the rejected dispute's invoice is chased again at the step the ladder has reached (overdue_7),
    # not from the start (due_today, missed while held, is not sent); the accepted one never again.
    summary, mails = run(stack, outbox, overdue_day, {"cw-control": {CONTROL}, "cw-held": {HELD},
                                                     "cw-deduct": {DEDUCTED}, "cw-woff": {STILL_OWED}})
    assert summary["reminders"] == {"overdue_7": 4} and summary["skipped"] == {}, summary  # promises: not read
    assert mails["cw-held"].subject == f"Payment overdue: invoice {HELD}", mails["cw-held"].subject
    assert reminders_sent(stack, HELD) == ["overdue_7:email", "upcoming:email"]
    assert "Total due: €900.00" in mails["cw-deduct"].text, mails["cw-deduct"].text
    assert reminders_sent(stack, ACCEPTED) == ["upcoming:email"]

    # The deduction is accepted: its 100.00 is credited, the balance falls to 900.00, the rest is still owed.
    deducted = call(stack, "POST", f"/disputes/{deduction['id']}/resolve", collector, json={"outcome": "accepted"})
    assert deducted["credited"] == "100.00", deducted
    assert (deducted["invoice"]["balance"], deducted["invoice"]["credited"], deducted["invoice"]["status"],
            deducted["invoice"]["disputed_amount"]) == ("900.00", "100.00", "partially_paid", None), deducted

    # 6. D + 9, the promises' date and grace are over: the kept one gets the ladder's own reminder (overdue_7,
    # held since D + 7) for what is left, the broken one a "promise missed" reminder and a collector task.
    summary, mails = run(stack, outbox, after_grace_day, {"cw-kept": {KEPT}, "cw-broken": {BROKEN}})
    assert summary["actions"] == {"promise_broken": 1, "promise_kept": 1}, summary
    assert summary["reminders"] == {"overdue_7": 2}, summary
    # The third invoice read is the one whose deduction was just accepted (a resolution asks the sweep to look
    # again): overdue_7 went out on D + 7, overdue_21 is not due yet.
    assert summary["skipped"] == {"no_step_due": 1}, summary
    assert mails["cw-kept"].subject == f"Payment overdue: invoice {KEPT}", mails["cw-kept"].subject
    assert "Open balance: €600.00" in mails["cw-kept"].text, mails["cw-kept"].text
    broken = mails["cw-broken"]
    assert broken.subject == f"Promised payment not received: invoice {BROKEN}", broken.subject
    assert format_date(promised_on, format="long", locale="en") in broken.text, broken.text
    tasks = call(stack, "GET", "/tasks")["items"]
    assert [(t["kind"], t["invoice_id"], t["customer_id"]) for t in tasks] == [
        ("broken_promise", BROKEN, "cw-broken")], tasks
    for number in (KEPT, BROKEN):
        assert get_invoice(stack, number)["promised_until"] is None

    # 7. D + 21: the ladder goes on for everything still owed (the broken promise is not mentioned again, the
    # deduction's credit shows); the accepted dispute and the written-off invoice are never reminded again.
    summary, mails = run(stack, outbox, overdue_21_day, {
        "cw-control": {CONTROL}, "cw-held": {HELD}, "cw-deduct": {DEDUCTED}, "cw-kept": {KEPT},
        "cw-broken": {BROKEN}, "cw-woff": {STILL_OWED}})
    assert summary["reminders"] == {"overdue_21": 6}, summary
    assert mails["cw-broken"].subject == f"Payment overdue: invoice {BROKEN}", mails["cw-broken"].subject
    assert "Total due: €900.00" in mails["cw-deduct"].text, mails["cw-deduct"].text
    assert outbox.counts() == (7 + 3 + 4 + 2 + 6, 0)
    assert reminders_sent(stack, ACCEPTED) == ["upcoming:email"]
    assert reminders_sent(stack, WRITTEN_OFF) == ["upcoming:email"]
    assert [(t["kind"], t["invoice_id"]) for t in call(stack, "GET", "/tasks")["items"]] == [
        ("broken_promise", BROKEN)]
