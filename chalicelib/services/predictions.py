"""Use case: predicted pay dates of the invoices open at the end of `as_of` (GET /reports/predictions), from what was
known then only.

Open at as_of: invoices issued on or before it and not settled by it. Today's: the outstanding invoices (the by_status
index, or the customer's). For a past day, also the invoices the settlement log says were settled after it. What the
model learns from: each customer's latest settlements on or before as_of (one Query per customer of the page) and the
portfolio's latest (PORTFOLIO_LIMIT, once per request, cached a few minutes). For a past day the balance shown is the
invoice's balance now, or its total for one settled since, and its dispute and promise are not used (today's state
would leak what happened after as_of); see README, "Payment prediction and cash forecast".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from time import monotonic
from typing import Any, Protocol

from chalicelib.domain.analytics.prediction import (
    HISTORY_LIMIT,
    PORTFOLIO_LIMIT,
    OpenInvoice,
    Portfolio,
    Prediction,
    fit_portfolio,
    predict,
)
from chalicelib.domain.errors import InvalidDocument
from chalicelib.domain.invoice import OUTSTANDING_STATUSES, Invoice
from chalicelib.domain.money import Money
from chalicelib.services.ports import InvoiceFilter, Page, SettlementEntry, SettlementStore

PORTFOLIO_CACHE_SECONDS = 300.0
MAX_MONTHS_BACK = 96  # a cursor names at most 100 partitions: 3 of open invoices, then one per month since as_of


class OpenInvoices(Protocol):
    def invoices(self, f: InvoiceFilter, limit: int, cursor: dict[str, Any] | None) -> Page: ...


class SettledAfter(Protocol):
    def settled_after(self, as_of: date, until: date, customer_id: str | None, limit: int,
                      cursor: dict[str, Any] | None) -> tuple[list[SettlementEntry], dict[str, Any] | None]: ...


class PredictionSettlements(SettlementStore, SettledAfter, Protocol):
    pass


@dataclass(frozen=True)
class OpenAtCutoff:
    """An invoice open at the end of as_of, as the predictions list shows it."""

    invoice_id: str
    number: str
    customer_id: str
    balance: Money
    issue_date: date
    due_date: date
    amount_minor: int
    disputed: bool = False
    promised_until: date | None = None
    source: Invoice | None = None  # the invoice as it is now, when as_of is today (promises and plans count)


@dataclass(frozen=True)
class PredictedInvoice:
    invoice: OpenAtCutoff
    prediction: Prediction

    def to_dict(self) -> dict[str, Any]:
        i, p = self.invoice, self.prediction
        return {"invoice_id": i.invoice_id, "number": i.number, "customer_id": i.customer_id,
                "currency": i.balance.currency, "balance": i.balance.to_api(), "due_date": i.due_date.isoformat(),
                "predicted_pay_date": p.predicted_pay_date.isoformat(),
                "late_probability": f"{p.late_probability:.2f}", "expected_days_late": p.expected_days_late,
                "reasons": list(p.reasons)}


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


class Predictions:
    def __init__(self, invoices: OpenInvoices, settlements: PredictionSettlements,
                 today: Callable[[], date]) -> None:
        self.invoices = invoices
        self.settlements = settlements
        self.today = today
        self._portfolios: dict[date, tuple[float, Portfolio]] = {}

    def check_as_of(self, as_of: date) -> date:
        today = self.today()
        if as_of > today:
            raise InvalidDocument("as_of is in the future: nothing is known about it yet", field="as_of")
        if _months_between(as_of, today) > MAX_MONTHS_BACK:
            raise InvalidDocument(f"as_of is more than {MAX_MONTHS_BACK} months back", field="as_of")
        return today

    def portfolio(self, as_of: date) -> Portfolio:
        hit = self._portfolios.get(as_of)
        if hit is not None and monotonic() - hit[0] < PORTFOLIO_CACHE_SECONDS:
            return hit[1]
        entries = self.settlements.portfolio(as_of, PORTFOLIO_LIMIT)
        portfolio = fit_portfolio(((e.customer_id, e.settled()) for e in entries), as_of)
        self._portfolios = {k: v for k, v in self._portfolios.items() if k != as_of}
        self._portfolios[as_of] = (monotonic(), portfolio)
        return portfolio

    def open_at(self, as_of: date, customer_id: str | None, limit: int, cursor: dict[str, Any] | None
                ) -> tuple[list[OpenAtCutoff], dict[str, Any] | None]:
        """A page of the invoices open at the end of as_of: today's outstanding ones issued by then (partitions
        0..n-1), then for a past as_of those settled after it (partitions n.., one per month, or the customer's)."""
        today = self.check_as_of(as_of)
        current = as_of >= today
        statuses = 1 if customer_id else len(OUTSTANDING_STATUSES)
        filters = InvoiceFilter(statuses=OUTSTANDING_STATUSES, customer_id=customer_id)
        out: list[OpenAtCutoff] = []
        position = int(cursor["p"]) if cursor else 0
        key = cursor.get("k") if cursor else None
        while len(out) < limit:
            if position < statuses:
                page = self.invoices.invoices(filters, limit - len(out), {"p": position, "k": key})
                out.extend(self._open_now(i, as_of, current) for i in page.items if i.issue_date <= as_of)
                if page.cursor is None:
                    position, key = statuses, None
                else:
                    position, key = int(page.cursor["p"]), page.cursor.get("k")
                continue
            if current:
                return out, None
            entries, after = self.settlements.settled_after(as_of, today, customer_id, limit - len(out),
                                                            {"p": position - statuses, "k": key})
            out.extend(_settled_since(e) for e in entries if e.issue_date <= as_of)
            if after is None:
                return out, None
            position, key = statuses + int(after["p"]), after.get("k")
        return out, {"p": position, "k": key}

    @staticmethod
    def _open_now(invoice: Invoice, as_of: date, current: bool) -> OpenAtCutoff:
        disputed = invoice.disputed or invoice.disputed_amount is not None
        return OpenAtCutoff(invoice.invoice_id, invoice.number, invoice.customer_id, invoice.balance,
                            invoice.issue_date, invoice.due_date, invoice.total.minor,
                            disputed=disputed and current, promised_until=invoice.promised_until if current else None,
                            source=invoice if current else None)

    def predict(self, invoices: Sequence[OpenAtCutoff], as_of: date) -> list[PredictedInvoice]:
        """Each invoice's prediction: one Query per customer of `invoices`, and the portfolio."""
        portfolio = self.portfolio(as_of)
        histories = {c: [e.settled() for e in self.settlements.latest(c, as_of, HISTORY_LIMIT)]
                     for c in sorted({i.customer_id for i in invoices})}
        return [PredictedInvoice(i, predict(histories[i.customer_id],
                                            OpenInvoice(i.issue_date, i.due_date, i.amount_minor, i.disputed,
                                                        i.promised_until), portfolio, as_of))
                for i in invoices]

    def page(self, as_of: date, customer_id: str | None, limit: int, cursor: dict[str, Any] | None
             ) -> tuple[list[PredictedInvoice], dict[str, Any] | None]:
        invoices, next_cursor = self.open_at(as_of, customer_id, limit, cursor)
        return self.predict(invoices, as_of), next_cursor

    def all_open(self, as_of: date, page_size: int = 500) -> list[PredictedInvoice]:
        """Every invoice open at as_of with its prediction (the cash forecast)."""
        out: list[PredictedInvoice] = []
        cursor: dict[str, Any] | None = None
        while True:
            invoices, cursor = self.open_at(as_of, None, page_size, cursor)
            out.extend(self.predict(invoices, as_of))
            if cursor is None:
                return out


def _settled_since(entry: SettlementEntry) -> OpenAtCutoff:
    return OpenAtCutoff(entry.invoice_id, entry.number, entry.customer_id,
                        Money.from_minor(entry.amount_minor, entry.currency), entry.issue_date, entry.due_date,
                        entry.amount_minor)
