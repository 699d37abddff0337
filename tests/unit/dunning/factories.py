"""Builders shared by the dunning tests."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.customer import Contact, Customer
from chalicelib.domain.invoice import Document, DocumentKind, Invoice
from chalicelib.domain.money import Money


def money(value, currency="EUR"):
    return Money.of(value, currency)


def invoice(total="1000.00", due=date(2025, 3, 3), currency="EUR", issue=None, number="INV-1", **kw):
    document = Document(kind=DocumentKind.INVOICE, number=number, customer_id="acme",
                        issue_date=issue or due - timedelta(days=30), due_date=due, total=money(total, currency),
                        paid_in_source=Money.zero(currency))
    return replace(Invoice.from_document(document), **kw)


def customer(timezone="Europe/Berlin", country="DE", email=True, phone=True, **kw):
    contact = Contact(name="Ada", email="ada@example.com" if email else None, phone="+4930123456" if phone else None)
    contacts = (contact,) if (email or phone) else ()
    return Customer(customer_id="acme", name="Acme GmbH", contacts=contacts, timezone=timezone, country=country, **kw)


def local(tz, *args):
    """An aware UTC instant from a local wall-clock time in `tz`."""
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)
