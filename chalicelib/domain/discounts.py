"""Early-payment discounts honoured: whether money received on an invoice earns its discount. Pure.

Terms like `2/10 net 30` offer a discount (2% of the total, capped at what is open) until a last day (10 days after
issue); `early_payment_discount` (domain/dunning/charges.py) is that offer on a given day, as reminders, the invoice
PDF and the portal show it. The rule applied when money arrives, whatever its source (webhook, bank statement line,
payment keyed in by staff, cash applied by hand):

- Received (its received/booking day, never the day it is processed) on or before the last day, and covering what
  is open less the discount (`pay_amount`): the invoice is settled. The rest of the balance, at most the offered
  discount, is booked as `discounted` (its own ledger entry) and the invoice is `paid`.
- Less than that (a partial payment): no discount; the payment reduces the balance as any other.
- Received after the last day, at least the discounted amount but less than the balance: the customer took the
  discount late. The payment is applied, the difference stays open, and a collector decides (a task).
- The whole balance (or more): nothing to decide.

An invoice carries one discount at most, with the payment that earned it: a refund or chargeback of that payment,
or staff taking it off the invoice, takes the discount back (`Invoice.without_discount`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from chalicelib.domain.cash_application import OpenItem
from chalicelib.domain.dunning.charges import EarlyPaymentDiscount, early_payment_discount
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.terms import PaymentTerms


class DiscountOutcome(StrEnum):
    NONE = "none"  # no discount in play: the payment is applied as it is
    GRANTED = "granted"  # paid in time: the discount is booked and the invoice settled
    TAKEN_LATE = "taken_late"  # the discounted amount paid after the last day: the difference stays open


@dataclass(frozen=True, slots=True)
class DiscountDecision:
    outcome: DiscountOutcome
    amount: Money  # GRANTED: the discount to book; TAKEN_LATE: what the customer deducted late; NONE: zero
    offer: EarlyPaymentDiscount | None = None  # the offer the decision measured the payment against

    @property
    def last_day(self) -> date | None:
        return self.offer.last_day if self.offer else None

    @property
    def percent(self) -> Decimal | None:
        return self.offer.percent if self.offer else None


def discount_offer(invoice: Invoice, terms: PaymentTerms | None, received_on: date) -> EarlyPaymentDiscount | None:
    """The offer a payment received on `received_on` can earn: still open that day, never on an invoice already
    discounted, and only when something is left to pay after it."""
    if invoice.discount_granted is not None:
        return None
    offer = early_payment_discount(invoice, terms, received_on)
    if offer is None or offer.amount.is_zero or not offer.pay_amount.amount > 0:
        return None
    return offer


def _expired_offer(invoice: Invoice, terms: PaymentTerms | None) -> EarlyPaymentDiscount | None:
    """The offer as it stood on its last day, computed on today's balance (None without one)."""
    if terms is None or invoice.discount_granted is not None:
        return None
    last_day = terms.discount_deadline(invoice.issue_date)
    return None if last_day is None else discount_offer(invoice, terms, last_day)


def decide_discount(invoice: Invoice, terms: PaymentTerms | None, amount: Money, received_on: date
                    ) -> DiscountDecision:
    """What `amount` applied to `invoice` (before it is applied) on `received_on` means for its discount.

    `amount` is what goes to this invoice (the allocation), at most its balance; `terms` are the customer's."""
    zero = Money.zero(invoice.currency)
    if amount.currency != invoice.currency or not amount.amount > 0 or amount >= invoice.balance:
        return DiscountDecision(DiscountOutcome.NONE, zero)
    offer = discount_offer(invoice, terms, received_on)
    if offer is not None:
        if amount >= offer.pay_amount:
            return DiscountDecision(DiscountOutcome.GRANTED, invoice.balance - amount, offer)
        return DiscountDecision(DiscountOutcome.NONE, zero, offer)  # a partial payment earns no discount
    late = _expired_offer(invoice, terms)
    if late is not None and received_on > late.last_day and amount >= late.pay_amount:
        return DiscountDecision(DiscountOutcome.TAKEN_LATE, invoice.balance - amount, late)
    return DiscountDecision(DiscountOutcome.NONE, zero, late)


def apply_payment(invoice: Invoice, terms: PaymentTerms | None, amount: Money, received_on: date, payment_id: str
                  ) -> tuple[Invoice, Money, DiscountDecision]:
    """Apply `amount` received on `received_on` by payment `payment_id`, booking the discount it earns.

    Returns the invoice, the part of `amount` left over (as `Invoice.with_payment`) and the decision. A discount
    granted leaves the invoice settled (`paid`) with `discounted` the rest of what was open."""
    decision = decide_discount(invoice, terms, amount, received_on)
    paid, left = invoice.with_payment(amount)
    if decision.outcome is DiscountOutcome.GRANTED:
        paid = paid.with_discount(decision.amount, payment_id)
    return paid, left, decision


def take_back(invoice: Invoice, payment_id: str) -> tuple[Invoice, Money]:
    """The invoice without the discount payment `payment_id` earned (its refund, chargeback or removal), and the
    discount taken back (zero when that payment earned none here)."""
    if invoice.discount_granted is None or invoice.discount_payment_id != payment_id:
        return invoice, Money.zero(invoice.currency)
    return invoice.without_discount(), invoice.discount_granted


def open_item(invoice: Invoice, terms: PaymentTerms | None, received_on: date) -> OpenItem:
    """The invoice as cash application sees it for money received on `received_on`, with what settles it with the
    discount: the offer's `pay_amount` inside the window, or (expired) the amount a late payer would send."""
    item = OpenItem.of(invoice)
    offer = discount_offer(invoice, terms, received_on)
    if offer is not None:
        return replace(item, discounted_balance=offer.pay_amount)
    late = _expired_offer(invoice, terms)
    if late is not None and received_on > late.last_day:
        return replace(item, discounted_balance=late.pay_amount, discount_expired=True)
    return item
