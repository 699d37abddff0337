"""Payment prediction rules: no look-ahead, late history raises the late probability, thin histories lean on the
portfolio, an open invoice is paid after the cutoff, size and disputes shift the date, promises are taken at their word,
and the same facts always give the same answer."""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.analytics.prediction import (
    OpenInvoice,
    Portfolio,
    Settled,
    fit_portfolio,
    history_reason,
    known_at,
    predict,
)

AS_OF = date(2026, 6, 30)


def settled(n: int, days_late: int, *, settled_on: date | None = None, amount: int = 100_00,
            disputed: bool = False) -> Settled:
    on = settled_on or AS_OF - timedelta(days=10 * n + 1)
    due = on - timedelta(days=days_late)
    return Settled(invoice_id=f"INV-{n}", issue_date=due - timedelta(days=30), due_date=due, amount_minor=amount,
                   settled_on=on, disputed=disputed)


def portfolio_of(delays: list[int]) -> Portfolio:
    return fit_portfolio(((f"P{i % 7}", settled(i, d)) for i, d in enumerate(delays)), AS_OF)


PORTFOLIO = portfolio_of([-2, 0, 0, 1, 3, 5, 8, 10, 15, 20, 30, 45] * 5)
NOT_DUE = OpenInvoice(issue_date=AS_OF - timedelta(days=10), due_date=AS_OF + timedelta(days=20), amount_minor=100_00)

days = st.integers(min_value=-20, max_value=90)
histories = st.lists(st.tuples(days, st.integers(min_value=1, max_value=400)), max_size=25)


def history_from(pairs: list[tuple[int, int]]) -> list[Settled]:
    return [settled(i, late, settled_on=AS_OF - timedelta(days=age)) for i, (late, age) in enumerate(pairs)]


@settings(max_examples=60, deadline=None)
@given(histories, st.lists(st.tuples(days, st.integers(min_value=1, max_value=200)), min_size=1, max_size=10),
       st.integers(min_value=-40, max_value=60))
def test_settlements_after_the_cutoff_never_change_a_prediction(before, after, due_offset):
    history = history_from(before)
    later = [settled(1000 + i, late, settled_on=AS_OF + timedelta(days=ahead))
             for i, (late, ahead) in enumerate(after)]
    invoice = OpenInvoice(issue_date=AS_OF - timedelta(days=60), due_date=AS_OF + timedelta(days=due_offset),
                          amount_minor=250_00)
    portfolio = fit_portfolio([("X", s) for s in history], AS_OF)
    grown = fit_portfolio([("X", s) for s in history + later], AS_OF)
    assert grown == portfolio
    assert predict(history + later, invoice, grown, AS_OF) == predict(history, invoice, portfolio, AS_OF)


@settings(max_examples=60, deadline=None)
@given(histories, st.integers(min_value=1, max_value=90), st.integers(min_value=1, max_value=300))
def test_one_more_late_settlement_never_lowers_the_late_probability(pairs, late_by, age):
    history = history_from(pairs)
    more = [*history, settled(999, late_by, settled_on=AS_OF - timedelta(days=age))]
    assert predict(more, NOT_DUE, PORTFOLIO, AS_OF).late_probability >= \
        predict(history, NOT_DUE, PORTFOLIO, AS_OF).late_probability


def test_more_late_history_raises_the_late_probability():
    punctual = [settled(i, -1) for i in range(10)]
    some_late = [settled(i, -1 if i % 2 else 12) for i in range(10)]
    all_late = [settled(i, 12) for i in range(10)]
    p = [predict(h, NOT_DUE, PORTFOLIO, AS_OF).late_probability for h in (punctual, some_late, all_late)]
    assert p[0] < p[1] < p[2]


