"""The dashboard's figure sources (services/ports.py: AgingSource, MonthlyMetricsSource, ForecastSource,
OverdueCustomersSource), answered by the same use cases as the report routes, so the page and the JSON never
disagree."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from chalicelib.domain.analytics.behaviour import Risk
from chalicelib.domain.analytics.forecast import snapshot_day
from chalicelib.services.dashboard import aging_figures, forecast_weeks, month_figures
from chalicelib.services.forecast import CashForecast, forecast_view
from chalicelib.services.ports import AgingFigures, ForecastWeek, MonthFigures, OverdueCustomer, StoredCustomer
from chalicelib.services.reports import ReportsService

PAST_WEEKS = 8  # forecast weeks already over that the chart sets against their actual receipts


class ReportAging:
    def __init__(self, reports: ReportsService) -> None:
        self.reports = reports

    def aging(self, as_of: date, currency: str) -> AgingFigures | None:
        if currency not in self.reports.analytics.currencies():
            return None
        return aging_figures(self.reports.aging(as_of, currency, limit=1))


class ReportMonths:
    def __init__(self, reports: ReportsService) -> None:
        self.reports = reports

    def monthly(self, first_month: date, as_of: date, currency: str) -> Sequence[MonthFigures]:
        if currency not in self.reports.analytics.currencies():
            return []
        return month_figures(self.reports.metrics(first_month, as_of, currency))


class ForecastAgainstActuals:
    """The forecast from `as_of` on, after the weeks already over: each as it was forecast one week ahead (the
    stored snapshot of the day before it began) with what was actually received in it."""

    def __init__(self, forecast: CashForecast) -> None:
        self.cash = forecast

    def forecast_against_actuals(self, as_of: date, currency: str, weeks: int) -> Sequence[ForecastWeek]:
        ahead = self.cash.forecast(as_of, weeks, currency).get(currency)
        coming = forecast_weeks(forecast_view(currency, ahead)) if ahead is not None else []
        starts = [as_of + timedelta(days=1 - 7 * k) for k in range(PAST_WEEKS, 0, -1)]
        stored = self.cash.snapshots.get_forecasts(currency, [snapshot_day(s, 1) for s in starts])
        received = self.cash.receipts.received(starts[0], as_of)
        past = []
        for start in starts:
            document = stored.get(snapshot_day(start, 1))
            if document is None or not document.get("weeks"):
                continue
            week = document["weeks"][0]
            actual = sum(received.get((currency, start + timedelta(days=d)), 0) for d in range(7))
            past.append(ForecastWeek(start, start + timedelta(days=6), Decimal(str(week["expected"])),
                                     Decimal(str(week["low"])), Decimal(str(week["high"])),
                                     _units(actual, str(week["expected"]))))
        return [*past, *coming]


class OverdueWithRisk:
    """The customers with most past due at as_of (the ledger projection's per-customer balances), each with its
    late-payment risk (the settlement log)."""

    def __init__(self, reports: ReportsService, customers: Callable[[Iterable[str]], dict[str, StoredCustomer]],
                 risk_of: Callable[[str, date], Risk]) -> None:
        self.reports = reports
        self.customers = customers
        self.risk_of = risk_of

    def largest_overdue(self, as_of: date, currency: str, limit: int) -> Sequence[OverdueCustomer]:
        balances = [b for b in self.reports.analytics.customer_balances(as_of, currency) if not b.overdue.is_zero]
        top = sorted(balances, key=lambda b: (-b.overdue.amount, b.customer_id))[:limit]
        names = {cid: stored.customer.name for cid, stored in self.customers(b.customer_id for b in top).items()}
        out = []
        for b in top:
            risk = self.risk_of(b.customer_id, as_of)
            out.append(OverdueCustomer(b.customer_id, names.get(b.customer_id, b.customer_id), b.overdue.amount,
                                       b.balance.amount, risk.band, risk.reasons))
        return out


def _units(minor: int, like: str) -> Decimal:
    """Minor units -> an amount with as many decimals as `like` (a stored amount of the same currency) has."""
    places = len(like.split(".", 1)[1]) if "." in like else 0
    return Decimal(minor).scaleb(-places)
