"""What the finance API asks the read side for, and gets back: plain data, no AWS types, so the API
modules import nothing heavy when a Lambda starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.domain.invoice import InvoiceStatus
from chalicelib.domain.money import Money


@dataclass(frozen=True)
class InvoiceFilter:
    statuses: Sequence[InvoiceStatus] = ()
    customer_id: str | None = None
    due_before: date | None = None  # due_date < due_before
    due_after: date | None = None  # due_date > due_after


@dataclass(frozen=True)
class PaymentFilter:
    unapplied: bool = False
    customer_id: str | None = None
    received_from: date | None = None  # inclusive
    received_to: date | None = None  # inclusive


@dataclass(frozen=True)
class Page:
    items: list[Any]
    cursor: dict[str, Any] | None  # {"p": partition index, "k": DynamoDB LastEvaluatedKey}


@dataclass(frozen=True)
class BalanceSummary:
    outstanding: dict[str, Money]
    overdue: dict[str, Money]
    open_invoices: int
    overdue_invoices: int
    unapplied_credit: dict[str, Money]
    oldest_due_date: date | None
