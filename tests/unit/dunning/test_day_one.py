"""Day one: a ledger imported overdue is never told "despite our reminders". decide() on invoices first seen
already past due, walked week by week as the sweep would record each send."""

from dataclasses import replace
from datetime import date, timedelta

import pytest

from chalicelib.domain.dunning.decision import History, InvoiceState, decide
from chalicelib.domain.dunning.policy import DEFAULT_POLICY, FeeRule, Policy, Step, default_policy
from tests.unit.dunning.factories import customer, invoice, local

BERLIN = "Europe/Berlin"
GO_LIVE = date(2025, 9, 2)  # a Tuesday; no public holiday in DE on the ten Tuesdays from here


def walk(days_overdue, *, weeks=8, policy=DEFAULT_POLICY, max_catch_up_days=365, released=False):
    """Weekly runs from go-live; each send is recorded as the service records it. Returns (day, step, reason)."""
    inv = invoice(due=GO_LIVE - timedelta(days=days_overdue), first_seen_on=GO_LIVE, review_released=released)
    sent: frozenset[tuple[str, str]] = frozenset()
    last = None
    out = []
    for week in range(weeks):
        day = GO_LIVE + timedelta(weeks=week)
        decision = decide(InvoiceState(inv), customer(), policy, History(sent=sent, last_notice_on=last),
                          local(BERLIN, day.year, day.month, day.day, 10, 0), max_catch_up_days=max_catch_up_days)
        if decision.action == "send":
            sent |= {(decision.step.name, c) for c in decision.channels}
            last = day
            out.append((week, decision.step.name, "first" if decision.first_contact else decision.reason,
                        decision.actions))
        elif decision.reason not in ("notice_gap", "no_step_due", "ladder_complete"):
            out.append((week, None, decision.reason, ()))
            if decision.next_action_at is None:
                break  # out of the sweep's index until a person acts
    return out


ESCALATE = ("credit_hold", "collector_task", "notify_finance")


@pytest.mark.parametrize(("days_overdue", "expected"), [
    # 10 days overdue: the ladder's own dates (day 21, 35, 50) come after the weekly gap.
    (10, [(0, "overdue_7", "first", ()), (2, "overdue_21", "step_due", ()), (4, "final_notice", "step_due", ()),
          (6, "escalation", "step_due", ESCALATE)]),
    (40, [(0, "overdue_7", "first", ()), (1, "overdue_21", "step_due", ()), (2, "final_notice", "step_due", ()),
          (3, "escalation", "step_due", ESCALATE)]),
    (75, [(0, "overdue_7", "first", ()), (1, "overdue_21", "step_due", ()), (2, "final_notice", "step_due", ()),
          (3, "escalation", "step_due", ESCALATE)]),
    (120, [(0, "overdue_7", "first", ()), (1, "overdue_21", "step_due", ()), (2, "final_notice", "step_due", ()),
           (3, "escalation", "step_due", ESCALATE)]),
    (400, [(0, None, "needs_review", ())]),
    (3300, [(0, None, "needs_review", ())]),
])
def test_an_imported_ledger_starts_with_a_neutral_notice_and_climbs_one_step_a_week(days_overdue, expected):
    assert walk(days_overdue) == expected


def test_no_final_notice_or_escalation_comes_before_two_real_notices_and_a_week():
    for days in range(0, 366, 5):
        notices = 0
        for week, step, _reason, actions in walk(days, weeks=10):
            if step in ("final_notice", "escalation") or actions:
                assert notices >= 2, (days, week, step)
            if step is not None:
                notices += 1


def test_a_released_old_invoice_is_chased_from_the_neutral_notice():
    assert walk(3300, weeks=2, released=True) == [(0, "overdue_7", "first", ()), (1, "overdue_21", "step_due", ())]


def test_the_review_threshold_is_a_setting_and_measured_from_first_sight():
    assert walk(400, weeks=1, max_catch_up_days=500)[0][1] == "overdue_7"
    # Imported when 30 days overdue: a year of pauses later it is still no "old debt" to review.
    inv = invoice(due=GO_LIVE - timedelta(days=30), first_seen_on=GO_LIVE)
    later = GO_LIVE + timedelta(days=400)
    decision = decide(InvoiceState(inv), customer(), DEFAULT_POLICY, History(),
                      local(BERLIN, later.year, later.month, later.day, 10, 0), max_catch_up_days=365)
    assert (decision.action, decision.first_contact) == ("send", True)


def test_an_invoice_seen_before_it_was_due_gets_the_ordinary_ladder():
    inv = invoice(due=GO_LIVE + timedelta(days=3), first_seen_on=GO_LIVE)
    decision = decide(InvoiceState(inv), customer(), DEFAULT_POLICY, History(), local(BERLIN, 2025, 9, 2, 10, 0))
    assert (decision.step.name, decision.first_contact, decision.reason) == ("upcoming", False, "step_due")


def test_a_ladder_without_a_neutral_overdue_step_asks_for_a_person():
    harsh = Policy("harsh", "Harsh", (Step("due", 0, ("email",), "t", "friendly"),
                                      Step("final", 10, ("email",), "t", "final")))
    assert walk(30, weeks=1, policy=harsh) == [(0, None, "too_few_notices", ())]
    # One neutral notice, then a final notice that would need two: a person decides.
    thin = Policy("thin", "Thin", (Step("late", 5, ("email",), "t", "firm"),
                                   Step("final", 20, ("email",), "t", "final")))
    assert walk(30, weeks=3, policy=thin) == [(0, "late", "first", ()), (1, None, "too_few_notices", ())]


def test_statutory_charges_still_accrue_but_only_with_a_step_that_charges():
    policy = default_policy("eu_2011_7")
    inv = invoice(due=GO_LIVE - timedelta(days=75), first_seen_on=GO_LIVE)
    first = decide(InvoiceState(inv), customer(), policy, History(), local(BERLIN, 2025, 9, 2, 10, 0))
    assert (first.step.name, first.charges, first.actions) == ("overdue_7", (), ())
    charging = replace(policy, steps=tuple(
        replace(s, fee=FeeRule(compensation=True, interest=True)) if s.name == "overdue_7" else s
        for s in policy.steps))
    first = decide(InvoiceState(inv), customer(), charging, History(), local(BERLIN, 2025, 9, 2, 10, 0))
    assert {c.kind for c in first.charges} == {"compensation", "interest"}  # the law's, not "we told you"