def test_a_thin_history_leans_on_the_portfolio_a_long_one_on_the_customer():
    empty = Portfolio.empty()
    alone = predict([settled(1, 40)], NOT_DUE, empty, AS_OF)
    assert alone.expected_days_late == 40  # no portfolio: the customer's only delay
    nobody = predict([], NOT_DUE, PORTFOLIO, AS_OF)
    thin = predict([settled(1, 40)], NOT_DUE, PORTFOLIO, AS_OF)
    long = predict([settled(i, 40) for i in range(30)], NOT_DUE, PORTFOLIO, AS_OF)
    assert nobody.expected_days_late < thin.expected_days_late < long.expected_days_late == 40
    assert "no invoice settled yet" in nobody.reasons[0]
    assert any("only 1 invoice settled so far" in r for r in thin.reasons)


def test_old_history_counts_less_than_recent():
    old_late = [settled(i, 30, settled_on=AS_OF - timedelta(days=700 + i)) for i in range(10)]
    recent_punctual = [settled(100 + i, 0, settled_on=AS_OF - timedelta(days=5 + i)) for i in range(5)]
    assert predict(old_late + recent_punctual, NOT_DUE, Portfolio.empty(), AS_OF).expected_days_late == 0


def test_an_open_invoice_is_predicted_after_the_cutoff_and_surely_late_once_past_due():
    history = [settled(i, 5) for i in range(20)]
    overdue = OpenInvoice(issue_date=AS_OF - timedelta(days=60), due_date=AS_OF - timedelta(days=25),
                          amount_minor=100_00)
    prediction = predict(history, overdue, PORTFOLIO, AS_OF)
    assert prediction.predicted_pay_date > AS_OF
    assert prediction.late_probability == 1.0
    assert "already 25 days past due" in prediction.reasons


def test_large_and_disputed_invoices_are_paid_later_by_what_the_portfolio_learnt():
    pairs = []
    for c in range(30):
        for i in range(6):
            pairs.append((f"C{c}", settled(c * 10 + i, 2, amount=100_00)))
        pairs.append((f"C{c}", settled(c * 10 + 7, 14, amount=500_00)))
        pairs.append((f"C{c}", settled(c * 10 + 8, 32, disputed=True)))
    portfolio = fit_portfolio(pairs, AS_OF)
    assert (portfolio.large_shift, portfolio.dispute_shift) == (12, 30)
    history = [s for c, s in pairs if c == "C0"]
    plain = predict(history, NOT_DUE, portfolio, AS_OF)
    big = predict(history, OpenInvoice(NOT_DUE.issue_date, NOT_DUE.due_date, 400_00), portfolio, AS_OF)
    disputed = predict(history, OpenInvoice(NOT_DUE.issue_date, NOT_DUE.due_date, 100_00, disputed=True),
                       portfolio, AS_OF)
    assert plain.expected_days_late == 2
    assert big.expected_days_late == 14
    assert disputed.expected_days_late == 32
    assert any("4.0 times its usual invoice amount: such invoices are paid about 12 days later" in r
               for r in big.reasons)


def test_a_promise_is_taken_at_its_word():
    promised = OpenInvoice(NOT_DUE.issue_date, AS_OF - timedelta(days=5), 100_00, promised_until=AS_OF + timedelta(3))
    prediction = predict([settled(i, 20) for i in range(10)], promised, PORTFOLIO, AS_OF)
    assert prediction.predicted_pay_date == AS_OF + timedelta(days=3)
    assert prediction.late_probability == 1.0
    assert f"promised to pay by {(AS_OF + timedelta(days=3)).isoformat()}" in prediction.reasons


def test_reasons_in_plain_words():
    history = known_at([settled(i, 12 if i < 8 else -1) for i in range(10)], AS_OF)
    assert history_reason(history) == "paid 8 of its last 10 invoices late, 12 days on average"
    assert history_reason(known_at([settled(i, 0) for i in range(3)], AS_OF)) == "paid its last 3 invoices on time"


def test_deterministic_whatever_the_order_of_the_history():
    history = [settled(i, i % 13 - 3) for i in range(40)]
    assert predict(history, NOT_DUE, PORTFOLIO, AS_OF) == predict(list(reversed(history)), NOT_DUE, PORTFOLIO, AS_OF)
