"""Payment receipts by email, for the customers who asked for them (`payment_receipts` on the customer).

Sent once, right after the payment's transaction committed (a duplicate notification never reaches this
point). A receipt is a courtesy: if SES refuses it or the process dies before it goes, the payment stands
and the failure is logged and counted; receipts are never retried into duplicates."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any, Protocol

from chalicelib.domain.invoice import Invoice
from chalicelib.domain.payments import PaymentKind, PaymentRecord
from chalicelib.services.dunning import Metrics, OutgoingEmail, Sender, SendFailed
from chalicelib.services.ports import StoredCustomer

log = logging.getLogger(__name__)


class CustomerReader(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...


class PaymentReceipts:
    def __init__(self, customers: CustomerReader, render: Callable[..., Any], sender: Sender, metrics: Metrics,
                 seller: Any) -> None:
        self.customers = customers
        self.render = render
        self.sender = sender
        self.metrics = metrics
        self.seller = seller

    def send(self, record: PaymentRecord, invoices: Sequence[Invoice], payer: StoredCustomer | None = None
             ) -> str | None:
        """The SES message id, or None when no receipt is due (or it could not be sent). `payer`: the customer
        as the payment's match read it, so it is not read twice."""
        if record.kind is not PaymentKind.PAYMENT or not record.customer_id:
            return None
        if payer is not None and payer.customer.customer_id == record.customer_id:
            stored: StoredCustomer | None = payer
        else:
            stored = self.customers.get_customers([record.customer_id]).get(record.customer_id)
        if stored is None or not stored.customer.payment_receipts:
            return None
        customer = stored.customer
        contact = next((c for c in customer.contacts if c.email and not c.email_suppressed), None)
        if contact is None or contact.email is None:
            return None
        from chalicelib.formats.receipts import ReceiptLine

        by_id = {i.invoice_id: i for i in invoices}
        lines = [ReceiptLine(a.number, a.amount.amount, by_id[a.invoice_id].balance.amount)
                 for a in record.allocations if a.invoice_id in by_id]
        received_on: date = record.occurred_at.date()
        rendered = self.render(contact.language or customer.language, customer.name, contact.name,
                               record.amount.amount, record.amount.currency, received_on, lines,
                               record.unapplied.amount, self.seller, record.payment_ref)
        try:
            message_id = self.sender.send_email(OutgoingEmail(contact.email, rendered.subject, rendered.html,
                                                              rendered.text, f"receipt#{record.payment_id}"))
        except SendFailed:
            log.warning("payment receipt not sent", extra={"payment_id": record.payment_id})
            self.metrics.count("ReceiptsFailed", 1, {"channel": "email"})
            return None
        self.metrics.count("ReceiptsSent", 1, {"channel": "email"})
        return message_id
