"""A customer's balances: outstanding and overdue per currency, overdue only once the due date has passed, and the
credit not yet applied."""

from dataclasses import replace
from datetime import date

from chalicelib.domain.balances import summarize
from chalicelib.domain.invoice import CreditNote, DocumentKind, Invoice
from chalicelib.domain.money import Money
from tests.unit.domain.test_invoice import doc

TODAY = date(2026, 12, 2)


def test_outstanding_overdue_and_unapplied_credit_per_currency():
    invoices = [Invoice.from_document(doc("INV-1", "100.00", due=date(2026, 11, 20))),
                Invoice.from_document(doc("INV-2", "50.00", paid="20", due=date(2026, 12, 1))),
                Invoice.from_document(doc("INV-3", "70.00", due=TODAY)),  # due today: not late yet
                Invoice.from_document(doc("INV-4", "10.00", due=date(2026, 11, 5), currency="USD"))]
    used = replace(CreditNote.from_document(doc("CN-1", "30.00", kind=DocumentKind.CREDIT_NOTE, due=None)),
                   applied=Money.of("30", "EUR"))
    left = CreditNote.from_document(doc("CN-2", "15.00", kind=DocumentKind.CREDIT_NOTE, due=None))
    summary = summarize(invoices, [used, left], TODAY)
    assert summary.outstanding == {"EUR": Money.of("200", "EUR"), "USD": Money.of("10", "USD")}
    assert summary.overdue == {"EUR": Money.of("130", "EUR"), "USD": Money.of("10", "USD")}
    assert (summary.open_invoices, summary.overdue_invoices) == (4, 3)
    assert summary.oldest_due_date == date(2026, 11, 5)
    assert summary.unapplied_credit == {"EUR": Money.of("15", "EUR")}


def test_nothing_outstanding():
    summary = summarize([], [], TODAY)
    assert (summary.outstanding, summary.overdue, summary.unapplied_credit) == ({}, {}, {})
    assert (summary.open_invoices, summary.overdue_invoices, summary.oldest_due_date) == (0, 0, None)
