"""Collection metrics by the Credit Research Foundation's definitions (README.md, Analytics, has them with their
sources). Every figure is computed from period sums (ledger.Aggregates) as of the period's days, so it reads only
movements effective by then.

With AR(t) the open balance at the end of day t, current AR(t) its part not yet past due, days the number of days
in the period and sales the invoices issued in it less credit notes and early-payment discounts:
  DSO = AR(to) / sales x days; best possible DSO = current AR(to) / sales x days; ADD = DSO - BPDSO;
  CEI = (AR(from - 1) + sales - AR(to)) / (AR(from - 1) + sales - current AR(to)) x 100;
  countback DSO: going back from `to` by calendar months (to's own month up to `to`), whole months while AR
  exceeds their sales, then the fraction of the month that AR still covers;
  bad-debt ratio = written off / sales x 100; average days late = sum(total x days late) / sum(total) over the
  invoices settled in the period; on-time rate = settled on or before the due date / settled x 100;
  promise-kept rate = kept / (kept + broken) x 100; days deduction outstanding = deductions open at `to` / sales x days.
A figure whose denominator is zero (no sales, nothing settled) is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from chalicelib.domain.analytics.ledger import (
    COLLECTED,
    CREDITED,
    DEDUCTIONS,
    DISCOUNTED,
    ON_TIME_COUNT,
    PROMISES_BROKEN,
    PROMISES_KEPT,
    SALES,
    SETTLED_AMOUNT,
    SETTLED_AMOUNT_DAYS,
    SETTLED_COUNT,
    WRITTEN_OFF,
    Aggregates,
    Totals,
    month_end,
    months_between,
)

COUNTBACK_MONTHS = 24  # how far back countback DSO looks; AR older than that counts these months' days only
ONE_PLACE = Decimal("0.1")


def one_decimal(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(ONE_PLACE, rounding=ROUND_HALF_UP)


def _ratio(numerator: int | Decimal, denominator: int | Decimal, scale: int | Decimal = 1) -> Decimal | None:
    if not denominator:
        return None
    return Decimal(numerator) * Decimal(scale) / Decimal(denominator)


def net_sales(moved: Totals) -> int:
    """Sales less credit notes and early-payment discounts (both reduce what was sold)."""
    return moved.flow(SALES) - moved.flow(CREDITED) - moved.flow(DISCOUNTED)


@dataclass(frozen=True)
class PeriodFigures:
    start: date
    end: date
    sales: int
    collected: int
    ending_ar: int
    ending_current_ar: int
    dso: Decimal | None
    best_possible_dso: Decimal | None
    add: Decimal | None
    cei: Decimal | None


@dataclass(frozen=True)
class Metrics:
    period: PeriodFigures
    dso_countback: Decimal | None
    bad_debt_ratio: Decimal | None
    average_days_late: Decimal | None
    on_time_rate: Decimal | None
    promise_kept_rate: Decimal | None
    days_deduction_outstanding: Decimal | None
    months: list[PeriodFigures]


def period_figures(agg: Aggregates, start: date, end: date) -> PeriodFigures:
    days = (end - start).days + 1
    moved = agg.between(start, end)
    sales = net_sales(moved)
    opening = agg.at(start - timedelta(days=1)).balance
    closing = agg.at(end)
    ar, current = closing.balance, closing.current(end)
    dso = _ratio(ar, sales, days) if sales > 0 else None
    bpdso = _ratio(current, sales, days) if sales > 0 else None
    add = dso - bpdso if dso is not None and bpdso is not None else None
    cei = _ratio(opening + sales - ar, opening + sales - current, 100)
    return PeriodFigures(start, end, sales, moved.flow(COLLECTED), ar, current, one_decimal(dso),
                         one_decimal(bpdso), one_decimal(add), one_decimal(cei))


def countback_dso(agg: Aggregates, end: date, months: int = COUNTBACK_MONTHS) -> Decimal | None:
    """Days of sales the AR at `end` represents, counted back month by month (the month of `end` up to `end`)."""
    remaining = Decimal(agg.at(end).balance)
    if remaining <= 0:
        return one_decimal(Decimal(0)) if remaining == 0 else None
    days = Decimal(0)
    last = end
    for _ in range(months):
        first = last.replace(day=1)
        sales = Decimal(net_sales(agg.between(first, last)))
        span = (last - first).days + 1
        if sales > 0 and remaining <= sales:
            return one_decimal(days + remaining / sales * span)
        days += span
        remaining -= max(sales, Decimal(0))
        last = first - timedelta(days=1)
    return one_decimal(days)


def metrics(agg: Aggregates, start: date, end: date) -> Metrics:
    if end < start:
        raise ValueError("the period ends before it starts")
    whole = period_figures(agg, start, end)
    moved = agg.between(start, end)
    sales = whole.sales
    days = (end - start).days + 1
    settled_amount = moved.flow(SETTLED_AMOUNT)
    kept, broken = moved.flow(PROMISES_KEPT), moved.flow(PROMISES_BROKEN)
    deductions = agg.at(end).flow(DEDUCTIONS)
    return Metrics(
        period=whole,
        dso_countback=countback_dso(agg, end),
        bad_debt_ratio=one_decimal(_ratio(moved.flow(WRITTEN_OFF), sales, 100)) if sales > 0 else None,
        average_days_late=one_decimal(_ratio(moved.flow(SETTLED_AMOUNT_DAYS), settled_amount)),
        on_time_rate=one_decimal(_ratio(moved.flow(ON_TIME_COUNT), moved.flow(SETTLED_COUNT), 100)),
        promise_kept_rate=one_decimal(_ratio(kept, kept + broken, 100)),
        days_deduction_outstanding=one_decimal(_ratio(deductions, sales, days)) if sales > 0 else None,
        months=[period_figures(agg, first, last) for first, last in months_between(start, end)],
    )


def needed_days(start: date, end: date) -> list[date]:
    """The days a metrics report takes AR at (for ledger.prefix_keys): the day before the period, its end, every
    month's end and the day before every month in it (month ends: they need no day periods), and the month ends
    countback DSO goes back through."""
    days = {start - timedelta(days=1), end}
    for first, last in months_between(start, end):
        days |= {first - timedelta(days=1), last}
    last = end
    for _ in range(COUNTBACK_MONTHS + 1):
        first = last.replace(day=1)
        days.add(first - timedelta(days=1))
        last = first - timedelta(days=1)
    return sorted(days)


__all__ = ["Metrics", "PeriodFigures", "countback_dso", "metrics", "month_end", "needed_days", "one_decimal"]
