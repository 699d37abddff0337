"""A payment plan on `make run`'s stack over simulated dates: what it changes in the mails the dunning sweep sends,
read back from `.dunwell/outbox/` (which mail, with which subject and text, how many per run).

Two customers in Berlin (DE). The plan customer's two invoices (PLAN_OLD due D - 7, PLAN_NEW due D) go into a
plan of three explicit instalments; the control's invoice (due D) is never touched and gets its ladder reminder
on every ladder day, while the plan's invoices get none. The plan reminds of instalment 1 three days before it
is due (once), instalment 1 is paid by a signed Stripe webhook with no invoice number (cash application's
`payment_plan` rule), so no reminder for it follows; instalment 2 is reminded and then missed past its grace:
the run that breaks the plan opens a `broken_plan` task and sends the two invoices' ladder reminder at once, at
the step the control has reached that same day.

The plan is made on the API's real clock (its first instalment may not be in the past), only
`POST /dunning/runs` takes a simulated `as_of`. So D is chosen from today: the first day at least 10 days ahead
on which every run day below is a German business day (it is a Friday: D + 3 and D + 17 are Mondays, D + 12 a
Wednesday). Whatever day the test runs, each run then sends the same mails. The stack is this module's own, so
the outbox counts are exact.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
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

PLAN_CUSTOMER, CONTROL_CUSTOMER = "pp-plan", "pp-control"
PLAN_OLD, PLAN_NEW, CONTROL = "PP-PLAN-OLD", "PP-PLAN-NEW", "PP-CONTROL"
# The instalments, in days from D, and the grace after each (the plan breaks on due + GRACE_DAYS + 1).
INSTALMENT_OFFSETS = (3, 15, 45)
INSTALMENT = "300.00"
GRACE_DAYS = 5
# The run days, in days from D: the ladder's upcoming (-7), due_today (0) and overdue_7 (+7) for the control;
# instalment 1 "before" (0, its due date 3); instalment 2 "before" (12), "overdue" (17) and missed (21, which is
# also the ladder's overdue_21).
UPCOMING, DUE, I1_DUE, OVERDUE_7, I2_BEFORE, I2_OVERDUE, I2_MISSED = -7, 0, 3, 7, 12, 17, 21
RUN_OFFSETS = (UPCOMING, DUE, I1_DUE, OVERDUE_7, I2_BEFORE, I2_OVERDUE, I2_MISSED)

stack = module_stack("payment-plan-home")


def invoices(due: date) -> list[tuple[str, str, date, str]]:
    """(number, customer, due date, total) of the three invoices."""
    return [(PLAN_OLD, PLAN_CUSTOMER, due - timedelta(days=7), "600.00"),
            (PLAN_NEW, PLAN_CUSTOMER, due, "300.00"),
            (CONTROL, CONTROL_CUSTOMER, due, "1000.00")]


def medium(day: date) -> str:
    return format_date(day, format="medium", locale="en")


# --- the user's tools (shared ones in user_tools.py) ------------------------------------------------------


def stripe_payment_without_invoice_number(stack: RunningStack, customer_id: str, cents: int) -> None:
    """A card payment as Stripe delivers it, signed: the payer's customer id in the metadata, no invoice number."""
    body = json.dumps({
        "id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": {"id": f"pi_{uuid.uuid4().hex}", "object": "payment_intent", "amount": cents,
                            "amount_received": cents, "currency": "eur", "status": "succeeded",
                            "metadata": {"dunwell_customer_id": customer_id}}}}).encode()
    timestamp = str(int(time.time()))
    secret = stack.info["webhook_secrets"]["stripe"]
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    response = requests.post(f"{stack.api_url}/webhooks/stripe", data=body, timeout=30,
                             headers={"Stripe-Signature": f"t={timestamp},v1={signature}",
                                      "Content-Type": "application/json"})
    assert response.status_code == 200, response.text


def run(stack: RunningStack, outbox: Outbox, day: date, *, ladder: int, plan: int
        ) -> tuple[dict[str, Any], dict[str, Mail]]:
    """`POST /dunning/runs` as of `day`: exactly `ladder` invoice reminder mails and `plan` instalment reminder
    mails (and no SMS), one per recipient at most. Returns the summary and the new mails by customer."""
    summary = run_dunning(stack, day)
    assert summary["plans"]["failed"] == [], summary
    assert summary["sent"] == {"email": ladder, "sms": 0}, (day, summary)
    assert summary["plans"]["sent"] == {"email": plan, "sms": 0}, (day, summary)
    new = outbox.new(mails=ladder + plan)
    mails = {m.to: m for m in new}
    assert len(mails) == len(new), [(m.to, m.subject) for m in new]
    by_customer = {c: mails.pop(mail_of(c)) for c in (PLAN_CUSTOMER, CONTROL_CUSTOMER) if mail_of(c) in mails}
    assert mails == {}, f"{day}: mails to strangers {mails}"
    return summary, by_customer


