"""decide(): holds, windows, business days and holidays, timezones, catch-up, once-only, next action date."""

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.dunning.decision import History, InvoiceState, decide
from chalicelib.domain.dunning.policy import DEFAULT_POLICY, default_policy
from chalicelib.domain.terms import PaymentTerms
from tests.unit.dunning.factories import customer, invoice, local, money

BERLIN = "Europe/Berlin"
DUE = date(2025, 3, 3)  # a Monday; steps fall on 24 Feb, 3 Mar, 10 Mar, 24 Mar, 7 Apr, 22 Apr


def sent(*steps, channels=("email",)):
    return frozenset((s, c) for s in steps for c in channels)


def run(now, *, inv=None, cust=None, history=None, policy=DEFAULT_POLICY, **kw):
    state = kw.pop("state", None) or InvoiceState(inv or invoice(due=DUE))
    return decide(state, cust or customer(), policy, history or History(), now, **kw)


def test_sends_the_step_due_today_inside_the_window():
    decision = run(local(BERLIN, 2025, 3, 10, 10, 0), history=History(sent=sent("upcoming", "due_today")))
    assert (decision.action, decision.reason, decision.step.name) == ("send", "step_due", "overdue_7")
    assert decision.channels == ("email", "sms")
    assert decision.skipped_steps == ()
    assert decision.next_action_at == local(BERLIN, 2025, 3, 24, 9, 0)  # overdue_21's first window


@pytest.mark.parametrize(("state_changes", "kwargs", "reason"), [
    ({"invoice": replace(invoice(due=DUE), applied_payments=money("1000.00"))}, {}, "paid"),
    ({"invoice": replace(invoice(due=DUE), disputed=True)}, {}, "disputed"),
    ({"invoice": replace(invoice(due=DUE), void=True)}, {}, "void"),
    ({"invoice": replace(invoice(due=DUE), written_off=money("1000.00"))}, {}, "written_off"),
    ({"in_plan": True}, {}, "in_payment_plan"),
    ({"promised_until": date(2025, 3, 12)}, {}, "promised"),
    ({}, {"customer_paused": True}, "customer_paused"),
    ({}, {"kill_switch": True}, "kill_switch"),
])
def test_holds_skip_with_their_reason(state_changes, kwargs, reason):
    state = replace(InvoiceState(invoice(due=DUE)), **state_changes)
    decision = run(local(BERLIN, 2025, 3, 10, 10, 0), state=state, **kwargs)
    assert (decision.action, decision.reason, decision.channels) == ("skip", reason, ())


def test_promise_holds_through_its_date_then_resumes():
    state = InvoiceState(invoice(due=DUE), promised_until=date(2025, 3, 12))
    held = run(local(BERLIN, 2025, 3, 12, 16, 0), state=state, history=History(sent=sent("upcoming", "due_today")))
    assert held.reason == "promised"
    assert held.next_action_at == local(BERLIN, 2025, 3, 13, 9, 0)
    resumed = run(local(BERLIN, 2025, 3, 13, 9, 0), state=state, history=History(sent=sent("upcoming", "due_today")))
    assert (resumed.action, resumed.step.name) == ("send", "overdue_7")


def test_kill_switch_keeps_the_schedule_for_the_index():
    decision = run(local(BERLIN, 2025, 3, 10, 7, 0), kill_switch=True, history=History(sent=sent("upcoming",
                                                                                                   "due_today")))
    assert decision.next_action_at == local(BERLIN, 2025, 3, 10, 9, 0)


@pytest.mark.parametrize(("hour", "reason", "next_at"), [
    (8, "before_send_window", (2025, 3, 10, 9, 0)),
    (17, "after_send_window", (2025, 3, 11, 9, 0)),
    (23, "after_send_window", (2025, 3, 11, 9, 0)),
])
def test_never_outside_the_window(hour, reason, next_at):
    decision = run(local(BERLIN, 2025, 3, 10, hour, 0), history=History(sent=sent("upcoming", "due_today")))
    assert (decision.action, decision.reason, decision.step.name) == ("wait", reason, "overdue_7")
    assert decision.next_action_at == local(BERLIN, *next_at)


