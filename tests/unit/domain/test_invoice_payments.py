"""Invoice.with_payment / without_payment: received cash reduces the balance; refunds reopen it."""

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import CurrencyMismatch, InvalidMoney
from chalicelib.domain.invoice import Document, DocumentKind, Invoice, InvoiceStatus
from chalicelib.domain.money import Money


def eur(value):
    return Money.of(value, "EUR")


def cents(minor):
    return Money.from_minor(minor, "EUR")


def invoice(total="100.00", paid_in_erp="0", **kw):
    document = Document(kind=DocumentKind.INVOICE, number="INV-1", customer_id="acme", issue_date=date(2026, 1, 1),
                        due_date=date(2026, 1, 31), total=eur(total), paid_in_source=eur(paid_in_erp))
    return replace(Invoice.from_document(document), **kw)


def assert_ledger(inv):
    assert not inv.balance.is_negative
    if inv.void:  # a void invoice owes nothing, whatever its figures say
        assert inv.balance.is_zero
    else:
        assert inv.total == inv.balance + inv.paid + inv.credited + inv.written_off


@pytest.mark.parametrize(("paid_in_erp", "applied", "pay", "balance", "left", "status"), [
    ("0", "0", "30", "70", "0", InvoiceStatus.PARTIALLY_PAID),
    ("0", "0", "100", "0", "0", InvoiceStatus.PAID),
    ("0", "0", "130", "0", "30", InvoiceStatus.PAID),  # overpayment: the rest is left over, never a negative balance
    ("0", "40", "30", "30", "0", InvoiceStatus.PARTIALLY_PAID),  # a second payment on top of Dunwell's first
    # The ERP reports 60 paid that Dunwell never saw: this cash still pays the remaining 40.
    ("60", "0", "30", "10", "0", InvoiceStatus.PARTIALLY_PAID),
    ("60", "0", "50", "0", "10", InvoiceStatus.PAID),
    ("60", "20", "40", "0", "0", InvoiceStatus.PAID),
    ("100", "0", "25", "100", "25", InvoiceStatus.PAID),  # already paid in the ERP: nothing to take
])
def test_with_payment_reduces_the_balance_by_the_cash_up_to_the_balance(paid_in_erp, applied, pay, balance, left,
                                                                         status):
    before = invoice(paid_in_erp=paid_in_erp, applied_payments=eur(applied))
    after, leftover = before.with_payment(eur(pay))
    if balance == "100":  # settled invoices take nothing
        balance = "0"
    assert after.balance == eur(balance)
    assert leftover == eur(left)
    assert after.status is status
    assert (before.balance - after.balance) + leftover == eur(pay)  # allocated + unapplied == amount
    assert_ledger(after)


def test_payment_on_top_of_erp_figure_is_counted_once_when_the_erp_catches_up():
    paid_by_cheque = invoice(paid_in_erp="60")
    after, _ = paid_by_cheque.with_payment(eur("30"))
    assert after.applied_payments == eur("90")  # Dunwell adopts the ERP's 60, then adds its own 30
    assert after.balance == eur("10")
    # The ERP later posts Dunwell's 30 too: 90 paid in both systems, still a balance of 10, not -20.
    document = Document(kind=DocumentKind.INVOICE, number="INV-1", customer_id="acme", issue_date=date(2026, 1, 1),
                        due_date=date(2026, 1, 31), total=eur("100"), paid_in_source=eur("90"))
    amended, _ = after.amended_by(document)
    assert amended.balance == eur("10")


def test_credit_and_write_off_leave_less_to_pay():
    inv = invoice(credited=eur("20"), written_off=eur("10"))
    after, leftover = inv.with_payment(eur("100"))
    assert after.balance.is_zero and leftover == eur("30")
    assert_ledger(after)


def test_void_invoice_takes_no_payment():
    inv = invoice(void=True)
    after, leftover = inv.with_payment(eur("10"))
    assert after == inv and leftover == eur("10")


