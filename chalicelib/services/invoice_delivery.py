"""Use case: customers with `invoice_delivery: email` receive each new invoice, and each corrected version, once.

Driven by the invoices table's stream (an invoice projection, called by `project_invoices`): an INSERT is a new
invoice; a MODIFY whose document fingerprint changed is an amendment from the ERP (a payment or a reminder changes
the item, not the fingerprint, and delivers nothing; so does an identical re-drop, which writes nothing).

Once per version: the claim `delivery#<invoice id>#<version digest>` goes through send_once (claim -> send ->
mark sent -> record), so a redelivered stream batch sends nothing twice. The mail carries the invoice's document
of record (the ERP's PDF where it dropped one, else Dunwell's rendering) and, for a UBL invoice, the original XML.
Recorded on the invoice (`delivered_at`) with an `invoice.delivered` audit event naming the SES message id.

Day one: only invoices issued at most FRESH_DAYS before Dunwell first saw them are delivered, so importing the
whole ledger mails nothing old. Void, settled and invoices without an emailable contact are skipped."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.customer import Customer
from chalicelib.domain.delivery import KEY_PREFIX, deliverable
from chalicelib.domain.errors import NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.masking import mask, mask_all
from chalicelib.services.invoice_documents import InvoiceDocuments
from chalicelib.services.ports import (
    CLAIM_LEASE,
    Attachment,
    AuditEvent,
    Claim,
    Claims,
    InvoiceChange,
    Metrics,
    OutgoingEmail,
    Sender,
    StoredCustomer,
    VersionConflict,
    conflict_retries,
    utc_now,
)
from chalicelib.services.send_once import Attempt, Delivered, Outcome, SendOnce

log = logging.getLogger(__name__)
ACTOR = "system:delivery"


class CustomerReader(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...


class DeliveryLedger(Protocol):
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]: ...
    def save_invoice(self, invoice: Invoice, events: Sequence[AuditEvent], now: datetime) -> Invoice: ...


# (language, customer name, contact name, number, issued, due, amount, currency, seller, corrected=, with_xml=)
MailRenderer = Callable[..., Any]


def new_version(change: InvoiceChange) -> bool:
    """A new invoice, or the ERP changed the document (not a payment, charge or reminder on it)."""
    after = change.after
    if after is None:
        return False
    return change.before is None or change.before.fingerprint != after.fingerprint


def delivery_key(invoice: Invoice) -> str:
    digest = hashlib.sha256(invoice.fingerprint.encode()).hexdigest()[:16]
    return f"{KEY_PREFIX}{invoice.invoice_id}#{digest}"


def invoice_of_key(message_key: str) -> str | None:
    """The invoice a delivery's key (`delivery#<invoice id>#<version digest>[#<address digest>]`) names."""
    if not message_key.startswith(KEY_PREFIX):
        return None
    return message_key.split("#")[1] or None


# A bounced delivery reached nobody; one of these outcomes of the fallback means the invoice is (or is being) sent
# to another contact.
REACHED = frozenset({Outcome.SENT, Outcome.REPAIRED, Outcome.UNCONFIRMED, Outcome.DONE, Outcome.IN_FLIGHT})


