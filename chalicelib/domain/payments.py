"""Money received (or taken back): one internal shape for every source, whether a processor's
webhook, a bank statement line or a payment keyed in by staff."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from chalicelib.domain.cash_application import Allocation
from chalicelib.domain.errors import InvalidDocument
from chalicelib.domain.money import Money


class PaymentKind(StrEnum):
    PAYMENT = "payment"  # money in
    REFUND = "refund"  # money given back to the customer
    CHARGEBACK = "chargeback"  # money taken back by the customer's bank or card scheme
    FAILURE = "failure"  # an attempt that never paid (nothing to apply; may undo a provisional one)


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    provider: str  # "stripe", "gocardless", "adyen", "bank", "manual"
    event_id: str  # the provider's id for this notification: the dedupe key
    payment_ref: str  # the provider's id for the money movement; links a refund to its payment
    kind: PaymentKind
    amount: Money  # always positive; `kind` says which way it goes
    occurred_at: datetime  # when the provider says it happened (events arrive out of order)
    raw_type: str  # the provider's own event type, e.g. "charge.refunded"
    customer_hint: str | None = None  # a Dunwell customer id, when the source carries one
    payer_email: str | None = None
    payer_name: str | None = None
    references: tuple[str, ...] = ()  # invoice numbers from metadata or remittance text
    original_ref: str | None = None  # for refunds and chargebacks: the payment they reverse
    # A refund the provider states only as the payment's refunded total after it (a Stripe charge.refunded without
    # previous_attributes): the refund is that total minus what Dunwell recorded as refunded on the payment, and
    # `amount` is a placeholder until then.
    refunded_total: Money | None = None
    # The day the payer initiated the payment, when the source knows it (a Stripe Checkout Session's `created`): an
    # early-payment discount is judged by it, never later than the day received (domain/discounts.py `judged_on`).
    initiated_on: date | None = None

    def __post_init__(self) -> None:
        if not self.event_id or not self.payment_ref:
            raise InvalidDocument("a payment event needs its provider's event id and payment reference")
        if self.amount.is_negative:
            raise InvalidDocument("a payment event's amount is positive; its kind gives the direction",
                                  field="amount")
        if self.occurred_at.tzinfo is None:
            raise InvalidDocument("occurred_at must carry a timezone", field="occurred_at")

    @property
    def dedupe_key(self) -> str:
        return f"{self.provider}:{self.event_id}"


class PaymentStatus(StrEnum):
    APPLIED = "applied"  # every cent is on invoices
    PARTIALLY_APPLIED = "partially_applied"  # some on invoices, the rest waits for a human or is credit
    UNAPPLIED = "unapplied"  # nothing matched: waits for a human
    WAITING = "waiting"  # a refund or chargeback whose payment has not arrived yet
    REVERSED = "reversed"  # a refund or chargeback, applied: the invoices it names are reopened


_ID_PREFIX = {PaymentKind.PAYMENT: "pay", PaymentKind.REFUND: "rfd", PaymentKind.CHARGEBACK: "chb"}


def payment_id_for(provider: str, kind: PaymentKind, movement_ref: str) -> str:
    """One id per money movement, whichever notification told us about it, so the same money is
    recorded once even when a provider reports it through two different events."""
    digest = hashlib.sha256(f"{provider}:{kind.value}:{movement_ref}".encode()).hexdigest()[:24]
    return f"{_ID_PREFIX[kind]}_{digest}"


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """A money movement and where it went. For a payment, `allocations` are the invoices it paid; for a
    refund or chargeback, the invoices it reopened. Always: allocated + unapplied + reversed == amount."""

    payment_id: str
    provider: str
    payment_ref: str
    kind: PaymentKind
    amount: Money
    allocations: tuple[Allocation, ...]
    unapplied: Money
    occurred_at: datetime
    recorded_at: datetime
    recorded_by: str
    customer_id: str | None = None
    method: str | None = None
    reason: str | None = None
    references: tuple[str, ...] = ()
    payer_name: str | None = None
    payer_email: str | None = None
    original_ref: str | None = None
    raw_type: str | None = None
    waiting: bool = False
    reversed: Money | None = None  # a payment's money since given back by refunds and chargebacks
    request: str | None = None  # a payment keyed in by staff: the fingerprint of the request its Idempotency-Key named
    refunded: Money | None = None  # a payment's refunds recorded so far, in full (`reversed` caps them at the payment)
    initiated_on: date | None = None  # when the payer initiated it, if the source said (PaymentEvent.initiated_on)
    version: int = 0

    def __post_init__(self) -> None:
        if self.amount.is_negative or self.unapplied.is_negative or self.reversed_amount.is_negative:
            raise InvalidDocument("payment amounts are never negative", field="amount")
        if self.allocated + self.unapplied + self.reversed_amount != self.amount:
            raise InvalidDocument(
                f"payment {self.payment_id}: allocated {self.allocated} + unapplied {self.unapplied} + reversed "
                f"{self.reversed_amount} is not the amount {self.amount}")

    @property
    def reversed_amount(self) -> Money:
        return self.reversed if self.reversed is not None else Money.zero(self.amount.currency)

    @property
    def refunded_total(self) -> Money:
        return self.refunded if self.refunded is not None else Money.zero(self.amount.currency)

    @property
    def allocated(self) -> Money:
        total = Money.zero(self.amount.currency)
        for allocation in self.allocations:
            total = total + allocation.amount
        return total

    @property
    def status(self) -> PaymentStatus:
        if self.kind is not PaymentKind.PAYMENT:
            return PaymentStatus.WAITING if self.waiting else PaymentStatus.REVERSED
        if self.unapplied.is_zero and not self.allocations and not self.reversed_amount.is_zero:
            return PaymentStatus.REVERSED
        if self.unapplied.is_zero:
            return PaymentStatus.APPLIED
        return PaymentStatus.PARTIALLY_APPLIED if self.allocations else PaymentStatus.UNAPPLIED
