"""decide() with a promise to pay as the sweep sees it (state_of): held through the date and the grace days,
looked at again the day the hold ends, even when no step is pending."""

from dataclasses import replace
from datetime import date, timedelta

from chalicelib.domain.collections import PROMISE_GRACE_DAYS
from chalicelib.domain.dunning.decision import History, decide, history_of, state_of
from chalicelib.domain.dunning.policy import DEFAULT_POLICY
from tests.unit.dunning.factories import customer, invoice, local, money

BERLIN = "Europe/Berlin"
DUE = date(2025, 3, 3)  # steps on 24 Feb, 3 Mar, 10 Mar, 24 Mar, 7 Apr, 22 Apr
SENT = frozenset({"upcoming:email", "due_today:email"})


def promised(until, **kw):
    return replace(invoice(due=DUE), promised_until=until, promised_amount=money("1000.00"),
                   promise_balance=money("1000.00"), reminders_sent=SENT, **kw)


def test_the_promise_holds_through_the_grace_days():
    inv = promised(date(2025, 3, 12))
    last_held = date(2025, 3, 12) + timedelta(days=PROMISE_GRACE_DAYS)
    held = decide(state_of(inv), customer(), DEFAULT_POLICY, history_of(inv), local(BERLIN, 2025, 3, 15, 10, 0))
    assert (held.action, held.reason) == ("skip", "promised")
    assert held.next_action_at == local(BERLIN, 2025, 3, 17, 9, 0)  # 16 March is a Sunday
    assert last_held == date(2025, 3, 15)
    after = decide(state_of(inv), customer(), DEFAULT_POLICY, history_of(inv), local(BERLIN, 2025, 3, 17, 9, 0))
    assert (after.action, after.step.name) == ("send", "overdue_7")


def test_the_sweep_looks_again_when_the_hold_ends_even_with_the_ladder_done():
    done = frozenset(f"{s.name}:email" for s in DEFAULT_POLICY.steps)
    inv = replace(promised(date(2025, 5, 5)), reminders_sent=done)
    held = decide(state_of(inv), customer(), DEFAULT_POLICY, history_of(inv), local(BERLIN, 2025, 5, 1, 10, 0))
    assert held.reason == "promised"
    assert held.next_action_at == local(BERLIN, 2025, 5, 9, 9, 0)  # settled then (kept or broken)


def test_a_deduction_is_no_hold_but_a_whole_deduction_is():
    part = replace(invoice(due=DUE), disputed_amount=money("300.00"), dispute_id="dsp_1")
    now = local(BERLIN, 2025, 3, 10, 10, 0)
    chased = decide(state_of(part), customer(), DEFAULT_POLICY, History(), now)
    assert chased.action == "send"
    whole = replace(part, disputed_amount=money("1000.00"))
    assert decide(state_of(whole), customer(), DEFAULT_POLICY, History(), now).reason == "disputed"
