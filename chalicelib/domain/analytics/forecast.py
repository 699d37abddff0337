"""The cash forecast: money expected per week from open invoices' predicted pay-date distributions, promises to pay
and plan instalments; and its accuracy against what was received. Pure (amounts in minor units of one currency).

Definitions (README, "Payment prediction and cash forecast"):
- week k (1..n) runs from as_of + 1 + 7(k-1) for 7 days; an inflow of `amount` with probability p_w of landing in week
  w adds amount x p_w to its `expected`; low / high = expected -/+ Z x sqrt(sum amount^2 x p_w x (1 - p_w)) (each
  inflow an independent coin; Z = 1.645: a 90% band), low never below 0.
- beyond: expected money after the last week; at_risk: expected open balance paid more than AT_RISK_DAYS days past
  its due date (or never, for the part of a promise or instalment not kept).
- accuracy: for each week and horizon h (1, 4, 13), the forecast made h weeks before (the snapshot as of the week's
  start - 1 - 7(h-1), its week h) against the receipts of the week; WAPE = sum |actual - forecast| / sum actual,
  bias = sum (forecast - actual) / sum actual, both in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

Z_90 = Decimal("1.645")
AT_RISK_DAYS = 90
HORIZONS = (1, 4, 13)


@dataclass(frozen=True, slots=True)
class Inflow:
    """Money that may arrive: `amount_minor` on each date with its probability (the rest never arrives)."""

    amount_minor: int
    dates: tuple[tuple[date, float], ...]
    due_date: date | None = None  # an invoice's: what at_risk measures lateness from


@dataclass(frozen=True, slots=True)
class Week:
    start: date
    end: date
    expected: int
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class Forecast:
    as_of: date
    open_ar: int
    weeks: tuple[Week, ...]
    beyond: int
    at_risk: int


def week_bounds(as_of: date, weeks: int) -> list[tuple[date, date]]:
    first = as_of + timedelta(days=1)
    return [(first + timedelta(days=7 * k), first + timedelta(days=7 * k + 6)) for k in range(weeks)]


def invoice_inflow(amount_minor: int, due_date: date, distribution: Sequence[tuple[int, float]]) -> Inflow:
    """An open balance spread over its predicted days-late distribution."""
    return Inflow(amount_minor, tuple((due_date + timedelta(days=d), p) for d, p in distribution), due_date)


def forecast(as_of: date, weeks: int, open_ar: int, inflows: Sequence[Inflow]) -> Forecast:
    """Sums are Decimal (money never passes through float); a probability enters as the decimal of its shortest
    repr, and each figure is rounded half-even to whole minor units once, at the end."""
    bounds = week_bounds(as_of, weeks)
    last = bounds[-1][1] if bounds else as_of
    zero, one = Decimal(0), Decimal(1)
    expected = [zero] * weeks
    variance = [zero] * weeks
    beyond = zero
    at_risk = zero
    for inflow in inflows:
        amount = Decimal(inflow.amount_minor)
        shares = [zero] * weeks
        arrived = zero
        for day, probability in inflow.dates:
            p = Decimal(repr(probability))
            arrived += p
            if inflow.due_date is not None and (day - inflow.due_date).days > AT_RISK_DAYS:
                at_risk += amount * p
            if day > last:
                beyond += amount * p
            elif day > as_of:
                shares[((day - as_of).days - 1) // 7] += p
        if inflow.due_date is None or not inflow.dates:
            at_risk += amount * max(zero, one - arrived)  # a promise or instalment not kept
        for k, p in enumerate(shares):
            expected[k] += amount * p
            variance[k] += amount * amount * p * (one - p)
    out = []
    for (start, end), e, v in zip(bounds, expected, variance, strict=True):
        band = Z_90 * v.sqrt()
        out.append(Week(start, end, round(e), max(0, round(e - band)), round(e + band)))
    return Forecast(as_of, open_ar, tuple(out), round(beyond), round(at_risk))


@dataclass(frozen=True, slots=True)
class WeekAccuracy:
    start: date
    end: date
    forecast: int | None  # None: no snapshot made that many weeks before
    actual: int


@dataclass(frozen=True, slots=True)
class HorizonAccuracy:
    weeks_ahead: int
    weeks: tuple[WeekAccuracy, ...]

    @property
    def scored(self) -> list[WeekAccuracy]:
        return [w for w in self.weeks if w.forecast is not None]

    @property
    def wape(self) -> float | None:
        actual = sum(w.actual for w in self.scored)
        if not actual:
            return None
        return 100 * sum(abs(w.actual - (w.forecast or 0)) for w in self.scored) / actual

    @property
    def bias(self) -> float | None:
        actual = sum(w.actual for w in self.scored)
        if not actual:
            return None
        return 100 * sum((w.forecast or 0) - w.actual for w in self.scored) / actual


def snapshot_day(week_start: date, weeks_ahead: int) -> date:
    """The as_of of the forecast whose week `weeks_ahead` starts on `week_start`."""
    return week_start - timedelta(days=1 + 7 * (weeks_ahead - 1))


def accuracy_weeks(start: date, end: date) -> list[tuple[date, date]]:
    """Whole weeks from `start` (a week starts any day: the snapshots' weeks start the day after their as_of)."""
    out = []
    day = start
    while day + timedelta(days=6) <= end:
        out.append((day, day + timedelta(days=6)))
        day += timedelta(days=7)
    return out
