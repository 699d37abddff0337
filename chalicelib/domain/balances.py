"""A customer's balances as the finance API shows them: what is outstanding and overdue per currency, and the
credit not yet applied. Pure: the read side hands in the customer's outstanding invoices and credit notes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from chalicelib.domain.invoice import CreditNote, Invoice
from chalicelib.domain.money import Money


@dataclass(frozen=True)
class BalanceSummary:
    outstanding: dict[str, Money]
    overdue: dict[str, Money]
    open_invoices: int
    overdue_invoices: int
    unapplied_credit: dict[str, Money]
    oldest_due_date: date | None


def _add(totals: dict[str, Money], amount: Money) -> None:
    totals[amount.currency] = totals.get(amount.currency, Money.zero(amount.currency)) + amount


def summarize(outstanding_invoices: Iterable[Invoice], credit_notes: Iterable[CreditNote],
              today: date) -> BalanceSummary:
    """Overdue means due before `today` (the day it falls due is not late yet)."""
    outstanding: dict[str, Money] = {}
    overdue: dict[str, Money] = {}
    open_count = overdue_count = 0
    oldest: date | None = None
    for invoice in outstanding_invoices:
        _add(outstanding, invoice.balance)
        open_count += 1
        if invoice.due_date < today:
            _add(overdue, invoice.balance)
            overdue_count += 1
            oldest = invoice.due_date if oldest is None else min(oldest, invoice.due_date)
    credit: dict[str, Money] = {}
    for note in credit_notes:
        if not note.unapplied.is_zero:
            _add(credit, note.unapplied)
    return BalanceSummary(outstanding, overdue, open_count, overdue_count, credit, oldest)
