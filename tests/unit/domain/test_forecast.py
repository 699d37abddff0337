"""The cash forecast: weeks from the day after as_of, money spread over the pay-date distribution, a 90% band, what
falls beyond the horizon or more than 90 days late; and accuracy (WAPE, bias) per horizon."""

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.analytics.forecast import (
    HorizonAccuracy,
    Inflow,
    WeekAccuracy,
    accuracy_weeks,
    forecast,
    invoice_inflow,
    snapshot_day,
    week_bounds,
)

AS_OF = date(2026, 6, 30)


def test_week_one_starts_the_day_after_as_of():
    assert week_bounds(AS_OF, 2) == [(date(2026, 7, 1), date(2026, 7, 7)), (date(2026, 7, 8), date(2026, 7, 14))]


def test_a_certain_payment_lands_in_its_week_with_no_band():
    result = forecast(AS_OF, 13, 100_00, [Inflow(100_00, ((date(2026, 7, 9), 1.0),), date(2026, 7, 1))])
    assert [w.expected for w in result.weeks[:3]] == [0, 100_00, 0]
    assert (result.weeks[1].low, result.weeks[1].high) == (100_00, 100_00)
    assert (result.beyond, result.at_risk, result.open_ar) == (0, 0, 100_00)


def test_an_uncertain_payment_is_spread_with_a_band_and_what_is_late_or_beyond_is_counted():
    due = date(2026, 6, 1)
    inflow = invoice_inflow(1000_00, due, [(35, 0.5), (60, 0.25), (200, 0.25)])  # Jul 6, Jul 31, Dec 18
    result = forecast(AS_OF, 4, 1000_00, [inflow])
    assert result.weeks[0].expected == 500_00
    assert result.weeks[0].low < 500_00 < result.weeks[0].high
    assert result.beyond == 500_00  # Jul 31 and Dec 18 are after the 4th week (Jul 28)
    assert result.at_risk == 250_00  # 200 days late


def test_an_instalment_not_kept_is_at_risk():
    result = forecast(AS_OF, 13, 0, [Inflow(100_00, ((date(2026, 7, 2), 0.85),), None)])
    assert result.weeks[0].expected == 85_00 and result.at_risk == 15_00


@given(st.lists(st.tuples(st.integers(1, 10_000_00), st.integers(1, 200), st.integers(1, 100)), max_size=20))
def test_money_is_neither_made_nor_lost(rows):
    """Every inflow after as_of lands in a week or beyond (pay dates are after as_of by construction)."""
    inflows = [invoice_inflow(amount, AS_OF, [(days, 0.5), (days + weight, 0.5)]) for amount, days, weight in rows]
    result = forecast(AS_OF, 13, 0, inflows)
    expected = sum(w.expected for w in result.weeks) + result.beyond
    assert abs(expected - sum(a for a, _, _ in rows)) <= len(rows) + 14  # rounding per week
    assert all(w.low <= w.expected <= w.high for w in result.weeks)


def test_accuracy_per_horizon():
    weeks = (WeekAccuracy(date(2026, 7, 1), date(2026, 7, 7), 90_00, 100_00),
             WeekAccuracy(date(2026, 7, 8), date(2026, 7, 14), 120_00, 100_00),
             WeekAccuracy(date(2026, 7, 15), date(2026, 7, 21), None, 50_00))
    h = HorizonAccuracy(1, weeks)
    assert h.wape == 15.0  # (10 + 20) / 200
    assert h.bias == 5.0  # (-10 + 20) / 200
    assert HorizonAccuracy(4, (WeekAccuracy(AS_OF, AS_OF, None, 0),)).wape is None


def test_the_snapshot_that_forecast_a_week_h_weeks_ahead():
    week = date(2026, 7, 29)
    assert snapshot_day(week, 1) == date(2026, 7, 28)
    assert snapshot_day(week, 4) == date(2026, 7, 7)
    assert week_bounds(snapshot_day(week, 4), 4)[3][0] == week
    assert snapshot_day(week, 13) + timedelta(days=1 + 7 * 12) == week
    assert accuracy_weeks(date(2026, 7, 1), date(2026, 7, 20)) == [(date(2026, 7, 1), date(2026, 7, 7)),
                                                                   (date(2026, 7, 8), date(2026, 7, 14))]