def test_zero_payment_changes_nothing():
    inv = invoice(paid_in_erp="60")
    assert inv.with_payment(eur("0")) == (inv, eur("0"))


def test_payment_validation():
    with pytest.raises(CurrencyMismatch):
        invoice().with_payment(Money.of("1", "USD"))
    with pytest.raises(InvalidMoney):
        invoice().with_payment(eur("-1"))
    with pytest.raises(CurrencyMismatch):
        invoice(applied_payments=eur("5")).without_payment(Money.of("1", "USD"))
    with pytest.raises(InvalidMoney):
        invoice(applied_payments=eur("5")).without_payment(eur("-1"))


def test_refund_reopens_the_invoice():
    paid, _ = invoice().with_payment(eur("100"))
    assert paid.status is InvoiceStatus.PAID
    partly = paid.without_payment(eur("40"))
    assert partly.balance == eur("40") and partly.status is InvoiceStatus.PARTIALLY_PAID
    reopened = partly.without_payment(eur("60"))
    assert reopened.balance == eur("100") and reopened.status is InvoiceStatus.OPEN
    assert_ledger(reopened)


def test_refund_after_erp_payment_reopens_to_the_erp_figure():
    after, _ = invoice(paid_in_erp="60").with_payment(eur("40"))
    refunded = after.without_payment(eur("40"))
    assert refunded.balance == eur("40") and refunded.status is InvoiceStatus.PARTIALLY_PAID


def test_refund_cannot_exceed_what_dunwell_applied():
    inv, _ = invoice().with_payment(eur("30"))
    with pytest.raises(InvalidMoney, match=r"only 30\.00 EUR was applied"):
        inv.without_payment(eur("30.01"))
    # The ERP's own figure is not Dunwell's to take back.
    with pytest.raises(InvalidMoney):
        invoice(paid_in_erp="60").without_payment(eur("1"))


@st.composite
def ledgers(draw):
    """Any consistent invoice state: ERP-paid, applied, credited and written-off amounts within the total."""
    total = draw(st.integers(0, 10**7))
    paid_in_erp = draw(st.integers(0, total))
    applied = draw(st.integers(0, total))
    credited = draw(st.integers(0, total - max(paid_in_erp, applied)))
    written_off = draw(st.integers(0, total - max(paid_in_erp, applied) - credited))
    return invoice(total=cents(total).to_api(), paid_in_erp=cents(paid_in_erp).to_api(),
                   applied_payments=cents(applied), credited=cents(credited), written_off=cents(written_off),
                   void=draw(st.booleans()) and draw(st.booleans()))


@given(before=ledgers(), pay=st.integers(0, 2 * 10**7))
def test_with_payment_keeps_the_ledger_and_accounts_for_every_cent(before, pay):
    after, leftover = before.with_payment(cents(pay))
    assert_ledger(after)
    allocated = before.balance - after.balance
    assert allocated == min(cents(pay), before.balance)
    assert allocated + leftover == cents(pay)
    assert not leftover.is_negative and not allocated.is_negative
    assert after.applied_payments >= before.applied_payments
    # What the payment allocated can be taken back, and the balance returns to where it was.
    if not allocated.is_zero:
        restored = after.without_payment(allocated)
        assert restored.balance == before.balance
        assert restored.status is before.status
        assert_ledger(restored)


@given(before=ledgers(), payments=st.lists(st.integers(0, 10**6), max_size=6))
def test_a_run_of_payments_applies_no_more_than_the_balance(before, payments):
    inv, allocated_total, leftover_total = before, cents(0), cents(0)
    for pay in payments:
        after, leftover = inv.with_payment(cents(pay))
        allocated_total += inv.balance - after.balance
        leftover_total += leftover
        inv = after
        assert_ledger(inv)
    received = cents(sum(payments))
    assert allocated_total + leftover_total == received
    assert allocated_total == min(received, before.balance)