def invoices_in(mail: Mail) -> set[str]:
    return {n for n in (PLAN_OLD, PLAN_NEW, CONTROL) if n in mail.text}


# --- the plan ---------------------------------------------------------------------------------------------


def test_a_payment_plan_replaces_the_ladder_until_it_breaks(stack: RunningStack) -> None:
    due = first_due_date(datetime.now(UTC).date(), RUN_OFFSETS)
    on = {offset: due + timedelta(days=offset) for offset in RUN_OFFSETS}
    first, second, third = (due + timedelta(days=offset) for offset in INSTALMENT_OFFSETS)
    outbox = Outbox.of(stack)
    assert outbox.counts() == (0, 0)
    collector = collector_key(stack, "pp-collector")

    import_invoices(stack, "incoming/payment-plan.csv", invoices_csv(invoices(due), "GmbH"),
                    (PLAN_OLD, PLAN_NEW, CONTROL))

    # 1. The collector agrees a plan over both invoices (900.00) in three instalments of 300.00.
    made = call(stack, "POST", f"/customers/{PLAN_CUSTOMER}/payment-plans", collector, 201, json={
        "invoice_ids": [PLAN_OLD, PLAN_NEW], "grace_days": GRACE_DAYS, "note": "agreed by phone",
        "instalments": [{"due_date": day.isoformat(), "amount": INSTALMENT} for day in (first, second, third)]})
    plan_id = made["id"]
    assert (made["status"], made["total"], made["outstanding"], made["paid"]) == ("active", "900.00", "900.00",
                                                                                  "0.00"), made
    assert [(i["number"], i["due_date"], i["amount"], i["state"]) for i in made["instalments"]] == [
        (n, day.isoformat(), INSTALMENT, "upcoming") for n, day in enumerate((first, second, third), 1)], made
    for number in (PLAN_OLD, PLAN_NEW):
        planned = call(stack, "GET", f"/invoices/{number}")
        assert (planned["in_payment_plan"], planned["payment_plan_id"]) == (True, plan_id), planned

    # 2. D - 7: the control's friendly reminder; nothing for the plan's invoices (PLAN_OLD is due that day), which
    # are not even read by the sweep; the plan has nothing to say yet.
    summary, mails = run(stack, outbox, on[UPCOMING], ladder=1, plan=0)
    assert summary["reminders"] == {"upcoming": 1} and summary["invoices_considered"] == 1, summary
    assert summary["plans"]["plans_considered"] == 0, summary
    assert set(mails) == {CONTROL_CUSTOMER} and invoices_in(mails[CONTROL_CUSTOMER]) == {CONTROL}

    # 3. D: the control's "due today" reminder; for the plan customer, instead of the ladder, the reminder of
    # instalment 1 (due D + 3).
    summary, mails = run(stack, outbox, on[DUE], ladder=1, plan=1)
    assert summary["reminders"] == {"due_today": 1} and summary["invoices_considered"] == 1, summary
    assert summary["plans"]["reminders"] == {"before": 1}, summary
    assert mails[CONTROL_CUSTOMER].subject == f"Invoice {CONTROL} is due today"
    before = mails[PLAN_CUSTOMER]
    assert before.subject == f"Payment plan: instalment due on {medium(first)}", before.subject
    assert "Instalment 1/3" in before.text and "Instalment amount: €300.00" in before.text, before.text
    assert "Instalment 2/3" not in before.text and "Total due: €300.00" in before.text, before.text
    assert f"Due date: {medium(first)} (due in 3 days)" in before.text, before.text
    # The same day again: each stage is sent once.
    summary, mails = run(stack, outbox, on[DUE], ladder=0, plan=0)
    assert mails == {} and summary["reminders"] == {} and summary["plans"]["reminders"] == {}, summary

    # 4. Instalment 1 is paid by card: no invoice number, exactly the instalment. Cash application puts it on the
    # plan's invoices, oldest due first.
    stripe_payment_without_invoice_number(stack, PLAN_CUSTOMER, 30000)
    [payment] = call(stack, "GET", "/payments", params={"customer_id": PLAN_CUSTOMER})["items"]
    assert (payment["amount"], payment["status"], payment["match"]) == ("300.00", "applied", "payment_plan"), payment
    assert [(a["number"], a["amount"]) for a in payment["allocations"]] == [(PLAN_OLD, "300.00")], payment
    assert f"payment plan {plan_id}: 300.00 EUR is the next instalment" in payment["reason"], payment
    old = call(stack, "GET", f"/invoices/{PLAN_OLD}")
    assert (old["balance"], old["status"], old["in_payment_plan"]) == ("300.00", "partially_paid", True), old
    current = call(stack, "GET", f"/payment-plans/{plan_id}")
    assert (current["status"], current["paid"], current["outstanding"]) == ("active", "300.00", "600.00"), current
    assert [(i["state"], i["paid"], i["remaining"]) for i in current["instalments"]] == [
        ("paid", "300.00", "0.00"), ("upcoming", "0.00", INSTALMENT), ("upcoming", "0.00", INSTALMENT)], current
    assert current["next_instalment"]["number"] == 2, current

    # 5. D + 3, instalment 1's due date: the plan is looked at, but it is paid: no "due today" mail.
    summary, _ = run(stack, outbox, on[I1_DUE], ladder=0, plan=0)
    assert summary["plans"]["plans_considered"] == 1 and summary["plans"]["reminders"] == {}, summary
    assert summary["plans"]["skipped"] == {"instalment_not_due": 1}, summary

    # 6. D + 7: the control's overdue_7 reminder; the plan's invoices (overdue by 7 and 14 days) get none.
    summary, mails = run(stack, outbox, on[OVERDUE_7], ladder=1, plan=0)
    assert summary["reminders"] == {"overdue_7": 1} and summary["invoices_considered"] == 1, summary
    assert mails[CONTROL_CUSTOMER].subject == f"Payment overdue: invoice {CONTROL}"

    # 7. D + 12: instalment 2 is three days away.
    summary, mails = run(stack, outbox, on[I2_BEFORE], ladder=0, plan=1)
    assert summary["plans"]["reminders"] == {"before": 1}, summary
    assert mails[PLAN_CUSTOMER].subject == f"Payment plan: instalment due on {medium(second)}"
    assert "Instalment 2/3" in mails[PLAN_CUSTOMER].text, mails[PLAN_CUSTOMER].text

    # 8. D + 17: instalment 2 is two days overdue and unpaid: pay before the grace runs out (an SMS too, but the
    # customer has no phone).
    summary, mails = run(stack, outbox, on[I2_OVERDUE], ladder=0, plan=1)
    assert summary["plans"]["reminders"] == {"overdue": 1}, summary
    assert summary["plans"]["skipped"] == {"no_sms_contact": 1}, summary
    overdue = mails[PLAN_CUSTOMER]
    assert overdue.subject == "Payment plan: instalment overdue", overdue.subject
    last_day = second + timedelta(days=GRACE_DAYS)
    assert "Instalment 2/3" in overdue.text, overdue.text
    assert f"Please pay the amount due by {format_date(last_day, format='long', locale='en')}." in overdue.text

    # 9. D + 21, past the grace: the plan breaks, a collector task is opened, and in the same run both invoices
    # are back on the ladder, in one mail. No reminder was ever sent about them (the plan came first), so the
    # first word is the neutral statement at the first overdue step, not overdue_21 like the control's.
    summary, mails = run(stack, outbox, on[I2_MISSED], ladder=2, plan=0)
    assert summary["plans"]["broken"] == 1 and summary["plans"]["completed"] == 0, summary
    assert summary["reminders"] == {"overdue_21": 1, "overdue_7": 2}, summary
    assert summary["invoices_considered"] == 3, summary
    assert mails[CONTROL_CUSTOMER].subject == f"Payment overdue: invoice {CONTROL}"
    back = mails[PLAN_CUSTOMER]
    assert back.subject == "Statement: 2 open invoices", back.subject
    assert invoices_in(back) == {PLAN_OLD, PLAN_NEW} and "Instalment" not in back.text, back.text
    assert "Total due: €600.00" in back.text, back.text  # 300.00 left on each
    ended = call(stack, "GET", f"/payment-plans/{plan_id}")
    assert (ended["status"], ended["end_reason"], ended["ended_by"]) == (
        "broken", "instalment 2 missed", "system:plans"), ended
    # (Instalment states are the API's, on the real clock; what was paid is not.)
    assert [(i["paid"], i["remaining"]) for i in ended["instalments"]] == [
        ("300.00", "0.00"), ("0.00", INSTALMENT), ("0.00", INSTALMENT)], ended
    tasks = call(stack, "GET", "/tasks")["items"]
    assert [(t["kind"], t["customer_id"], t["detail"]["plan_id"], t["detail"]["number"]) for t in tasks] == [
        ("broken_plan", PLAN_CUSTOMER, plan_id, 2)], tasks
    for number in (PLAN_OLD, PLAN_NEW):
        released = call(stack, "GET", f"/invoices/{number}")
        assert (released["in_payment_plan"], released["payment_plan_id"]) == (False, None), released
        assert released["reminders_sent"] == ["overdue_7:email"], released
    assert outbox.counts() == (1 + 2 + 1 + 1 + 1 + 2, 0)
