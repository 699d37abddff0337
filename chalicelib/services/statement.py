"""The statement of account of one customer (issue 13 item 2; formats/statement_pdf.py renders the same statement as
a PDF): the open invoices with their days overdue and the early-payment offer still open, the unapplied credit notes,
the recent payments, and the totals per currency (open less credits).

Reads (the adapter: adapters/portal.py `DynamoStatementReader`), never a Scan: the customer (one GetItem), its
open invoices (the sparse `open_by_customer` index: one Query, no closed invoice read), its credit notes (the
credit notes' `by_customer` index) and its latest payments (the payments' `by_customer` index, newest first,
limited). Four DynamoDB requests for a statement of any usual size (bench/portal.py measures it).

`as_of` is the day the statement speaks for: days overdue, the discount offers still open and the payments up to
that day, and only invoices issued by then. The open invoices and their amounts are those of now (the index holds
the current state): a statement for a past day is not a point-in-time report (that is GET /reports/aging)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from chalicelib.domain.customer import Customer
from chalicelib.domain.dunning.charges import EarlyPaymentDiscount, early_payment_discount
from chalicelib.domain.errors import NotFound
from chalicelib.domain.invoice import OUTSTANDING_STATUSES, CreditNote, Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentKind, PaymentRecord

RECENT_PAYMENT_DAYS = 90  # payments received within this many days before as_of
RECENT_PAYMENTS = 10  # at most this many, newest first


@dataclass(frozen=True)
class StatementLine:
    """One open invoice."""

    invoice_id: str
    number: str
    issue_date: date
    due_date: date
    days_overdue: int  # 0 when not yet due at as_of
    open_amount: Money  # the balance (charges included)
    status: str  # open | partially_paid | disputed
    discount: EarlyPaymentDiscount | None  # the offer still open at as_of


@dataclass(frozen=True)
class StatementCredit:
    """An unapplied credit note (the part of it not yet applied)."""

    number: str
    issued_on: date
    amount: Money


@dataclass(frozen=True)
class StatementPayment:
    """A recent payment of this customer: what was received (less what was since refunded or charged back)."""

    received_on: date
    amount: Money
    reference: str  # the invoice numbers it paid, comma separated ("" when none matched yet: on account)


@dataclass(frozen=True)
class Statement:
    customer: Customer
    as_of: date
    lines: tuple[StatementLine, ...]  # by due date, oldest first
    credits: tuple[StatementCredit, ...]  # by issue date
    payments: tuple[StatementPayment, ...]  # newest first
    totals: dict[str, Money]  # per currency: open less unapplied credits (may be negative: the customer is owed)

    @property
    def open_totals(self) -> dict[str, Money]:
        """Per currency: what the open invoices add up to, before credits."""
        totals: dict[str, Money] = {}
        for line in self.lines:
            _add(totals, line.open_amount)
        return totals

    @property
    def overdue_totals(self) -> dict[str, Money]:
        totals: dict[str, Money] = {}
        for line in self.lines:
            if line.days_overdue > 0:
                _add(totals, line.open_amount)
        return totals

    def line(self, invoice_id: str) -> StatementLine | None:
        return next((x for x in self.lines if x.invoice_id == invoice_id), None)


class StatementReader(Protocol):
    """What a statement reads: each method one request to the store (a Query may page past 1 MB)."""

    def customer(self, customer_id: str) -> Customer | None: ...
    def open_invoices(self, customer_id: str) -> list[Invoice]:
        """The customer's outstanding invoices (open, partially paid, disputed)."""
    def credit_notes(self, customer_id: str) -> list[CreditNote]: ...
    def payments(self, customer_id: str, received_from: date, received_to: date, limit: int
                 ) -> list[PaymentRecord]:
        """The customer's money movements received in [received_from, received_to], newest first, at most
        `limit`."""


def _add(totals: dict[str, Money], amount: Money) -> None:
    totals[amount.currency] = totals.get(amount.currency, Money.zero(amount.currency)) + amount


def build_line(invoice: Invoice, customer: Customer, as_of: date) -> StatementLine:
    return StatementLine(
        invoice_id=invoice.invoice_id, number=invoice.number, issue_date=invoice.issue_date,
        due_date=invoice.due_date, days_overdue=max(0, (as_of - invoice.due_date).days), open_amount=invoice.balance,
        status=invoice.status.value, discount=early_payment_discount(invoice, customer.payment_terms, as_of))


def build_statement(customer: Customer, as_of: date, invoices: Sequence[Invoice], credit_notes: Sequence[CreditNote],
                    payments: Sequence[PaymentRecord]) -> Statement:
    """Pure: the statement from what was read."""
    lines = tuple(
        build_line(inv, customer, as_of)
        for inv in sorted(invoices, key=lambda i: (i.due_date, i.number))
        if inv.customer_id == customer.customer_id and inv.status in OUTSTANDING_STATUSES and inv.balance.amount > 0
        and inv.issue_date <= as_of)
    credits = tuple(
        StatementCredit(number=note.number, issued_on=note.issue_date, amount=note.unapplied)
        for note in sorted(credit_notes, key=lambda n: (n.issue_date, n.number))
        if note.customer_id == customer.customer_id and note.unapplied.amount > 0 and note.issue_date <= as_of)
    shown: list[StatementPayment] = []
    for payment in payments:
        if payment.kind is not PaymentKind.PAYMENT or payment.customer_id not in (None, customer.customer_id):
            continue
        kept = payment.amount - payment.reversed_amount
        if kept.amount <= 0:
            continue
        numbers = ", ".join(dict.fromkeys(a.number for a in payment.allocations))
        shown.append(StatementPayment(payment.occurred_at.date(), kept, numbers))
    shown.sort(key=lambda p: p.received_on, reverse=True)
    totals: dict[str, Money] = {}
    for line in lines:
        _add(totals, line.open_amount)
    for credit in credits:
        _add(totals, -credit.amount)
    return Statement(customer, as_of, lines, credits, tuple(shown[:RECENT_PAYMENTS]), totals)


class Statements:
    """The statement use case (the portal's statement page, the statement PDF)."""

    def __init__(self, reader: StatementReader) -> None:
        self.reader = reader

    def statement(self, customer_id: str, as_of: date) -> Statement:
        """NotFound for an unknown customer."""
        customer = self.reader.customer(customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        return self.of_customer(customer, as_of)

    def of_customer(self, customer: Customer, as_of: date) -> Statement:
        """The statement of a customer already read (the portal reads it with the session check): three reads."""
        customer_id = customer.customer_id
        return build_statement(
            customer, as_of, self.reader.open_invoices(customer_id), self.reader.credit_notes(customer_id),
            self.reader.payments(customer_id, as_of - timedelta(days=RECENT_PAYMENT_DAYS), as_of, RECENT_PAYMENTS))