def test_weekend_step_goes_on_monday():
    inv = invoice(due=date(2025, 9, 27))  # overdue_7 falls on Saturday 4 Oct 2025
    history = History(sent=sent("upcoming", "due_today"))
    saturday = run(local(BERLIN, 2025, 10, 4, 10, 0), inv=inv, history=history)
    assert (saturday.action, saturday.reason) == ("wait", "weekend")
    assert saturday.next_action_at == local(BERLIN, 2025, 10, 6, 9, 0)
    monday = run(local(BERLIN, 2025, 10, 6, 9, 0), inv=inv, history=history)
    assert (monday.action, monday.step.name) == ("send", "overdue_7")


@pytest.mark.parametrize(("tz", "country", "due", "holiday", "next_day"), [
    ("Europe/Berlin", "DE", date(2025, 9, 26), date(2025, 10, 3), date(2025, 10, 6)),  # Tag der Deutschen Einheit
    ("Europe/London", "GB", date(2025, 12, 19), date(2025, 12, 26), date(2025, 12, 29)),  # Boxing Day
])
def test_holiday_step_goes_on_the_next_business_day(tz, country, due, holiday, next_day):
    cust = customer(timezone=tz, country=country)
    history = History(sent=sent("upcoming", "due_today"))
    on_holiday = run(local(tz, holiday.year, holiday.month, holiday.day, 10, 0), inv=invoice(due=due), cust=cust,
                     history=history)
    assert (on_holiday.action, on_holiday.reason) == ("wait", "holiday")
    assert on_holiday.next_action_at == local(tz, next_day.year, next_day.month, next_day.day, 9, 0)


def test_other_countries_holidays_do_not_block():
    cust = customer(timezone="Europe/London", country="GB")
    decision = run(local("Europe/London", 2025, 10, 3, 10, 0), inv=invoice(due=date(2025, 9, 26)), cust=cust,
                   history=History(sent=sent("upcoming", "due_today")))
    assert decision.action == "send"


def test_timezone_decides_the_local_date_and_hour():
    now = datetime(2025, 1, 6, 20, 0, tzinfo=UTC)  # Tue 7 Jan 09:00 in Auckland, Mon 6 Jan 12:00 in Los Angeles
    inv = invoice(due=date(2025, 1, 7), issue=date(2024, 12, 1))
    history = History(sent=sent("upcoming"))
    auckland = run(now, inv=inv, cust=customer(timezone="Pacific/Auckland", country="NZ"), history=history)
    assert (auckland.action, auckland.step.name) == ("send", "due_today")
    los_angeles = run(now, inv=inv, cust=customer(timezone="America/Los_Angeles", country="US"), history=history)
    assert (los_angeles.action, los_angeles.reason) == ("wait", "no_step_due")
    assert los_angeles.next_action_at == datetime(2025, 1, 7, 17, 0, tzinfo=UTC)  # 09:00 PST


def test_catch_up_after_30_missed_days_moves_one_step_then_waits_the_gap():
    decision = run(local(BERLIN, 2025, 4, 2, 10, 0), history=History(sent=sent("upcoming")))
    assert (decision.action, decision.reason, decision.step.name) == ("send", "catch_up", "overdue_7")
    assert decision.skipped_steps == (("due_today", "superseded"),)  # stale: the invoice is past due
    assert decision.next_action_at == local(BERLIN, 2025, 4, 9, 9, 0)  # overdue_21, a week after this notice
    history = History(sent=sent("upcoming", "overdue_7"), last_notice_on=date(2025, 4, 2))
    again = run(local(BERLIN, 2025, 4, 3, 10, 0), history=history)
    assert (again.action, again.reason, again.skipped_steps) == ("wait", "notice_gap", ())
    assert again.next_action_at == local(BERLIN, 2025, 4, 9, 9, 0)
    week_later = run(local(BERLIN, 2025, 4, 9, 10, 0), history=history)
    assert (week_later.action, week_later.step.name) == ("send", "overdue_21")


