"""Payment receipts by email, for the customers who asked for them (`payment_receipts` on the customer).

Sent from the events table's stream (`publish_events`), off the payment's own path: a webhook or a bank
statement line records the payment and its audit event `payment.payment_recorded` (which carries everything a
receipt shows) in one transaction, and is done; the stream brings the event here. A webhook therefore costs no
read of the customer for a receipt, and a receipt exists exactly when the payment does.

Once per payment: a claim `receipt#<payment id>` is written before the mail goes (the stream delivers at least
once). A receipt is a courtesy: if SES refuses it, or the process dies between the claim and the send, it is not
retried (a duplicate receipt is worse than a missing one); the failure is logged and counted."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.services.ports import (
    CLAIM_LEASE,
    AuditEvent,
    Claim,
    Claims,
    Metrics,
    OutgoingEmail,
    Sender,
    StoredCustomer,
)
from chalicelib.services.send_once import Delivered, Outcome, SendOnce

log = logging.getLogger(__name__)
RECORDED = "payment.payment_recorded"


class CustomerReader(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...


class PaymentReceipts:
    def __init__(self, customers: CustomerReader, render: Callable[..., Any], sender: Sender, metrics: Metrics,
                 seller: Any, claims: Claims, clock: Callable[[], datetime] | None = None,
                 portal_link: Callable[[str, str, datetime], str | None] | None = None) -> None:
        self.customers = customers
        self.render = render
        self.sender = sender
        self.metrics = metrics
        self.seller = seller
        self.claims = claims
        self.send_once = SendOnce(claims, retry_refused=False)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.portal_link = portal_link  # a fresh personal portal link per receipt (PortalLinks.for_message)

    def on_events(self, events: Sequence[AuditEvent | None]) -> list[str]:
        """Send the receipts the new audit events call for; returns the SES message ids."""
        sent = []
        for event in events:
            if event is None or event.type != RECORDED or not event.data.get("customer_id"):
                continue
            try:
                message_id = self.send(event)
            except Exception:  # a receipt never holds up the events behind it on the stream
                log.exception("payment receipt failed", extra={"payment": event.entity})
                self.metrics.count("ReceiptsFailed", 1, {"channel": "email"})
                continue
            if message_id is not None:
                sent.append(message_id)
        return sent

    def send(self, event: AuditEvent) -> str | None:
        """The SES message id, or None when no receipt is due (or it was sent already, or could not be)."""
        data = event.data
        customer_id = str(data["customer_id"])
        stored = self.customers.get_customers([customer_id]).get(customer_id)
        if stored is None or not stored.customer.payment_receipts:
            return None
        customer = stored.customer
        contact = next((c for c in customer.contacts if c.email and not c.email_suppressed), None)
        if contact is None or contact.email is None:
            return None
        payment_id = event.entity.partition("#")[2]
        now = self.clock()
        claim = Claim(f"receipt#{payment_id}", customer_id, "email", now.date(), uuid.uuid4().hex, [],
                      lease_until=now + CLAIM_LEASE)
        email = contact.email

        def deliver(claim: Claim) -> Delivered:
            from chalicelib.formats.receipts import ReceiptLine

            lines = [ReceiptLine(a["number"], Decimal(a["amount"]), Decimal(a["balance"]),
                                 Decimal(a["discount"]) if a.get("discount") else None)
                     for a in data.get("allocations", []) if a.get("balance") is not None]
            received_on = date.fromisoformat(str(data["occurred_at"])[:10])
            portal_url = None if self.portal_link is None else self.portal_link(customer_id, email, now)
            rendered = self.render(contact.language or customer.language, customer.name, contact.name,
                                   Decimal(data["amount"]), data["currency"], received_on, lines,
                                   Decimal(data.get("unapplied") or "0"), self.seller,
                                   data.get("provider_reference", ""), portal_url=portal_url)
            return Delivered(email, self.sender.send_email(OutgoingEmail(
                email, rendered.subject, rendered.html, rendered.text, claim.message_key)))

        # A receipt records nothing beyond its claim, and one whose outcome is unknown is left as it is.
        [attempt] = self.send_once.send([claim], now, deliver, lambda _attempts: None, unknown_outcome=None)
        if attempt.outcome is Outcome.REFUSED:
            log.warning("payment receipt not sent", extra={"payment_id": payment_id})
            self.metrics.count("ReceiptsFailed", 1, {"channel": "email"})
            return None
        if attempt.outcome is not Outcome.SENT:
            return None  # this payment's receipt went (or is going) already: the stream delivered it twice
        self.metrics.count("ReceiptsSent", 1, {"channel": "email"})
        return attempt.message_id
