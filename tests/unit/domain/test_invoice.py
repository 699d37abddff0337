from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from chalicelib.domain.errors import AmendmentRejected, CurrencyMismatch, InvalidDocument
from chalicelib.domain.ids import credit_note_id, customer_id_for, invoice_id
from chalicelib.domain.invoice import CreditNote, Document, DocumentKind, Invoice, InvoiceStatus
from chalicelib.domain.money import Money
from chalicelib.domain.terms import PaymentTerms


def doc(number="INV-1", total="100.00", paid="0", due=date(2026, 12, 1), currency="EUR", customer="acme", **kw):
    return Document(kind=kw.pop("kind", DocumentKind.INVOICE), number=number, customer_id=customer,
                    issue_date=date(2026, 11, 1), due_date=due, total=Money.of(total, currency),
                    paid_in_source=Money.of(paid, currency), **kw)


def test_new_invoice_is_open_with_full_balance():
    invoice = Invoice.from_document(doc())
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.balance == Money.of("100", "EUR")
    assert invoice.is_overdue(date(2026, 12, 2)) and not invoice.is_overdue(date(2026, 12, 1))


def test_paid_in_erp_drives_status():
    assert Invoice.from_document(doc(paid="40")).status is InvoiceStatus.PARTIALLY_PAID
    assert Invoice.from_document(doc(paid="100")).status is InvoiceStatus.PAID
    assert Invoice.from_document(doc(void=True)).status is InvoiceStatus.VOID


def test_document_validation():
    with pytest.raises(InvalidDocument):
        doc(total="-1")
    with pytest.raises(InvalidDocument):
        doc(due=date(2026, 10, 1))
    with pytest.raises(CurrencyMismatch):
        Document(kind=DocumentKind.INVOICE, number="X", customer_id="c", issue_date=date(2026, 1, 1),
                 due_date=None, total=Money.of("1", "EUR"), paid_in_source=Money.of("0", "USD"))


def test_amendment_keeps_applied_money_and_lists_changes():
    invoice = Invoice.from_document(doc())
    invoice, _ = invoice.with_credit(Money.of("30", "EUR"))
    amended, changes = invoice.amended_by(doc(total="120.00", due=date(2026, 12, 15)))
    assert amended.credited == Money.of("30", "EUR")
    assert amended.balance == Money.of("90", "EUR")
    assert {c.field for c in changes} == {"total", "due_date"}


def test_amendment_below_applied_money_is_rejected():
    invoice, _ = Invoice.from_document(doc()).with_credit(Money.of("80", "EUR"))
    with pytest.raises(AmendmentRejected):
        invoice.amended_by(doc(total="50.00"))
    with pytest.raises(AmendmentRejected):
        invoice.amended_by(doc(currency="USD"))
    with pytest.raises(AmendmentRejected):
        invoice.amended_by(doc(customer="other"))


def test_credit_is_capped_at_balance_and_leftover_returned():
    invoice = Invoice.from_document(doc(paid="60"))
    credited, left = invoice.with_credit(Money.of("50", "EUR"))
    assert credited.balance.is_zero and credited.status is InvoiceStatus.PAID
    assert left == Money.of("10", "EUR")
    with pytest.raises(CurrencyMismatch):
        invoice.with_credit(Money.of("1", "USD"))


def test_credit_note_tracks_unapplied():
    note = CreditNote.from_document(doc(kind=DocumentKind.CREDIT_NOTE, number="CN-1", applies_to="INV-1", due=None))
    assert note.unapplied == Money.of("100", "EUR")


amounts = st.integers(min_value=0, max_value=10**9)


@given(total=amounts, paid=amounts, applied=amounts, credit=amounts)
def test_ledger_invariant_holds(total, paid, applied, credit):
    """total = balance + paid + credited + written_off, and the balance never goes below zero."""
    assume(paid <= total)
    eur = lambda minor: Money.from_minor(minor, "EUR")  # noqa: E731
    invoice = Invoice.from_document(doc(total=eur(total).to_api(), paid=eur(paid).to_api()))
    from dataclasses import replace
    invoice = replace(invoice, applied_payments=eur(min(applied, total)))
    invoice, left = invoice.with_credit(eur(credit))
    assert not invoice.balance.is_negative
    assert invoice.total == invoice.balance + invoice.paid + invoice.credited + invoice.written_off
    assert invoice.credited + left == eur(credit)


def test_ids_are_stable_and_url_safe():
    assert invoice_id(" INV-0001 ") == "INV-0001"
    assert invoice_id("2026/11 #7") == invoice_id("2026/11  #7")
    assert invoice_id("2026/11 #7").startswith("inv~")
    assert credit_note_id("INV-0001") != invoice_id("INV-0001")
    assert customer_id_for(None, "Müller & Söhne GmbH") == "muller-sohne-gmbh"
    assert customer_id_for("C-42", "whatever") == "C-42"


@pytest.mark.parametrize(("text", "net", "pct", "days"), [
    ("Net 30", 30, None, None), ("NET30", 30, None, None), ("2/10 net 30", 30, "2", 10),
    ("2% 10 Net 30", 30, "2", 10), ("Due on receipt", 0, None, None), ("45 days", 45, None, None),
])
def test_payment_terms(text, net, pct, days):
    terms = PaymentTerms.parse(text)
    assert terms.net_days == net
    assert (str(terms.discount_percent) if terms.discount_percent else None) == pct
    assert terms.discount_days == days
    assert terms.due_date(date(2026, 11, 1)).toordinal() - date(2026, 11, 1).toordinal() == net


@pytest.mark.parametrize("text", ["whenever", "10/20 net 5", "net -3"])
def test_bad_payment_terms(text):
    with pytest.raises(InvalidDocument):
        PaymentTerms.parse(text)