def test_never_the_same_step_twice_and_never_backwards():
    history = History(sent=sent("upcoming", "due_today", "overdue_21") | sent("overdue_7", channels=("email", "sms")))
    for day in range(25, 32):
        assert run(local(BERLIN, 2025, 3, day, 10, 0), history=history).action == "wait"
    # The due date moves later (an amendment): the ladder still never goes back below what was sent.
    later = invoice(due=date(2025, 3, 20))
    assert run(local(BERLIN, 2025, 3, 31, 10, 0), inv=later, history=history).action == "wait"


def test_partial_payment_does_not_reset_the_ladder():
    part_paid = replace(invoice(due=DUE), applied_payments=money("400.00"))
    history = History(sent=sent("upcoming", "due_today"))
    decision = run(local(BERLIN, 2025, 3, 10, 10, 0), inv=part_paid, history=history)
    assert (decision.action, decision.step.name) == ("send", "overdue_7")
    done = History(sent=history.sent | sent("overdue_7", channels=("email", "sms")))
    assert run(local(BERLIN, 2025, 3, 11, 10, 0), inv=part_paid, history=done).action == "wait"


def test_interrupted_send_finishes_only_the_missing_channel():
    history = History(sent=sent("upcoming", "due_today", "overdue_7"))
    decision = run(local(BERLIN, 2025, 3, 11, 10, 0), history=history)
    assert (decision.action, decision.reason, decision.channels) == ("send", "remaining_channels", ("sms",))


def test_one_message_a_day_per_customer():
    decision = run(local(BERLIN, 2025, 3, 10, 11, 0),
                   history=History(sent=sent("upcoming", "due_today"), customer_last_sent_on=date(2025, 3, 10)))
    assert (decision.action, decision.reason) == ("wait", "customer_contacted_today")
    assert decision.next_action_at == local(BERLIN, 2025, 3, 11, 9, 0)


def test_unreachable_channels_are_reported_and_not_waited_for():
    cust = customer(phone=False)
    decision = run(local(BERLIN, 2025, 3, 10, 10, 0), cust=cust, history=History(sent=sent("upcoming", "due_today")))
    assert (decision.channels, decision.unreachable_channels) == (("email",), ("sms",))
    after = run(local(BERLIN, 2025, 3, 11, 10, 0), cust=cust, history=History(sent=sent("upcoming", "due_today",
                                                                                          "overdue_7")))
    assert after.action == "wait"
    nobody = run(local(BERLIN, 2025, 3, 10, 10, 0), cust=customer(email=False, phone=False))
    assert (nobody.action, nobody.reason) == ("skip", "no_contact")


def test_a_late_ladder_reaches_the_final_notice_then_escalates_a_gap_later():
    policy = default_policy("eu_2011_7")
    before = sent("upcoming", "due_today", "overdue_21") | sent("overdue_7", channels=("email", "sms"))
    decision = run(local(BERLIN, 2025, 4, 22, 10, 0), policy=policy, history=History(sent=before))
    assert (decision.step.name, decision.reason, decision.skipped_steps) == ("final_notice", "step_due", ())
    assert {c.kind for c in decision.charges} == {"compensation", "interest"}
    assert decision.actions == ()
    assert decision.next_action_at == local(BERLIN, 2025, 4, 29, 9, 0)
    after_final = History(sent=before | sent("final_notice"), last_notice_on=date(2025, 4, 22))
    assert run(local(BERLIN, 2025, 4, 25, 10, 0), policy=policy, history=after_final).reason == "notice_gap"
    escalation = run(local(BERLIN, 2025, 4, 29, 10, 0), policy=policy, history=after_final)
    assert (escalation.step.name, escalation.reason) == ("escalation", "step_due")
    assert escalation.actions == ("credit_hold", "collector_task", "notify_finance")
    assert escalation.next_action_at is None
    done = History(sent=sent("upcoming", "due_today", "overdue_21", "final_notice", "escalation")
                   | sent("overdue_7", channels=("email", "sms")))
    assert run(local(BERLIN, 2025, 6, 2, 10, 0), history=done).reason == "ladder_complete"


