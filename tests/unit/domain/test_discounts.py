"""Early-payment discounts honoured (domain/discounts.py): booked as their own ledger entry when the money received in
time covers the total less the discount; never for a partial payment; taken late, the difference stays open.
Property-tested: total + charged = balance + paid + credited + written_off + discounted, whatever happens."""

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.cash_application import match_payment
from chalicelib.domain.discounts import (
    DiscountOutcome,
    apply_payment,
    decide_discount,
    open_item,
    take_back,
)
from chalicelib.domain.errors import InvalidMoney, NotAllowed
from chalicelib.domain.invoice import Document, DocumentKind, Invoice, InvoiceStatus, LedgerCharge
from chalicelib.domain.money import Money
from chalicelib.domain.terms import PaymentTerms

TERMS = PaymentTerms.parse("2/10 net 30")
ISSUED = date(2026, 11, 1)
LAST_DAY = date(2026, 11, 11)


def eur(value: str) -> Money:
    return Money.of(value, "EUR")


def cents(minor: int) -> Money:
    return Money.from_minor(minor, "EUR")


def invoice(total: str = "1000.00", number: str = "INV-1", **kw: object) -> Invoice:
    document = Document(kind=DocumentKind.INVOICE, number=number, customer_id="acme", issue_date=ISSUED,
                        due_date=ISSUED + timedelta(days=30), total=eur(total), paid_in_source=eur("0"))
    return replace(Invoice.from_document(document), **kw)  # type: ignore[arg-type]


def assert_ledger(inv: Invoice) -> None:
    assert not inv.balance.is_negative
    if not inv.void:
        assert inv.total + inv.charged == inv.balance + inv.paid + inv.credited + inv.written_off + inv.discounted


def test_the_discounted_amount_paid_on_the_last_day_settles_the_invoice_and_books_the_discount() -> None:
    paid, left, decision = apply_payment(invoice(), TERMS, eur("980.00"), LAST_DAY, "pay_1")
    assert decision.outcome is DiscountOutcome.GRANTED and decision.amount == eur("20.00")
    assert decision.last_day == LAST_DAY and decision.percent == 2
    assert left.is_zero
    assert paid.discounted == eur("20.00") and paid.discount_payment_id == "pay_1"
    assert paid.balance.is_zero and paid.status is InvoiceStatus.PAID
    assert_ledger(paid)


def test_paying_a_little_more_than_the_discounted_amount_books_only_the_rest() -> None:
    paid, _, decision = apply_payment(invoice(), TERMS, eur("990.00"), date(2026, 11, 5), "pay_1")
    assert decision.outcome is DiscountOutcome.GRANTED and paid.discounted == eur("10.00")
    assert paid.status is InvoiceStatus.PAID


def test_a_partial_payment_earns_no_discount() -> None:
    paid, _, decision = apply_payment(invoice(), TERMS, eur("979.99"), LAST_DAY, "pay_1")
    assert decision.outcome is DiscountOutcome.NONE
    assert paid.discounted.is_zero and paid.balance == eur("20.01") and paid.status is InvoiceStatus.PARTIALLY_PAID


def test_the_discounted_amount_paid_after_the_last_day_leaves_the_difference_open() -> None:
    paid, _, decision = apply_payment(invoice(), TERMS, eur("980.00"), LAST_DAY + timedelta(days=1), "pay_1")
    assert decision.outcome is DiscountOutcome.TAKEN_LATE and decision.amount == eur("20.00")
    assert decision.last_day == LAST_DAY
    assert paid.discounted.is_zero and paid.balance == eur("20.00") and paid.status is InvoiceStatus.PARTIALLY_PAID


def test_paying_everything_or_terms_without_a_discount_decide_nothing() -> None:
    assert decide_discount(invoice(), TERMS, eur("1000.00"), LAST_DAY).outcome is DiscountOutcome.NONE
    assert decide_discount(invoice(), PaymentTerms.parse("net 30"), eur("980.00"), LAST_DAY).outcome \
        is DiscountOutcome.NONE
    assert decide_discount(invoice(), None, eur("980.00"), LAST_DAY).outcome is DiscountOutcome.NONE


def test_an_earlier_partial_payment_then_the_rest_less_the_discount_in_time_settles() -> None:
    first, _, _ = apply_payment(invoice(), TERMS, eur("500.00"), date(2026, 11, 3), "pay_1")
    second, _, decision = apply_payment(first, TERMS, eur("480.00"), date(2026, 11, 9), "pay_2")
    assert decision.outcome is DiscountOutcome.GRANTED and second.discounted == eur("20.00")
    assert second.status is InvoiceStatus.PAID and second.discount_payment_id == "pay_2"


def test_the_discount_is_taken_back_with_its_payment_only() -> None:
    paid, _, _ = apply_payment(invoice(), TERMS, eur("980.00"), LAST_DAY, "pay_1")
    same, nothing = take_back(paid, "pay_other")
    assert same is paid and nothing.is_zero
    reopened, taken = take_back(paid.without_payment(eur("980.00")), "pay_1")
    assert taken == eur("20.00") and reopened.balance == eur("1000.00") and reopened.status is InvoiceStatus.OPEN
    assert_ledger(reopened)


