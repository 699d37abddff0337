"""The point-in-time ledger, aging and the CRF metrics, by hand-computed examples and by properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.analytics.aging import BUCKETS, aging, bucket_of
from chalicelib.domain.analytics.ledger import (
    CHARGED,
    COLLECTED,
    DEDUCTIONS,
    ON_TIME_COUNT,
    PROMISES_BROKEN,
    PROMISES_KEPT,
    SALES,
    SETTLED_AMOUNT_DAYS,
    SETTLED_COUNT,
    Aggregates,
    Totals,
    baseline_states,
    collapsed,
    movements,
    parse_key,
    period_end,
    period_keys,
    prefix_keys,
    summed,
)
from chalicelib.domain.analytics.metrics import countback_dso, metrics, needed_days, period_figures
from chalicelib.domain.invoice import Invoice, LedgerCharge
from chalicelib.domain.money import Money


def eur(minor: int) -> Money:
    return Money.from_minor(minor, "EUR")


def invoice(number: str = "1", total: int = 100_00, issued: date = date(2025, 1, 10), due: date = date(2025, 2, 9),
            customer: str = "acme", version: int = 1, **kw: object) -> Invoice:
    zero = eur(0)
    fields: dict[str, object] = dict(invoice_id=f"inv-{number}", number=number, customer_id=customer,
                                     issue_date=issued, due_date=due, total=eur(total), paid_in_source=zero,
                                     applied_payments=zero, credited=zero, written_off=zero, version=version)
    fields.update(kw)
    return Invoice(**fields)  # type: ignore[arg-type]


def paid(inv: Invoice, minor: int) -> Invoice:
    return replace(inv, applied_payments=inv.applied_payments + eur(minor), version=inv.version + 1)


class Book:
    """An in-memory projection: period sums per scope, exactly as the adapter keeps them."""

    def __init__(self, collapse: bool = False) -> None:
        self.items: dict[str, dict[str, Totals]] = {}
        self.collapse = collapse  # as the adapter stores them: long past due dates summed as one

    def apply(self, before: Invoice | None, after: Invoice | None, on: date) -> None:
        for m in movements(before, after, on):
            for scope in (f"cur#{m.currency}", f"cust#{m.customer_id}#{m.currency}"):
                for key in period_keys(m.on):
                    by_due = collapsed(m.totals.by_due, period_end(key)) if self.collapse else m.totals.by_due
                    self.items.setdefault(scope, {}).setdefault(key, Totals()).add(Totals(m.totals.flows, by_due))

    def aggregates(self, scope: str = "cur#EUR") -> Aggregates:
        items = self.items.get(scope, {})
        years = {parse_key(k)[1]: t for k, t in items.items() if k.startswith("Y#")}
        return Aggregates(years, {k: t for k, t in items.items() if not k.startswith("Y#")})


# ---- movements -----------------------------------------------------------------------------------------------

def test_an_invoice_issued_then_paid_late_moves_sales_collection_and_settles() -> None:
    issued = invoice()
    created = movements(None, issued, issued.issue_date)
    assert [(m.on, m.totals.flows[SALES], m.totals.by_due) for m in created] == [
        (date(2025, 1, 10), 100_00, {date(2025, 2, 9): 100_00})]
    settled = movements(issued, paid(issued, 100_00), date(2025, 2, 19))
    (move,) = settled
    assert move.on == date(2025, 2, 19)
    assert move.totals.flows[COLLECTED] == 100_00 and move.totals.by_due == {date(2025, 2, 9): -100_00}
    assert move.totals.flows[SETTLED_COUNT] == 1 and move.totals.flows[SETTLED_AMOUNT_DAYS] == 100_00 * 10
    assert move.totals.flow(ON_TIME_COUNT) == 0


def test_an_invoice_imported_already_paid_has_no_known_pay_date_and_no_days_late() -> None:
    already = invoice(paid_in_source=eur(100_00))
    (move,) = movements(None, already, already.issue_date)
    assert move.totals.flows[SALES] == 100_00 and move.totals.flow(COLLECTED) == 100_00
    assert move.totals.flow(SETTLED_COUNT) == 0 and move.totals.flow(SETTLED_AMOUNT_DAYS) == 0


def test_a_charge_counts_on_its_own_day_and_a_due_date_change_moves_the_balance() -> None:
    issued = invoice()
    fee = LedgerCharge("fee", eur(5_00), "late", "1:fee", date(2025, 3, 1))
    charged = replace(issued, charges=(fee,), version=2)
    (move,) = movements(issued, charged, date(2025, 3, 2))
    assert move.on == date(2025, 3, 1) and move.totals.flows == {CHARGED: 5_00}
    moved = replace(issued, due_date=date(2025, 3, 9), version=2)
    (amend,) = movements(issued, moved, date(2025, 1, 20))
    assert amend.totals.by_due == {date(2025, 2, 9): -100_00, date(2025, 3, 9): 100_00}
    assert SALES not in amend.totals.flows


def test_promises_kept_broken_and_deductions() -> None:
    promised = invoice(promised_until=date(2025, 2, 20), promised_amount=eur(100_00), promise_balance=eur(100_00))
    kept = replace(paid(promised, 100_00), promised_until=None)
    assert movements(promised, kept, date(2025, 2, 19))[0].totals.flows[PROMISES_KEPT] == 1
    broken = replace(promised, promised_until=None, broken_promise=date(2025, 2, 20), version=2)
    assert movements(promised, broken, date(2025, 2, 26))[0].totals.flows == {PROMISES_BROKEN: 1}
    deducted = replace(invoice(), disputed_amount=eur(30_00), dispute_id="d1", version=2)
    assert movements(invoice(), deducted, date(2025, 1, 20))[0].totals.flows == {DEDUCTIONS: 30_00}


def test_a_change_that_moves_nothing_makes_no_movement() -> None:
    issued = invoice()
    assert movements(issued, replace(issued, reminders_sent=frozenset({"x"}), version=2), date(2025, 3, 1)) == []


def test_the_baseline_of_an_old_invoice_issues_it_then_brings_it_to_its_state() -> None:
    now = paid(invoice(), 40_00)
    (first_before, first, on1), (second_before, second, on2) = baseline_states(now, date(2025, 6, 1))
    assert first_before is None and first.balance == eur(100_00) and on1 == date(2025, 1, 10)
    assert second_before is first and second is now and on2 == date(2025, 6, 1)


# ---- periods -------------------------------------------------------------------------------------------------

def test_prefix_keys_take_whole_years_and_months_where_a_day_ends_them() -> None:
    assert prefix_keys(date(2025, 12, 31)) == (2026, [])
    assert prefix_keys(date(2025, 3, 31)) == (2025, ["M#2025-01", "M#2025-02", "M#2025-03"])
    bound, keys = prefix_keys(date(2025, 3, 2))
    assert bound == 2025 and keys == ["M#2025-01", "M#2025-02", "D#2025-03-01", "D#2025-03-02"]


def test_needed_days_keep_a_year_report_to_a_bounded_number_of_periods() -> None:
    keys: set[str] = set()
    for day in needed_days(date(2025, 1, 15), date(2026, 1, 14)):
        keys.update(prefix_keys(day)[1])
    assert len(keys) <= 36 + 62


# ---- aging ---------------------------------------------------------------------------------------------------

def test_buckets_by_days_past_due() -> None:
    as_of = date(2025, 6, 30)
    assert [bucket_of(as_of - timedelta(days=d), as_of) for d in (-5, 0, 1, 30, 31, 60, 61, 90, 91)] == [
        "current", "current", "1_30", "1_30", "31_60", "31_60", "61_90", "61_90", "over_90"]


@given(st.dictionaries(st.dates(date(2020, 1, 1), date(2030, 1, 1)), st.integers(-10**9, 10**9)),
       st.dates(date(2020, 1, 1), date(2030, 1, 1)))
def test_aging_buckets_always_sum_to_the_balance(by_due: dict[date, int], as_of: date) -> None:
    buckets = aging(by_due, as_of)
    assert set(buckets) == set(BUCKETS) and sum(buckets.values()) == sum(by_due.values())


# ---- metrics, by hand ----------------------------------------------------------------------------------------

def two_invoice_book() -> Book:
    """January 2025: A 1,000.00 issued Jan 1 due Jan 31, paid Jan 20; B 2,000.00 issued Jan 10 due Feb 9, 500 paid
    Feb 15; C 600.00 issued Feb 1 due Mar 3, written off 100 Feb 20. December 2024: D 300 issued Dec 1 due Dec 31."""
    book = Book()
    d = invoice("D", 300_00, date(2024, 12, 1), date(2024, 12, 31))
    a = invoice("A", 1000_00, date(2025, 1, 1), date(2025, 1, 31))
    b = invoice("B", 2000_00, date(2025, 1, 10), date(2025, 2, 9))
    c = invoice("C", 600_00, date(2025, 2, 1), date(2025, 3, 3))
    for inv in (d, a, b, c):
        book.apply(None, inv, inv.issue_date)
    book.apply(a, paid(a, 1000_00), date(2025, 1, 20))
    book.apply(b, paid(b, 500_00), date(2025, 2, 15))
    book.apply(c, replace(c, written_off=eur(100_00), version=2), date(2025, 2, 20))
    return book


def test_hand_computed_metrics_for_january_and_february() -> None:
    agg = two_invoice_book().aggregates()
    jan = period_figures(agg, date(2025, 1, 1), date(2025, 1, 31))
    # AR(Jan 31) = D 300 + B 2000 = 2300; current (due >= Jan 31) = B 2000; sales 3000; 31 days.
    assert (jan.sales, jan.collected, jan.ending_ar, jan.ending_current_ar) == (3000_00, 1000_00, 2300_00, 2000_00)
    assert jan.dso == Decimal("23.8")  # 2300 / 3000 x 31 = 23.77
    assert jan.best_possible_dso == Decimal("20.7")  # 2000 / 3000 x 31 = 20.67
    assert jan.add == Decimal("3.1")  # 23.77 - 20.67 = 3.10 (rounded after subtracting)
    # CEI = (300 + 3000 - 2300) / (300 + 3000 - 2000) x 100 = 1000 / 1300 = 76.92
    assert jan.cei == Decimal("76.9")
    report = metrics(agg, date(2025, 1, 1), date(2025, 2, 28))
    # Whole period: sales 3600, written off 100 -> bad debt 2.8 %; AR(Feb 28) = 300 + 1500 + 500 = 2300; 59 days.
    assert report.period.sales == 3600_00 and report.period.ending_ar == 2300_00
    assert report.period.dso == Decimal("37.7")  # 2300 / 3600 x 59 = 37.69
    assert report.bad_debt_ratio == Decimal("2.8")
    # Settled in the period: A only, paid 11 days early: -11 days, on time.
    assert report.average_days_late == Decimal("-11.0") and report.on_time_rate == Decimal("100.0")
    assert report.promise_kept_rate is None  # no promise ended
    assert report.days_deduction_outstanding == Decimal("0.0")
    # Countback at Feb 28: AR 2300 > Feb sales 600 -> 28 days, 1700 left; Jan sales 3000 -> 1700/3000 x 31 = 17.57
    assert report.dso_countback == Decimal("45.6")
    assert [m.start for m in report.months] == [date(2025, 1, 1), date(2025, 2, 1)]


def test_no_sales_leaves_sales_based_figures_undefined() -> None:
    report = metrics(Book().aggregates(), date(2025, 1, 1), date(2025, 1, 31))
    assert report.period.dso is None and report.period.best_possible_dso is None and report.bad_debt_ratio is None
    assert report.period.cei is None and report.average_days_late is None and report.dso_countback == Decimal(0)


def test_countback_takes_the_fraction_of_the_first_month_that_covers_ar() -> None:
    agg = two_invoice_book().aggregates()
    assert countback_dso(agg, date(2025, 1, 31)) == Decimal("23.8")  # 2300 / 3000 x 31


# ---- properties ----------------------------------------------------------------------------------------------

DAYS = st.integers(0, 700)
START = date(2024, 1, 1)


@st.composite
def histories(draw: st.DrawFn) -> list[list[tuple[date, Invoice]]]:
    """Invoices, each a series of states with non-decreasing effective dates."""
    result = []
    for n in range(draw(st.integers(1, 6))):
        issued_on = START + timedelta(days=draw(DAYS))
        state = invoice(str(n), draw(st.integers(1, 10_000_00)), issued_on,
                        issued_on + timedelta(days=draw(st.integers(0, 60))), customer=draw(st.sampled_from("ab")))
        on = issued_on
        states = [(on, state)]
        for _ in range(draw(st.integers(0, 4))):
            on = on + timedelta(days=draw(st.integers(0, 120)))
            action = draw(st.sampled_from(["pay", "refund", "credit", "write_off", "due", "dispute"]))
            balance = state.balance.minor
            if action == "pay" and balance > 0:
                state = paid(state, draw(st.integers(1, balance)))
            elif action == "refund" and state.applied_payments.minor > 0:
                state = replace(state, applied_payments=eur(0), version=state.version + 1)
            elif action == "credit" and balance > 0:
                state = replace(state, credited=state.credited + eur(draw(st.integers(1, balance))),
                                version=state.version + 1)
            elif action == "write_off" and balance > 0:
                state = replace(state, written_off=state.written_off + state.balance, version=state.version + 1)
            elif action == "due":
                state = replace(state, due_date=state.due_date + timedelta(days=draw(st.integers(1, 40))),
                                version=state.version + 1)
            elif action == "dispute" and balance > 0:
                state = replace(state, disputed_amount=eur(draw(st.integers(1, balance))), version=state.version + 1)
            states.append((on, state))
        result.append(states)
    return result


def state_at(states: list[tuple[date, Invoice]], t: date) -> Invoice | None:
    current = None
    for on, state in states:
        if on <= t:
            current = state
    return current


def project(history: list[list[tuple[date, Invoice]]], order: list[tuple[int, int]], collapse: bool = False) -> Book:
    book = Book(collapse)
    for i, j in order:
        states = history[i]
        before = states[j - 1][1] if j else None
        book.apply(before, states[j][1], states[j][0])
    return book


@settings(max_examples=60, deadline=None)
@given(histories(), st.integers(0, 900), st.randoms(use_true_random=False))
def test_the_projection_equals_a_recomputation_from_the_invoices_at_any_day(
        history: list[list[tuple[date, Invoice]]], offset: int, rng: object) -> None:
    order = [(i, j) for i, states in enumerate(history) for j in range(len(states))]
    rng.shuffle(order)  # type: ignore[attr-defined]
    book = project(history, order)  # the stream may deliver invoices interleaved in any order
    t = START + timedelta(days=offset)
    at = book.aggregates().at(t)
    states = [s for s in (state_at(h, t) for h in history) if s is not None]
    expected_by_due: dict[date, int] = {}
    for s in states:
        expected_by_due[s.due_date] = expected_by_due.get(s.due_date, 0) + s.balance.minor
    assert {d: v for d, v in at.by_due.items() if v} == {d: v for d, v in expected_by_due.items() if v}
    assert at.flow(SALES) == sum(s.total.minor for s in states)
    assert at.flow(COLLECTED) == sum(s.paid.minor for s in states)
    assert at.flow(DEDUCTIONS) == sum(s.disputed_open.minor for s in states)
    customer_a = book.aggregates("cust#a#EUR").at(t).balance
    assert customer_a == sum(s.balance.minor for s in states if s.customer_id == "a")


@settings(max_examples=60, deadline=None)
@given(histories(), st.integers(0, 900), st.integers(1, 400), st.integers(0, 10_000_00))
def test_a_late_arriving_movement_never_changes_a_report_for_an_earlier_day(
        history: list[list[tuple[date, Invoice]]], offset: int, later: int, amount: int) -> None:
    order = [(i, j) for i, states in enumerate(history) for j in range(len(states))]
    book = project(history, order)
    t = START + timedelta(days=offset)
    start = t - timedelta(days=90)
    before_report = metrics(book.aggregates(), start, t)
    before_customer = book.aggregates("cust#a#EUR").at(t)
    # A movement recorded now but effective after t: an invoice issued later, a payment received later.
    late = invoice("late", amount + 1, t + timedelta(days=later), t + timedelta(days=later + 30), customer="a")
    book.apply(None, late, late.issue_date)
    last = history[0][-1][1]
    if last.balance.minor > 0:
        book.apply(last, paid(last, last.balance.minor), t + timedelta(days=later))
    assert metrics(book.aggregates(), start, t) == before_report
    assert book.aggregates("cust#a#EUR").at(t) == before_customer


def test_summed_adds_periods_with_the_same_key() -> None:
    merged = summed([("D#2025-01-01", Totals({SALES: 1})), ("D#2025-01-01", Totals({SALES: 2}))])
    assert merged["D#2025-01-01"].flows == {SALES: 3}


@settings(max_examples=60, deadline=None)
@given(histories(), st.integers(0, 900))
def test_items_that_keep_long_past_due_dates_as_one_answer_the_same(
        history: list[list[tuple[date, Invoice]]], offset: int) -> None:
    order = [(i, j) for i, states in enumerate(history) for j in range(len(states))]
    exact, kept = project(history, order), project(history, order, collapse=True)
    t = START + timedelta(days=offset)
    for scope in ("cur#EUR", "cust#a#EUR"):
        a, b = exact.aggregates(scope).at(t), kept.aggregates(scope).at(t)
        assert aging(a.by_due, t) == aging(b.by_due, t) and a.current(t) == b.current(t)
        assert a.flows == b.flows
    assert metrics(exact.aggregates(), t - timedelta(days=200), t) == metrics(kept.aggregates(),
                                                                              t - timedelta(days=200), t)


# ---- early-payment discounts ---------------------------------------------------------------------------------

def test_a_discount_counts_as_a_reduction_of_sales_and_the_invoice_settles_on_the_day_the_money_came() -> None:
    from chalicelib.domain.analytics.ledger import DISCOUNTED
    from chalicelib.domain.analytics.metrics import net_sales
    issued = invoice(due=date(2025, 2, 9))
    settled = replace(paid(issued, 98_00), discount_granted=eur(2_00), discount_payment_id="pay_1")
    book = Book()
    book.apply(None, issued, issued.issue_date)
    book.apply(issued, settled, date(2025, 1, 20))  # received (effective) on the 20th, inside 2/10
    moved = book.aggregates().at(date(2025, 1, 31))
    assert moved.flow(COLLECTED) == 98_00 and moved.flow(DISCOUNTED) == 2_00
    assert net_sales(moved) == 98_00 and moved.balance == 0
    assert moved.flow(SETTLED_COUNT) == 1 and moved.flow(ON_TIME_COUNT) == 1
    assert book.aggregates().at(date(2025, 1, 19)).balance == 100_00  # nothing moved before the money came
    # A refund taking back the payment and its discount reopens all of it.
    reopened = replace(settled, applied_payments=eur(0), discount_granted=None, discount_payment_id=None, version=3)
    book.apply(settled, reopened, date(2025, 2, 1))
    after = book.aggregates().at(date(2025, 2, 1))
    assert after.flow(DISCOUNTED) == 0 and after.balance == 100_00 and net_sales(after) == 100_00
