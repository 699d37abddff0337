"""Money received (or taken back): one internal shape for every source, whether a processor's
webhook, a bank statement line or a payment keyed in by staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

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
