"""Use cases: the 13-week cash forecast (GET /reports/forecast), its daily snapshot per currency (the
snapshot_forecasts schedule, once per as_of), and its accuracy against receipts (GET /reports/forecast-accuracy).

Inflows (README, "Payment prediction and cash forecast"): each invoice open at as_of spreads its balance over its
predicted days-late distribution (services/predictions.py). When as_of is today, a promise to pay puts its amount on
the promised date with probability PROMISE_KEPT (the rest follows the invoice's distribution), and an invoice in an
active payment plan is replaced by the plan's unpaid instalments, each on its due date (a missed one: the next day)
with probability INSTALMENT_KEPT. For a past as_of neither counts (today's state would leak what happened after it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from chalicelib.domain.analytics.forecast import (
    HORIZONS,
    Forecast,
    HorizonAccuracy,
    Inflow,
    WeekAccuracy,
    accuracy_weeks,
    forecast,
    invoice_inflow,
    snapshot_day,
)
from chalicelib.domain.errors import InvalidDocument
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.plans import PaymentPlan, PlanStatus, progress
from chalicelib.services.predictions import PredictedInvoice, Predictions

PROMISE_KEPT = 0.8
INSTALMENT_KEPT = 0.85
MAX_WEEKS = 26
MAX_ACCURACY_DAYS = 371


class PlanReader(Protocol):
    def get(self, plan_id: str) -> PaymentPlan | None: ...


class ForecastSnapshots(Protocol):
    def put_forecast(self, currency: str, as_of: date, document: Mapping[str, Any]) -> bool:
        """Store unless one is stored for (currency, as_of); True when stored."""
    def get_forecasts(self, currency: str, days: Sequence[date]) -> dict[date, dict[str, Any]]: ...
    def currencies(self) -> list[str]: ...


class Receipts(Protocol):
    def received(self, start: date, end: date) -> dict[tuple[str, date], int]:
        """Payments (money in) received per (currency, day) from start to end inclusive, in minor units."""


def _amount(minor: int, currency: str) -> str:
    return Money.from_minor(minor, currency).to_api()


def _percent(value: float | None) -> str | None:
    return None if value is None else str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def forecast_view(currency: str, result: Forecast) -> dict[str, Any]:
    return {"as_of": result.as_of.isoformat(), "currency": currency, "open_ar": _amount(result.open_ar, currency),
            "weeks": [{"start": w.start.isoformat(), "end": w.end.isoformat(),
                       "expected": _amount(w.expected, currency), "low": _amount(w.low, currency),
                       "high": _amount(w.high, currency)} for w in result.weeks],
            "beyond": _amount(result.beyond, currency), "at_risk": _amount(result.at_risk, currency)}


class CashForecast:
    def __init__(self, predictions: Predictions, plans: PlanReader, snapshots: ForecastSnapshots,
                 receipts: Receipts, today: Callable[[], date]) -> None:
        self.predictions = predictions
        self.plans = plans
        self.snapshots = snapshots
        self.receipts = receipts
        self.today = today

    def forecast(self, as_of: date, weeks: int, currency: str | None = None) -> dict[str, Forecast]:
        """One forecast per currency of the open invoices (or only `currency`)."""
        if not 1 <= weeks <= MAX_WEEKS:
            raise InvalidDocument(f"weeks must be from 1 to {MAX_WEEKS}", field="weeks")
        today = self.predictions.check_as_of(as_of)
        current = as_of >= today
        by_currency: dict[str, list[PredictedInvoice]] = defaultdict(list)
        for predicted in self.predictions.all_open(as_of):
            by_currency[predicted.invoice.balance.currency].append(predicted)
        if currency is not None:
            by_currency = {currency: by_currency.get(currency, [])}
        return {c: self._one(as_of, weeks, items, current) for c, items in sorted(by_currency.items())}

    def _one(self, as_of: date, weeks: int, items: Sequence[PredictedInvoice], current: bool) -> Forecast:
        inflows: list[Inflow] = []
        planned: dict[str, list[Invoice]] = defaultdict(list)
        open_ar = 0
        for item in items:
            balance = item.invoice.balance.minor
            open_ar += balance
            source = item.invoice.source
            if current and source is not None and source.in_plan and source.plan_id:
                planned[source.plan_id].append(source)
                continue
            spread = invoice_inflow(balance, item.invoice.due_date, item.prediction.distribution)
            promised = source.promised_until if current and source is not None else None
            if source is None or promised is None or promised <= as_of:
                inflows.append(spread)
                continue
            amount = min(balance, source.promised_amount.minor if source.promised_amount else balance)
            kept = ((promised, PROMISE_KEPT), *((d, p * (1 - PROMISE_KEPT)) for d, p in spread.dates))
            inflows.append(Inflow(amount, kept, item.invoice.due_date))
            if balance > amount:
                inflows.append(Inflow(balance - amount, spread.dates, item.invoice.due_date))
        for plan_id, invoices in sorted(planned.items()):
            inflows.extend(self._instalments(plan_id, invoices, as_of))
        return forecast(as_of, weeks, open_ar, inflows)

    def _instalments(self, plan_id: str, invoices: list[Invoice], as_of: date) -> list[Inflow]:
        plan = self.plans.get(plan_id)
        if plan is None or plan.status is not PlanStatus.ACTIVE:
            return [Inflow(i.balance.minor, ((as_of + timedelta(days=1), INSTALMENT_KEPT),), None) for i in invoices]
        state = progress(plan, {i.invoice_id: i for i in invoices}, as_of, missing_paid=True)
        return [Inflow(row.remaining.minor, ((max(row.instalment.due_date, as_of + timedelta(days=1)),
                                              INSTALMENT_KEPT),), None)
                for row in state.instalments if row.remaining.minor > 0]

    def snapshot(self, as_of: date | None = None, weeks: int = 13) -> dict[str, bool]:
        """Store the forecast per currency as of `as_of` (default: today by the service's clock), once per as_of
        (a second run stores nothing)."""
        as_of = as_of or self.today()
        return {currency: self.snapshots.put_forecast(currency, as_of, forecast_view(currency, result))
                for currency, result in self.forecast(as_of, weeks).items()}

    def accuracy(self, start: date, end: date, currency: str | None = None) -> dict[str, Any]:
        if end < start:
            raise InvalidDocument("to is before from", field="to")
        if (end - start).days > MAX_ACCURACY_DAYS:
            raise InvalidDocument(f"at most {MAX_ACCURACY_DAYS} days", field="to")
        weeks = accuracy_weeks(start, end)
        received = self.receipts.received(start, end) if weeks else {}
        currencies = [currency] if currency else sorted(set(self.snapshots.currencies()) |
                                                       {c for c, _ in received})
        blocks = []
        for cur in currencies:
            days = sorted({snapshot_day(week_start, h) for week_start, _ in weeks for h in HORIZONS})
            stored = self.snapshots.get_forecasts(cur, days) if days else {}
            horizons = []
            for h in HORIZONS:
                rows = []
                for week_start, week_end in weeks:
                    document = stored.get(snapshot_day(week_start, h))
                    planned = None
                    if document is not None and len(document.get("weeks", [])) >= h:
                        planned = Money.of(document["weeks"][h - 1]["expected"], cur).minor
                    actual = sum(received.get((cur, week_start + timedelta(days=k)), 0) for k in range(7))
                    rows.append(WeekAccuracy(week_start, week_end, planned, actual))
                result = HorizonAccuracy(h, tuple(rows))
                horizons.append({
                    "weeks_ahead": h, "wape": _percent(result.wape), "bias": _percent(result.bias),
                    "weeks": [{"start": w.start.isoformat(), "end": w.end.isoformat(),
                               "forecast": None if w.forecast is None else _amount(w.forecast, cur),
                               "actual": _amount(w.actual, cur)} for w in result.weeks]})
            blocks.append({"currency": cur, "horizons": horizons})
        return {"from": start.isoformat(), "to": end.isoformat(), "currencies": blocks}
