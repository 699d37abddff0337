"""Dunning charges on an invoice: part of the balance, charged once per key, never bearing interest."""

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import CurrencyMismatch
from chalicelib.domain.invoice import Document, DocumentKind, Invoice, InvoiceStatus, LedgerCharge
from chalicelib.domain.money import Money

EUR = "EUR"


def invoice(total: str = "1000.00") -> Invoice:
    return Invoice.from_document(Document(DocumentKind.INVOICE, "INV-1", "acme", date(2026, 11, 1),
                                          date(2026, 12, 1), Money.of(total, EUR), Money.zero(EUR)))


def fee(amount: str, key: str = "INV-1:fee:final", kind: str = "fee") -> LedgerCharge:
    return LedgerCharge(kind, Money.of(amount, EUR), "reminder fee", key, date(2027, 1, 5), "final")


def test_charges_are_part_of_the_balance_and_charged_once_per_key() -> None:
    charged = invoice().with_charges((fee("40.00"), fee("9.73", "INV-1:interest:2026-12-02:2027-01-05", "interest")))
    assert charged.charged == Money.of("49.73", EUR)
    assert charged.balance == Money.of("1049.73", EUR)
    assert charged.with_charges((fee("40.00"),)) is charged  # the same key again: nothing new


def test_a_charge_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        invoice().with_charges((LedgerCharge("fee", Money.of("5", "GBP"), "x", "k", date(2027, 1, 1)),))


def test_payment_order_decides_the_principal_that_bears_interest() -> None:
    charged = invoice().with_charges((fee("40.00"),))
    paid, _left = charged.with_payment(Money.of("100.00", EUR))
    assert paid.principal_open(charges_first=True) == Money.of("940.00", EUR)  # the fee was settled first
    assert paid.principal_open(charges_first=False) == Money.of("900.00", EUR)
    assert paid.balance == Money.of("940.00", EUR)


def test_an_invoice_is_paid_only_when_its_charges_are() -> None:
    charged = invoice().with_charges((fee("40.00"),))
    principal_only, _ = charged.with_payment(Money.of("1000.00", EUR))
    assert principal_only.status is InvoiceStatus.PARTIALLY_PAID
    settled, left = principal_only.with_payment(Money.of("50.00", EUR))
    assert settled.status is InvoiceStatus.PAID and left == Money.of("10.00", EUR)


def test_needs_review_only_ever_brings_the_next_action_forward() -> None:
    early, late = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    scheduled = replace(invoice(), next_action_at=early)
    assert scheduled.needs_review(late) is scheduled
    assert replace(invoice(), next_action_at=late).needs_review(early).next_action_at == early
    assert invoice().needs_review(late).next_action_at == late


cents = st.integers(min_value=0, max_value=10_000_000)


@given(total=cents, fees=st.lists(cents, max_size=4), paid=cents, credit=cents, charges_first=st.booleans())
def test_ledger_invariant_with_charges(total: int, fees: list[int], paid: int, credit: int,
                                       charges_first: bool) -> None:
    base = invoice(str(Money.from_minor(total, EUR).amount))
    charged = base.with_charges(tuple(
        LedgerCharge("fee", Money.from_minor(f, EUR), "fee", f"k{i}", date(2027, 1, 1)) for i, f in enumerate(fees)))
    credited, _ = charged.with_credit(Money.from_minor(credit, EUR))
    settled, left = credited.with_payment(Money.from_minor(paid, EUR))
    assert settled.total + settled.charged == settled.balance + settled.paid + settled.credited + settled.written_off
    assert not settled.balance.is_negative
    assert settled.paid - credited.paid + left == Money.from_minor(paid, EUR)
    principal = settled.principal_open(charges_first)
    assert Money.zero(EUR) <= principal <= settled.balance