class InvoiceDelivery:
    def __init__(self, customers: CustomerReader, ledger: DeliveryLedger, documents: InvoiceDocuments,
                 render: MailRenderer, sender: Sender, claims: Claims, metrics: Metrics, seller: Any,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.customers = customers
        self.ledger = ledger
        self.documents = documents
        self.render = render
        self.sender = sender
        self.metrics = metrics
        self.seller = seller
        self.send_once = SendOnce(claims)
        self.clock = clock or utc_now

    def apply(self, changes: Sequence[InvoiceChange]) -> None:
        """The invoice projection's entry: deliver the new versions the changes show. A delivery that fails is
        logged and counted, and never holds up the stream (the settlement log shares it)."""
        due = [(c.before, c.after) for c in changes if new_version(c) and c.after is not None and deliverable(c.after)]
        if not due:
            return
        customers = self.customers.get_customers({after.customer_id for _, after in due})
        for before, after in due:
            stored = customers.get(after.customer_id)
            if stored is None or stored.customer.invoice_delivery != "email":
                continue
            corrected = before is not None and before.delivered_at is not None
            try:
                self.deliver(after, stored.customer, corrected)
            except Exception:
                log.exception("invoice delivery failed", extra={"invoice_id": after.invoice_id})
                self.metrics.count("InvoiceDeliveriesFailed", 1, {"channel": "email"})

    def deliver(self, invoice: Invoice, customer: Customer, corrected: bool = False,
                fallback: bool = False) -> Attempt | None:
        """Send the invoice to the customer's first contact with a working address, once per version; `fallback`
        (after a bounce, the bounced address suppressed by then): once per version and address."""
        contact = next((c for c in customer.contacts if c.email and not c.email_suppressed), None)
        if contact is None or contact.email is None:
            self.metrics.count("InvoiceDeliveriesSkipped", 1, {"reason": "no_email"})
            return None
        email = contact.email
        now = self.clock()
        key = delivery_key(invoice)
        if fallback:
            key += "#" + hashlib.sha256(email.lower().encode()).hexdigest()[:12]
        claim = Claim(key, customer.customer_id, "email", now.date(), uuid.uuid4().hex, [],
                      lease_until=now + CLAIM_LEASE)
        sent: dict[str, str] = {}

        def deliver(claim: Claim) -> Delivered:
            pdf = self.documents.pdf(invoice.invoice_id)
            attachments = [Attachment(pdf.filename, "application/pdf", pdf.body)]
            try:
                ubl = self.documents.ubl(invoice.invoice_id)
                attachments.append(Attachment(ubl.filename, "application/xml", ubl.body))
            except NotFound:
                pass
            mail = self.render(contact.language or customer.language, customer.name, contact.name, invoice.number,
                               invoice.issue_date, invoice.due_date, Decimal(invoice.balance.amount),
                               invoice.currency, self.seller, corrected=corrected, with_xml=len(attachments) > 1)
            sent["document"] = pdf.source
            message_id = self.sender.send_email(OutgoingEmail(email, mail.subject, mail.html, mail.text,
                                                              claim.message_key, tuple(attachments), tag="invoice"))
            return Delivered(email, message_id)

        def record(attempts: Sequence[Attempt]) -> None:
            for attempt in attempts:
                if attempt.records:
                    self._record(invoice.invoice_id, attempt, corrected, sent.get("document"), now)

        [attempt] = self.send_once.send([claim], now, deliver, record, unknown_outcome=None)
        if attempt.outcome is Outcome.SENT:
            self.metrics.count("InvoicesDelivered", 1, {"channel": "email"})
        elif attempt.outcome is Outcome.REFUSED:
            log.warning("invoice delivery refused: %s", attempt.reason, extra={"invoice_id": invoice.invoice_id})
            self.metrics.count("InvoiceDeliveriesFailed", 1, {"channel": "email"})
        return attempt

    # ---- bounces (services/bounces.py calls these for a message key of a delivery) ----------------------

    def customer_of(self, message_key: str) -> str | None:
        invoice_id = invoice_of_key(message_key)
        invoice = self.ledger.get_invoices([invoice_id]).get(invoice_id) if invoice_id else None
        return None if invoice is None else invoice.customer_id

    def bounced(self, message_key: str, addresses: Sequence[str], ses_message_id: str) -> dict[str, Any]:
        """The delivery under `message_key` bounced (its address is suppressed by now): send the invoice to another
        contact, as reminders fall back. Audited (`invoice.delivery_bounced`); when no other contact takes it, the
        invoice is not delivered any more (`delivered_at` cleared), so the next reminder attaches it. Safe to call
        twice for one bounce: the fallback goes once per version and address."""
        invoice_id = invoice_of_key(message_key)
        invoice = self.ledger.get_invoices([invoice_id]).get(invoice_id) if invoice_id else None
        stored = self.customers.get_customers([invoice.customer_id]).get(invoice.customer_id) if invoice else None
        if invoice is None or stored is None:
            return {"fallback": "unknown_invoice"}
        attempt = self.deliver(invoice, stored.customer, fallback=True)
        outcome = "no_other_contact" if attempt is None else attempt.outcome.value
        reached = attempt is not None and attempt.outcome in REACHED
        now = self.clock()
        for _ in conflict_retries(f"recording the bounce of the delivery of {invoice.invoice_id}", self.metrics):
            current = self.ledger.get_invoices([invoice.invoice_id]).get(invoice.invoice_id)
            if current is None or (attempt is not None and attempt.outcome is Outcome.DONE) or (
                    not reached and current.delivered_at is None):
                break  # this bounce was recorded already (SNS delivers at least once): nothing changes
            event = AuditEvent(f"invoice#{invoice.invoice_id}", "invoice.delivery_bounced", "system:ses", now,
                               ses_message_id or message_key, {
                                   "message_key": message_key, "bounced": mask_all(addresses), "fallback": outcome,
                                   "to": mask(attempt.claim.destination or "") if reached and attempt else None,
                                   "delivered": reached})
            try:
                self.ledger.save_invoice(current if reached else replace(current, delivered_at=None), [event], now)
            except VersionConflict:
                continue
            break
        self.metrics.count("InvoiceDeliveriesBounced", 1, {"fallback": "sent" if reached else "none"})
        return {"invoice_id": invoice.invoice_id, "fallback": outcome, "delivered": reached}

    def _record(self, invoice_id: str, attempt: Attempt, corrected: bool, document: str | None,
                now: datetime) -> None:
        for _ in conflict_retries(f"recording the delivery of {invoice_id}", self.metrics):
            invoice = self.ledger.get_invoices([invoice_id]).get(invoice_id)
            if invoice is None:
                return
            event = AuditEvent(f"invoice#{invoice_id}", "invoice.delivered", ACTOR, now, attempt.claim.message_key,
                               {"channel": "email", "message_id": attempt.message_id,
                                "to": mask(attempt.claim.destination or ""),
                                "corrected": corrected, "document": document,
                                "confirmed": attempt.confirmed})
            try:
                self.ledger.save_invoice(replace(invoice, delivered_at=now), [event], now)
            except VersionConflict:
                continue
            return

