"""Payment plans in the domain (pure): making one, payments covering instalments in order, credits shortening the
schedule from the end, the reminder stages and when a plan completes or breaks."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidMoney, NotAllowed
from chalicelib.domain.invoice import Document, DocumentKind, Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.plans import (
    DEFAULT_GRACE_DAYS,
    InstalmentState,
    PaymentPlan,
    PlanAction,
    PlanStatus,
    add_months,
    create_plan,
    decide_plan,
    equal_instalments,
    progress,
    released,
    schedule,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TODAY = NOW.date()


def eur(value: str) -> Money:
    return Money.of(value, "EUR")


def invoice(number: str, total: str, customer: str = "acme", currency: str = "EUR", **kw: object) -> Invoice:
    document = Document(kind=DocumentKind.INVOICE, number=number, customer_id=customer, issue_date=date(2026, 11, 1),
                        due_date=date(2026, 12, 1), total=Money.of(total, currency),
                        paid_in_source=Money.zero(currency))
    return replace(Invoice.from_document(document), version=2, **kw)  # type: ignore[arg-type]


def plan_of(invoices: list[Invoice], rows: list[tuple[str, str]], grace: int = DEFAULT_GRACE_DAYS
            ) -> tuple[PaymentPlan, list[Invoice]]:
    instalments = schedule([(date.fromisoformat(d), eur(a)) for d, a in rows])
    return create_plan("pln_1", "acme", invoices, instalments, grace, None, "key:collector", NOW, TODAY)


THREE = [("2026-12-15", "300.00"), ("2027-01-15", "300.00"), ("2027-02-15", "300.00")]


def test_making_a_plan_takes_the_invoices_off_the_ladder_and_replaces_a_promise() -> None:
    promised = invoice("P-1", "600.00").with_promise(date(2026, 11, 30), eur("100.00"))
    promised = replace(promised, next_action_at=NOW)
    plan, planned = plan_of([promised, invoice("P-2", "300.00")], THREE)
    assert plan.total == eur("900.00") and plan.status is PlanStatus.ACTIVE
    assert all(i.in_plan and i.plan_id == "pln_1" and i.next_action_at is None for i in planned)
    assert planned[0].promised_until is None and planned[0].promised_amount is None
    assert [i.balance for i in plan.invoices] == [eur("600.00"), eur("300.00")]


@pytest.mark.parametrize(("invoices", "rows", "words"), [
    ([invoice("P-1", "600.00")], [("2026-12-15", "500.00")], "sum to 500.00 EUR; the invoices' open balance is 600"),
    ([invoice("P-1", "600.00")], [("2026-11-19", "600.00")], "in the past"),
    ([invoice("P-1", "600.00")], [("2026-12-15", "300.00"), ("2026-12-15", "300.00")], "same day"),
    ([invoice("P-1", "600.00")], [("2026-12-15", "700.00"), ("2027-01-15", "-100.00")], "more than zero"),
    ([invoice("P-1", "600.00")], [("2030-12-15", "600.00")], "days ahead"),
    ([invoice("P-1", "600.00"), invoice("P-2", "1.00", currency="USD")], [("2026-12-15", "601.00")],
     "one currency"),
    ([invoice("P-1", "600.00", customer="bolt")], [("2026-12-15", "600.00")], "another customer"),
    ([invoice("P-1", "600.00", applied_payments=eur("600.00"))], [("2026-12-15", "600.00")], "nothing is open"),
    ([invoice("P-1", "600.00", disputed=True)], [("2026-12-15", "600.00")], "open dispute"),
    ([invoice("P-1", "600.00", in_plan=True, plan_id="pln_0")], [("2026-12-15", "600.00")], "pln_0 already"),
    ([invoice("P-1", "600.00"), invoice("P-1", "600.00")], [("2026-12-15", "1200.00")], "listed twice"),
])
def test_a_plan_that_does_not_hold_together_is_refused(invoices: list[Invoice], rows: list[tuple[str, str]],
                                                       words: str) -> None:
    with pytest.raises((NotAllowed, InvalidMoney)) as refused:
        plan_of(invoices, rows)
    assert words in str(refused.value)


def test_equal_instalments_put_the_odd_cents_first_and_keep_the_day_of_the_month() -> None:
    rows = equal_instalments(eur("100.00"), 3, date(2027, 1, 31))
    assert [(r.due_date, r.amount) for r in rows] == [
        (date(2027, 1, 31), eur("33.34")), (date(2027, 2, 28), eur("33.33")), (date(2027, 3, 31), eur("33.33"))]
    assert add_months(date(2027, 12, 15), 2) == date(2028, 2, 15)
    with pytest.raises(InvalidMoney):
        equal_instalments(eur("0.02"), 3, date(2027, 1, 1))


@given(minor=st.integers(min_value=1, max_value=10**12), count=st.integers(min_value=1, max_value=36))
def test_equal_instalments_always_sum_to_the_total_and_differ_by_at_most_a_minor_unit(minor: int, count: int) -> None:
    total = Money.from_minor(minor, "EUR")
    if minor < count:
        with pytest.raises(InvalidMoney):
            equal_instalments(total, count, date(2027, 1, 31))
        return
    rows = equal_instalments(total, count, date(2027, 1, 31))
    amounts = [r.amount.minor for r in rows]
    assert sum(amounts) == minor and max(amounts) - min(amounts) <= 1 and amounts == sorted(amounts, reverse=True)
    assert [r.due_date for r in rows] == sorted({r.due_date for r in rows})


def test_payments_cover_instalments_in_order_and_an_early_surplus_covers_the_next() -> None:
    plan, planned = plan_of([invoice("P-1", "600.00"), invoice("P-2", "300.00")], THREE)
    p1, _left = planned[0].with_payment(eur("450.00"))
    state = progress(plan, {"P-1": p1, "P-2": planned[1]}, date(2026, 12, 20))
    assert [(r.covered, r.state) for r in state.instalments] == [
        (eur("300.00"), InstalmentState.PAID), (eur("150.00"), InstalmentState.UPCOMING),
        (eur("0.00"), InstalmentState.UPCOMING)]
    assert state.paid == eur("450.00") and state.outstanding == eur("450.00") and not state.settled
    assert state.next_unpaid is not None and state.next_unpaid.remaining == eur("150.00")


def test_credits_and_write_offs_shorten_the_schedule_from_the_end() -> None:
    plan, planned = plan_of([invoice("P-1", "900.00")], THREE)
    credited, _ = planned[0].with_credit(eur("400.00"))
    state = progress(plan, {"P-1": credited}, date(2026, 12, 1))
    assert [r.amount for r in state.instalments] == [eur("300.00"), eur("200.00"), eur("0.00")]
    assert state.instalments[2].state is InstalmentState.PAID  # nothing left to pay on it
    assert state.reduced == eur("400.00") and state.paid == eur("0.00")


def test_a_void_invoice_is_no_longer_owed() -> None:
    plan, planned = plan_of([invoice("P-1", "600.00"), invoice("P-2", "300.00")], THREE)
    state = progress(plan, {"P-1": planned[0], "P-2": replace(planned[1], void=True)}, date(2026, 12, 1))
    assert state.reduced == eur("300.00") and state.instalments[2].amount == eur("0.00")


@given(paid=st.integers(min_value=0, max_value=90_000), credited=st.integers(min_value=0, max_value=90_000))
def test_progress_never_covers_more_than_was_paid_nor_asks_for_more_than_is_owed(paid: int, credited: int) -> None:
    plan, planned = plan_of([invoice("P-1", "900.00")], THREE)
    current = planned[0]
    credited_money = min(Money.from_minor(credited, "EUR"), current.balance)
    current, _ = current.with_credit(credited_money)
    current, _ = current.with_payment(Money.from_minor(paid, "EUR"))
    state = progress(plan, {"P-1": current}, date(2027, 3, 1))
    covered = sum((r.covered for r in state.instalments), eur("0"))
    remaining = sum((r.remaining for r in state.instalments), eur("0"))
    assert covered == state.paid  # every cent paid is on an instalment, never more
    assert remaining == current.balance  # what the schedule still asks for is exactly what is owed
    assert all(not r.remaining.is_negative and not r.amount.is_negative for r in state.instalments)
    # In order: after the first instalment not fully paid, none is paid (nor partly).
    open_from = next((n for n, r in enumerate(state.instalments) if not r.remaining.is_zero), 3)
    assert all(r.covered.is_zero for r in state.instalments[open_from + 1:])


@pytest.mark.parametrize(("today", "action", "stage", "next_check"), [
    ("2026-11-20", PlanAction.WAIT, None, "2026-12-12"),
    ("2026-12-12", PlanAction.REMIND, "before", "2026-12-15"),
    ("2026-12-15", PlanAction.REMIND, "due", "2026-12-17"),
    ("2026-12-16", PlanAction.REMIND, "due", "2026-12-17"),  # a late sweep still sends the stage reached
    ("2026-12-17", PlanAction.REMIND, "overdue", "2026-12-21"),
    ("2026-12-20", PlanAction.REMIND, "overdue", "2026-12-21"),  # last day of the grace
    ("2026-12-21", PlanAction.BREAK, None, None),
])
def test_the_stages_of_an_instalment(today: str, action: PlanAction, stage: str | None, next_check: str | None) -> None:
    plan, planned = plan_of([invoice("P-1", "900.00")], THREE)
    day = date.fromisoformat(today)
    decision = decide_plan(plan, progress(plan, {"P-1": planned[0]}, day), day)
    assert (decision.action, decision.stage) == (action, stage)
    assert decision.next_check == (date.fromisoformat(next_check) if next_check else None)


def test_a_stage_is_reminded_once_and_catch_up_sends_only_the_latest() -> None:
    plan, planned = plan_of([invoice("P-1", "900.00")], THREE)
    reminded = replace(plan, reminders_sent=frozenset({"1:overdue:email"}))
    day = date(2026, 12, 18)
    decision = decide_plan(reminded, progress(reminded, {"P-1": planned[0]}, day), day)
    assert (decision.action, decision.reason, decision.next_check) == (PlanAction.WAIT, "reminded", date(2026, 12, 21))


def test_a_plan_completes_when_its_invoices_are_settled_even_before_the_last_instalment() -> None:
    plan, planned = plan_of([invoice("P-1", "900.00")], THREE)
    paid, _ = planned[0].with_payment(eur("900.00"))
    day = date(2026, 12, 1)
    assert decide_plan(plan, progress(plan, {"P-1": paid}, day), day).action is PlanAction.COMPLETE


def test_an_ended_plan_releases_its_invoices_to_the_ladder_at_once() -> None:
    plan, planned = plan_of([invoice("P-1", "900.00")], THREE)
    later = NOW + timedelta(days=30)
    back = released(planned[0], plan.plan_id, later)
    assert (back.in_plan, back.plan_id, back.next_action_at) == (False, None, later)
    assert released(planned[0], "pln_other", later) is planned[0]  # another plan's invoice is left alone
    ended = plan.ended(PlanStatus.BROKEN, "system:plans", "instalment 1 missed", later)
    assert (ended.status, ended.next_action_at, ended.ended_at) == (PlanStatus.BROKEN, None, later)
    with pytest.raises(NotAllowed):
        ended.ended(PlanStatus.CANCELLED, "key:c", "again", later)


def test_an_invoice_in_a_plan_takes_no_separate_promise() -> None:
    _plan, planned = plan_of([invoice("P-1", "900.00")], THREE)
    with pytest.raises(NotAllowed, match="in payment plan pln_1"):
        planned[0].with_promise(date(2026, 12, 1), eur("100.00"))
