"""Which invoices Dunwell delivers to the customer itself, and which of those never reached them. Pure.

A customer with `invoice_delivery: email` receives each new invoice from Dunwell (services/invoice_delivery.py);
on day one only invoices issued at most FRESH_DAYS before Dunwell first saw them (the older ones went out from the
ERP before). Such an invoice without `delivered_at` was never delivered (no usable address then, a refused send,
or a bounce that found no other contact): a reminder about it says so and attaches it."""

from __future__ import annotations

from typing import Final

from chalicelib.domain.customer import Customer
from chalicelib.domain.invoice import Invoice

FRESH_DAYS: Final = 14
KEY_PREFIX: Final = "delivery#"  # send-once keys (and the X-Dunwell-Message-Key header) of invoice deliveries


def deliverable(invoice: Invoice) -> bool:
    if invoice.void or invoice.balance.amount <= 0:
        return False
    first_seen = invoice.first_seen_on or invoice.issue_date
    return (first_seen - invoice.issue_date).days <= FRESH_DAYS


def never_delivered(invoice: Invoice, customer: Customer) -> bool:
    """Dunwell was to deliver it and it has not reached the customer."""
    return customer.invoice_delivery == "email" and invoice.delivered_at is None and deliverable(invoice)
