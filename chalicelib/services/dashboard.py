"""Use case: the figures of the dashboard page and the weekly digest, composed from narrow ports
(chalicelib/services/ports.py: AgingSource, MonthlyMetricsSource, ForecastSource, OverdueCustomersSource,
DisputeAgesSource). A port that is not wired says so on the page; one that has nothing yet says that; one that
fails is logged and shown as unavailable, and the rest of the page still shows. No figure is ever made up.

Disputes by age is implemented here from the disputes table's `by_status` index (DisputeAges)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from chalicelib.domain.analytics.aging import BUCKETS
from chalicelib.domain.collections import Dispute, DisputeStatus
from chalicelib.services.ports import (
    AgingFigures,
    AgingSource,
    DashboardFigures,
    DisputeAge,
    DisputeAgesSource,
    Figure,
    ForecastSource,
    ForecastWeek,
    MonthFigures,
    MonthlyMetricsSource,
    OverdueCustomer,
    OverdueCustomersSource,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

MONTHS = 12
FORECAST_WEEKS = 13
TOP_CUSTOMERS = 10
NOT_CONFIGURED = "Not configured on this stage yet: no figures are shown rather than made-up ones."
UNAVAILABLE = "Could not be read just now (the error is logged). Reload the page to try again."

# (band, label, first day, last day or None)
DISPUTE_BANDS: tuple[tuple[str, str, int, int | None], ...] = (
    ("0_7", "0-7 days", 0, 7), ("8_30", "8-30 days", 8, 30), ("31_60", "31-60 days", 31, 60),
    ("over_60", "over 60 days", 61, None))


def first_month(as_of: date, months: int = MONTHS) -> date:
    """The 1st of the month `months - 1` months before as_of's: 12 months ending with as_of's month."""
    index = as_of.year * 12 + as_of.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


class Dashboard:
    """DashboardSource, from whichever ports are wired (None: not configured on this stage)."""

    def __init__(self, *, aging: AgingSource | None = None, metrics: MonthlyMetricsSource | None = None,
                 forecast: ForecastSource | None = None, overdue: OverdueCustomersSource | None = None,
                 disputes: DisputeAgesSource | None = None, months: int = MONTHS,
                 forecast_weeks: int = FORECAST_WEEKS, top_customers: int = TOP_CUSTOMERS) -> None:
        self.aging_source = aging
        self.metrics_source = metrics
        self.forecast_source = forecast
        self.overdue_source = overdue
        self.disputes_source = disputes
        self.months = months
        self.forecast_weeks = forecast_weeks
        self.top_customers = top_customers

    def figures(self, as_of: date, currency: str) -> DashboardFigures:
        aging = self.aging_source
        metrics = self.metrics_source
        forecast = self.forecast_source
        overdue = self.overdue_source
        disputes = self.disputes_source
        return DashboardFigures(
            as_of=as_of, currency=currency,
            aging=_figure("aging", aging, lambda: _aging(aging, as_of, currency),
                          f"No open invoices in {currency} at the end of {as_of}."),
            months=_figure("metrics", metrics, lambda: tuple(
                metrics.monthly(first_month(as_of, self.months), as_of, currency) if metrics else ()),
                f"No sales or receipts in {currency} in the 12 months to {as_of} yet."),
            forecast=_figure("forecast", forecast, lambda: tuple(
                forecast.forecast_against_actuals(as_of, currency, self.forecast_weeks) if forecast else ()),
                "No forecast yet: it needs open invoices and some payment history."),
            overdue_customers=_figure("overdue customers", overdue, lambda: tuple(
                overdue.largest_overdue(as_of, currency, self.top_customers) if overdue else ()),
                f"No customer has anything past due in {currency} at the end of {as_of}."),
            disputes=_figure("disputes", disputes, lambda: _nonzero(
                disputes.disputes_by_age(as_of, currency) if disputes else ()),
                f"No dispute in {currency} was open at the end of {as_of}."),
        )


def _aging(source: AgingSource | None, as_of: date, currency: str) -> AgingFigures | None:
    figures = source.aging(as_of, currency) if source else None
    return figures if figures is not None and figures.total != 0 else None


def _nonzero(ages: Sequence[DisputeAge]) -> tuple[DisputeAge, ...]:
    return tuple(ages) if any(age.count for age in ages) else ()


def _figure(name: str, source: object | None, read: Callable[[], Any], empty: str) -> Figure[Any]:
    if source is None:
        return Figure(None, NOT_CONFIGURED)
    try:
        value = read()
    except Exception:  # one failing figure does not take the page down; it says so
        log.exception("dashboard figure failed", extra={"figure": name})
        return Figure(None, UNAVAILABLE)
    if value is None or value == ():
        return Figure(None, empty)
    return Figure(value)


# ------------------------------------------------------------------------------------- disputes by age

class DisputeLister(Protocol):
    def list(self, status: str, limit: int, cursor: dict[str, Any] | None
             ) -> tuple[list[Dispute], dict[str, Any] | None]:
        """One page of the disputes with a status, newest opened first (the `by_status` index)."""


class DisputeAges:
    """DisputeAgesSource over the disputes table. Disputes open at the end of `as_of`: opened by then and not
    resolved by then. `today` tells when the resolved ones must be read too: for as_of today (the page's default),
    only the `open` partition is read (O(open disputes)); for a past as_of, also the resolved disputes (those
    resolved after as_of were open then), which costs O(disputes resolved so far)."""

    PAGE = 200

    def __init__(self, disputes: DisputeLister, today: Callable[[], date]) -> None:
        self.disputes = disputes
        self.today = today

    def disputes_by_age(self, as_of: date, currency: str) -> Sequence[DisputeAge]:
        statuses = [DisputeStatus.OPEN.value]
        if as_of < self.today():
            statuses.append(DisputeStatus.RESOLVED.value)
        open_then = [d for status in statuses for d in self._all(status) if _open_at(d, as_of)
                     and d.currency == currency]
        return dispute_ages(open_then, as_of)

    def _all(self, status: str) -> list[Dispute]:
        found: list[Dispute] = []
        cursor: dict[str, Any] | None = None
        while True:
            page, cursor = self.disputes.list(status, self.PAGE, cursor)
            found.extend(page)
            if not cursor:
                return found


def _open_at(dispute: Dispute, as_of: date) -> bool:
    if dispute.opened_at.date() > as_of:
        return False
    return dispute.resolved_at is None or dispute.resolved_at.date() > as_of


def dispute_ages(disputes: Sequence[Dispute], as_of: date) -> list[DisputeAge]:
    """Count and amount per age band (age at as_of: days since opened). Every band is listed, empty ones too."""
    counts = dict.fromkeys((band for band, *_ in DISPUTE_BANDS), 0)
    amounts = dict.fromkeys(counts, Decimal(0))
    for dispute in disputes:
        age = max(0, (as_of - dispute.opened_at.date()).days)
        band = next(b for b, _, low, high in DISPUTE_BANDS if age >= low and (high is None or age <= high))
        counts[band] += 1
        disputed = dispute.amount if dispute.amount is not None else dispute.balance_at_opening
        amounts[band] += disputed.amount
    return [DisputeAge(band, label, counts[band], amounts[band]) for band, label, *_ in DISPUTE_BANDS]


# ------------------------------------------------------------------------- from the reports' JSON shapes
#
# The report routes of issue 12 answer documented JSON (amounts and figures as decimal strings). Whichever service
# produces those answers can feed the dashboard through these converters, e.g. in bootstrap:
#     class ReportAging:  # AgingSource
#         def aging(self, as_of, currency): return aging_figures(reports.aging(as_of=as_of, currency=currency))


def _decimal(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def aging_figures(report: Mapping[str, Any]) -> AgingFigures | None:
    """GET /reports/aging for one currency (`{"currency", "buckets": {...}, "total"}`) -> AgingFigures; None when
    the report has no buckets."""
    buckets = report.get("buckets") or {}
    if not buckets:
        return None
    return AgingFigures(str(report["currency"]), {name: Decimal(str(buckets.get(name, "0")))
                                                  for name in BUCKETS}, Decimal(str(report["total"])))


def month_figures(report: Mapping[str, Any]) -> list[MonthFigures]:
    """GET /reports/metrics' `months` (`{"month", "dso", "best_possible_dso", "add", "cei", ...}`), oldest first."""
    months = sorted(report.get("months") or [], key=lambda m: str(m["month"]))
    return [MonthFigures(str(m["month"]), _decimal(m.get("dso")), _decimal(m.get("best_possible_dso")),
                         _decimal(m.get("add")), _decimal(m.get("cei"))) for m in months]


def forecast_weeks(report: Mapping[str, Any], actuals: Mapping[date, Decimal] | None = None) -> list[ForecastWeek]:
    """GET /reports/forecast's `weeks` (`{"start", "end", "expected", "low", "high"}`) -> ForecastWeeks, with the
    actual receipts of the weeks that are over where `actuals` (by week start) has them."""
    weeks = []
    for week in sorted(report.get("weeks") or [], key=lambda w: str(w["start"])):
        start = date.fromisoformat(str(week["start"]))
        weeks.append(ForecastWeek(start, date.fromisoformat(str(week["end"])), Decimal(str(week["expected"])),
                                  Decimal(str(week["low"])), Decimal(str(week["high"])),
                                  (actuals or {}).get(start)))
    return weeks


__all__ = ["Dashboard", "DisputeAges", "ForecastWeek", "MonthFigures", "OverdueCustomer", "aging_figures",
           "dispute_ages", "forecast_weeks", "month_figures"]
