"""The statement of account (services/statement.py) from in-memory reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.cash_application import Allocation
from chalicelib.domain.customer import Customer
from chalicelib.domain.errors import NotFound
from chalicelib.domain.invoice import CreditNote, Document, DocumentKind, Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentKind, PaymentRecord
from chalicelib.domain.terms import PaymentTerms
from chalicelib.services.statement import Statements

AS_OF = date(2026, 12, 7)


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def invoice(number: str, total: str, issued: date, due: date, customer: str = "acme", currency: str = "EUR"
            ) -> Invoice:
    return Invoice.from_document(Document(
        kind=DocumentKind.INVOICE, number=number, customer_id=customer, issue_date=issued, due_date=due,
        total=Money.of(total, currency), paid_in_source=Money.zero(currency)))


def payment(pid: str, amount: str, on: date, numbers: tuple[str, ...], kind: PaymentKind = PaymentKind.PAYMENT
            ) -> PaymentRecord:
    at = datetime(on.year, on.month, on.day, 10, tzinfo=UTC)
    allocations = tuple(Allocation(f"id-{n}", n, eur(amount)) for n in numbers[:1])
    unapplied = eur("0") if allocations else eur(amount)
    return PaymentRecord(payment_id=pid, provider="bank", payment_ref=pid, kind=kind, amount=eur(amount),
                         allocations=allocations, unapplied=unapplied, occurred_at=at, recorded_at=at,
                         recorded_by="system", customer_id="acme")


class Reader:
    def __init__(self, customer: Customer | None, invoices: list[Invoice], notes: list[CreditNote],
                 payments: list[PaymentRecord]) -> None:
        self._customer, self.invoices, self.notes, self._payments = customer, invoices, notes, payments
        self.requests = 0

    def customer(self, customer_id: str) -> Customer | None:
        self.requests += 1
        return self._customer if self._customer and self._customer.customer_id == customer_id else None

    def open_invoices(self, customer_id: str) -> list[Invoice]:
        self.requests += 1
        return [i for i in self.invoices if i.customer_id == customer_id]

    def credit_notes(self, customer_id: str) -> list[CreditNote]:
        self.requests += 1
        return [n for n in self.notes if n.customer_id == customer_id]

    def payments(self, customer_id: str, received_from: date, received_to: date, limit: int) -> list[PaymentRecord]:
        self.requests += 1
        return [p for p in self._payments if received_from <= p.occurred_at.date() <= received_to][:limit]


def customer(terms: str | None = "2/10 net 30") -> Customer:
    return Customer("acme", "Acme GmbH", payment_terms=PaymentTerms.parse(terms) if terms else None)


def test_lines_totals_credits_payments_and_the_discount_offer() -> None:
    late = invoice("INV-1", "1000.00", date(2026, 10, 1), date(2026, 10, 31))
    fresh = invoice("INV-2", "500.00", date(2026, 12, 1), date(2026, 12, 31))
    usd = invoice("INV-3", "70.00", date(2026, 11, 1), date(2026, 12, 1), currency="USD")
    paid_part, _ = late.with_payment(eur("100.00"))
    note = CreditNote("cn-1", "CN-1", "acme", date(2026, 11, 5), eur("50.00"), None, eur("20.00"))
    used = CreditNote("cn-2", "CN-2", "acme", date(2026, 11, 6), eur("50.00"), None, eur("50.00"))
    reader = Reader(customer(), [fresh, paid_part, usd], [note, used],
                    [payment("p1", "100.00", date(2026, 12, 1), ("INV-1",)),
                     payment("p0", "30.00", date(2026, 11, 20), ())])
    statement = Statements(reader).statement("acme", AS_OF)

    assert [line.number for line in statement.lines] == ["INV-1", "INV-3", "INV-2"]
    first = statement.lines[0]
    assert (first.days_overdue, first.open_amount, first.status) == (37, eur("900.00"), "partially_paid")
    assert first.discount is None
    offer = statement.lines[2].discount
    assert offer is not None and (offer.amount, offer.pay_amount, offer.last_day) == (
        eur("10.00"), eur("490.00"), date(2026, 12, 11))
    assert statement.lines[1].days_overdue == 6 and statement.lines[2].days_overdue == 0
    assert [(c.number, c.amount) for c in statement.credits] == [("CN-1", eur("30.00"))]
    assert [(p.received_on, p.amount, p.reference) for p in statement.payments] == [
        (date(2026, 12, 1), eur("100.00"), "INV-1"), (date(2026, 11, 20), eur("30.00"), "")]
    assert statement.totals == {"EUR": eur("1370.00"), "USD": Money.of("70.00", "USD")}
    assert statement.open_totals["EUR"] == eur("1400.00")
    assert statement.overdue_totals == {"EUR": eur("900.00"), "USD": Money.of("70.00", "USD")}
    assert reader.requests == 4


def test_paid_and_other_customers_invoices_are_left_out_and_reversed_payments_too() -> None:
    paid, _ = invoice("INV-1", "10.00", date(2026, 11, 1), date(2026, 12, 1)).with_payment(eur("10.00"))
    other = invoice("X-1", "10.00", date(2026, 11, 1), date(2026, 12, 1), customer="other")
    refunded = replace(payment("p1", "10.00", date(2026, 12, 1), ()), unapplied=eur("0"), reversed=eur("10.00"))
    refund = payment("r1", "5.00", date(2026, 12, 2), (), kind=PaymentKind.REFUND)
    reader = Reader(customer(None), [paid, other], [], [refunded, refund])
    reader.invoices = [paid, other]
    reader.open_invoices = lambda customer_id: [paid, other]  # type: ignore[method-assign]
    statement = Statements(reader).statement("acme", AS_OF)
    assert statement.lines == () and statement.payments == () and statement.totals == {}


def test_an_invoice_issued_after_the_day_is_not_on_its_statement() -> None:
    earlier = invoice("INV-1", "10.00", date(2026, 11, 1), date(2026, 12, 1))
    later = invoice("INV-2", "20.00", AS_OF + timedelta(days=1), AS_OF + timedelta(days=31))
    reader = Reader(customer(None), [earlier, later], [], [])
    reader.open_invoices = lambda customer_id: [earlier, later]  # type: ignore[method-assign]
    statement = Statements(reader).statement("acme", AS_OF)
    assert [line.number for line in statement.lines] == ["INV-1"] and statement.totals == {"EUR": eur("10.00")}


def test_an_unknown_customer_is_not_found() -> None:
    with pytest.raises(NotFound):
        Statements(Reader(None, [], [], [])).statement("nobody", AS_OF)