def test_one_discount_per_invoice_and_never_more_than_the_balance() -> None:
    paid, _, _ = apply_payment(invoice(), TERMS, eur("980.00"), LAST_DAY, "pay_1")
    assert paid.with_discount(eur("20.00"), "pay_1") is paid  # the same booking again
    with pytest.raises(NotAllowed):
        paid.with_discount(eur("1.00"), "pay_2")
    with pytest.raises(InvalidMoney):
        invoice().with_discount(eur("1000.01"), "pay_1")
    assert decide_discount(paid, TERMS, eur("1.00"), LAST_DAY).outcome is DiscountOutcome.NONE


def test_cash_application_settles_several_referenced_invoices_with_their_discounts() -> None:
    items = [open_item(invoice(number=n), TERMS, LAST_DAY) for n in ("INV-1", "INV-2")]
    result = match_payment(eur("1960.00"), referenced=items, customer_id="acme")
    assert [a.amount for a in result.allocations] == [eur("980.00"), eur("980.00")]
    assert "early-payment discount" in result.reason
    more = match_payment(eur("1970.00"), referenced=items, customer_id="acme")
    assert [a.amount for a in more.allocations] == [eur("990.00"), eur("980.00")]
    full = match_payment(eur("2000.00"), referenced=items, customer_id="acme")
    assert [a.amount for a in full.allocations] == [eur("1000.00"), eur("1000.00")]


def test_cash_application_matches_the_discounted_amount_without_a_reference() -> None:
    items = [open_item(invoice(number="INV-1"), TERMS, LAST_DAY),
             open_item(invoice("500.00", number="INV-2"), TERMS, LAST_DAY)]
    result = match_payment(eur("490.00"), customer_id="acme", customer_items=items)
    assert [(a.number, a.amount) for a in result.allocations] == [("INV-2", eur("490.00"))]
    late = [open_item(invoice(number="INV-1"), TERMS, LAST_DAY + timedelta(days=3))]
    result = match_payment(eur("980.00"), customer_id="acme", customer_items=late)
    assert [a.amount for a in result.allocations] == [eur("980.00")] and "expired" in result.reason


# ---- properties -----------------------------------------------------------------------------------------------

percents = st.sampled_from(["1", "2", "2.5", "3", "0.5"])
days = st.integers(min_value=0, max_value=40)


@settings(max_examples=300, deadline=None)
@given(total=st.integers(min_value=1, max_value=10_000_000), percent=percents, pay=st.integers(0, 12_000_000),
       earlier=st.integers(0, 10_000_000), received=days, charged=st.integers(0, 50_000),
       credited=st.integers(0, 10_000_000))
def test_the_ledger_invariant_and_the_rule_hold_for_any_payment(total: int, percent: str, pay: int, earlier: int,
                                                                received: int, charged: int, credited: int) -> None:
    terms = PaymentTerms.parse(f"{percent}/10 net 30")
    inv = invoice(str(cents(total).amount))
    if charged:
        inv = inv.with_charges((LedgerCharge("fee", cents(charged), "fee", "k", ISSUED),))
    inv, _ = inv.with_credit(cents(min(credited, total // 2)))
    inv, _ = inv.with_payment(cents(min(earlier, inv.balance.minor)))
    received_on = ISSUED + timedelta(days=received)
    before = inv
    after, left, decision = apply_payment(inv, terms, cents(pay), received_on, "pay_1")
    assert_ledger(after)
    # What the payment took plus what it left over is the payment; a discount never exceeds the offer.
    assert (after.paid - before.paid) + left == cents(pay)
    if decision.outcome is DiscountOutcome.GRANTED:
        assert received_on <= LAST_DAY
        assert decision.offer is not None and decision.amount <= decision.offer.amount
        assert cents(pay) >= decision.offer.pay_amount
        assert after.balance.is_zero and after.status is InvoiceStatus.PAID and after.discounted == decision.amount
    else:
        assert after.discounted.is_zero
        if received_on <= ISSUED + timedelta(days=10) and cents(pay) < before.balance:
            offer = decision.offer
            assert offer is None or cents(pay) < offer.pay_amount  # partial: no discount
    if decision.outcome is DiscountOutcome.TAKEN_LATE:
        assert received_on > ISSUED + timedelta(days=10)
        assert after.balance == decision.amount and not after.balance.is_zero
    # Taking the payment and its discount back restores the invoice's open amount exactly.
    taken = after.paid - before.paid
    if not taken.is_zero:
        reopened, _ = take_back(after.without_payment(taken), "pay_1")
        assert reopened.balance == before.balance
        assert_ledger(reopened)


@settings(max_examples=200, deadline=None)
@given(totals=st.lists(st.integers(min_value=100, max_value=1_000_000), min_size=1, max_size=5),
       pay=st.integers(1, 6_000_000), received=days)
def test_discount_aware_cash_application_never_gives_an_invoice_more_than_its_balance(
        totals: list[int], pay: int, received: int) -> None:
    invoices = [invoice(str(cents(t).amount), number=f"INV-{i}") for i, t in enumerate(totals)]
    received_on = ISSUED + timedelta(days=received)
    items = [open_item(i, TERMS, received_on) for i in invoices]
    result = match_payment(cents(pay), referenced=items, customer_id="acme")
    assert result.allocated + result.unapplied == cents(pay)
    by_id = {i.invoice_id: i for i in invoices}
    for allocation in result.allocations:
        after, _, _ = apply_payment(by_id[allocation.invoice_id], TERMS, allocation.amount, received_on, "pay_1")
        assert_ledger(after)
        assert allocation.amount <= by_id[allocation.invoice_id].balance
