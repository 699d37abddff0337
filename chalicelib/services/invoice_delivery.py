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
from chalicelib.domain.delivery import deliverable
from chalicelib.domain.errors import NotFound
from chalicelib.domain.invoice import Invoice
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
    return f"delivery#{invoice.invoice_id}#{digest}"


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

    def deliver(self, invoice: Invoice, customer: Customer, corrected: bool = False) -> Attempt | None:
        contact = next((c for c in customer.contacts if c.email and not c.email_suppressed), None)
        if contact is None or contact.email is None:
            self.metrics.count("InvoiceDeliveriesSkipped", 1, {"reason": "no_email"})
            return None
        email = contact.email
        now = self.clock()
        claim = Claim(delivery_key(invoice), customer.customer_id, "email", now.date(), uuid.uuid4().hex, [],
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

    def _record(self, invoice_id: str, attempt: Attempt, corrected: bool, document: str | None,
                now: datetime) -> None:
        for _ in conflict_retries(f"recording the delivery of {invoice_id}", self.metrics):
            invoice = self.ledger.get_invoices([invoice_id]).get(invoice_id)
            if invoice is None:
                return
            event = AuditEvent(f"invoice#{invoice_id}", "invoice.delivered", ACTOR, now, attempt.claim.message_key,
                               {"channel": "email", "message_id": attempt.message_id,
                                "to": attempt.claim.destination, "corrected": corrected, "document": document,
                                "confirmed": attempt.confirmed})
            try:
                self.ledger.save_invoice(replace(invoice, delivered_at=now), [event], now)
            except VersionConflict:
                continue
            return