def test_pre_due_reminder_shows_the_early_payment_discount():
    inv = invoice(total="1000.00", issue=date(2025, 2, 21), due=date(2025, 3, 23))
    now = local(BERLIN, 2025, 3, 17, 10, 0)  # upcoming fell on Sunday 16 Mar
    decision = run(now, inv=inv, cust=customer(payment_terms=PaymentTerms.parse("2/28 net 30")))
    assert decision.step.name == "upcoming"
    assert decision.discount is not None
    assert (decision.discount.amount, decision.discount.last_day) == (money("20.00"), date(2025, 3, 21))
    expired = run(now, inv=inv, cust=customer(payment_terms=PaymentTerms.parse("2/10 net 30")))
    assert expired.step.name == "upcoming" and expired.discount is None


def test_unknown_timezone_falls_back_with_a_warning():
    # Customers are validated on the way in; a zone can still vanish from a later tzdata release.
    stale = customer(timezone="UTC", country=None)
    object.__setattr__(stale, "timezone", "Mars/Base")
    decision = run(datetime(2025, 3, 10, 10, 0, tzinfo=UTC), cust=stale,
                   history=History(sent=sent("upcoming", "due_today")))
    assert decision.action == "send"
    assert any("Mars/Base" in w for w in decision.warnings)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="aware"):
        run(datetime(2025, 3, 10, 10, 0))


# ---- the letter channel ----------------------------------------------------------------------------------------

def _letter_policy():
    from chalicelib.domain.dunning.policy import Policy, Step

    return Policy("paper", "With a letter", (
        Step("overdue_7", 7, ("email",), "reminder_overdue", "firm"),
        Step("overdue_21", 21, ("email", "letter"), "reminder_overdue_second", "firm")))


def test_a_letter_step_sends_a_letter_to_a_customer_with_a_postal_address():
    from chalicelib.domain.customer import Address

    with_address = customer(address=Address("Hauptstraße 1", None, "10115", "Berlin", None, "DE"))
    decision = run(local(BERLIN, 2025, 3, 24, 10, 0), cust=with_address, policy=_letter_policy(),
                   history=History(sent=sent("overdue_7")))
    assert (decision.action, decision.step.name, decision.channels) == ("send", "overdue_21", ("email", "letter"))
    again = run(local(BERLIN, 2025, 3, 24, 10, 0), cust=with_address, policy=_letter_policy(),
                history=History(sent=sent("overdue_7") | sent("overdue_21", channels=("email", "letter"))))
    assert again.action != "send"  # once per step and channel


def test_without_an_address_a_letter_step_sends_its_other_channels_and_nothing_falls_back_to_paper():
    decision = run(local(BERLIN, 2025, 3, 24, 10, 0), policy=_letter_policy(), history=History(sent=sent("overdue_7")))
    assert decision.channels == ("email",) and decision.unreachable_channels == ("letter",)
    from chalicelib.domain.customer import Address

    no_email = customer(email=False, phone=False, address=Address("Hauptstraße 1", None, "10115", "Berlin", None, "DE"))
    only_email = run(local(BERLIN, 2025, 3, 10, 10, 0), cust=no_email, policy=_letter_policy())
    assert (only_email.action, only_email.reason) == ("skip", "no_contact")  # email unreachable: no letter instead
