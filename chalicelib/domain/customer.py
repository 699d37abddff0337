"""Customers (the debtors) and how to reach them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.errors import InvalidDocument
from chalicelib.domain.money import Money
from chalicelib.domain.terms import PaymentTerms

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?$")


def validate_email(value: str) -> str:
    clean = value.strip()
    if not _EMAIL.match(clean):
        raise InvalidDocument(f"{value!r} is not an email address", field="email")
    return clean


def validate_phone(value: str) -> str:
    """Phone numbers are kept only in E.164 (+4930123456); SMS cannot be sent to anything else."""
    clean = re.sub(r"[\s().-]", "", value)
    if clean.startswith("00"):
        clean = "+" + clean[2:]
    if not _E164.match(clean):
        raise InvalidDocument(f"{value!r} is not a phone number in international form (+CC...)", field="phone")
    return clean


def validate_language(value: str) -> str:
    clean = value.strip()
    if not _LANGUAGE.match(clean):
        raise InvalidDocument(f"{value!r} is not a language tag such as 'en' or 'de-AT'", field="language")
    return clean.replace("_", "-")


def validate_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidDocument(f"{value!r} is not an IANA time zone such as 'Europe/Berlin'", field="timezone") from None
    return value


@dataclass(frozen=True, slots=True)
class Contact:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    timezone: str | None = None
    email_suppressed: bool = False  # the address bounced for good or complained: never mailed again

    def __post_init__(self) -> None:
        if self.email is not None:
            object.__setattr__(self, "email", validate_email(self.email))
        if self.phone is not None:
            object.__setattr__(self, "phone", validate_phone(self.phone))
        if self.language is not None:
            object.__setattr__(self, "language", validate_language(self.language))
        if self.timezone is not None:
            validate_timezone(self.timezone)


_COUNTRY = re.compile(r"^[A-Z]{2}$")
INVOICE_DELIVERY = ("none", "email")  # how a customer receives its new invoices (later: more channels)
STATEMENT_DELIVERY = ("none", "email")  # "email": the monthly statement of account, on the first business day
ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "region", "country")
_ADDRESS_MAX = 200
# Countries that write the town before the postcode ("Springfield, IL 62701"; "London" / "SW1A 1AA").
_TOWN_FIRST = frozenset({"US", "CA", "AU"})
_POSTCODE_LINE = frozenset({"GB", "IE"})


def validate_country(value: str, field: str = "country") -> str:
    clean = value.strip().upper()
    if not _COUNTRY.match(clean):
        raise InvalidDocument(f"{value!r} is not a two-letter ISO 3166-1 country code", field=field)
    return clean


@dataclass(frozen=True, slots=True)
class Address:
    """A billing (postal) address. Every part optional but one of the first line or the city; the country is an
    ISO 3166-1 alpha-2 code."""

    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None

    def __post_init__(self) -> None:
        for name in ADDRESS_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            clean = " ".join(value.split())
            if len(clean) > _ADDRESS_MAX:
                raise InvalidDocument(f"address {name} is longer than {_ADDRESS_MAX} characters",
                                      field=f"address.{name}")
            object.__setattr__(self, name, clean or None)
        if self.country is not None:
            object.__setattr__(self, "country", validate_country(self.country, "address.country"))
        if not self.line1 and not self.city:
            raise InvalidDocument("an address needs at least a first line or a city", field="address")

    def to_dict(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in ADDRESS_FIELDS}

    @classmethod
    def from_dict(cls, raw: dict[str, str | None]) -> Address:
        return cls(**{name: raw.get(name) for name in ADDRESS_FIELDS})

    def lines(self) -> tuple[str, ...]:
        """The address as printed above the country line (the country is named by the caller, in its language)."""
        street = tuple(x for x in (self.line1, self.line2) if x)
        code, city, region = self.postal_code, self.city, self.region
        if self.country in _TOWN_FIRST:
            comma = city and (region or code) and self.country != "AU"  # "Springfield, IL 62701"; "Brisbane QLD 4000"
            town = " ".join(x for x in (f"{city}," if comma else city, region, code) if x)
            return (*street, town) if town else street
        if self.country in _POSTCODE_LINE:
            return tuple(x for x in (*street, city, region, code) if x)
        town = " ".join(x for x in (code, city) if x)
        return tuple(x for x in (*street, town, region) if x)


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    name: str
    contacts: tuple[Contact, ...] = ()
    language: str | None = None
    timezone: str | None = None
    country: str | None = None
    currency: str | None = None
    payment_terms: PaymentTerms | None = None
    credit_limit: Money | None = None
    tax_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    policy_id: str | None = None  # the dunning policy; None: the default policy
    dunning_paused: bool = False
    credit_hold: bool = False  # new orders blocked (by escalation or by hand)
    payment_receipts: bool = False  # email a receipt for each payment received
    address: Address | None = None  # the billing address
    address_edited: bool = False  # staff set the address: files no longer change it
    invoice_delivery: str = "none"  # "email": each new invoice (and each corrected version) is emailed as a PDF
    statement_delivery: str = "none"  # "email": a statement of account as a PDF each month (services/statement_mail)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidDocument("customer name is empty", field="customer_name")
        if self.language is not None:
            object.__setattr__(self, "language", validate_language(self.language))
        if self.timezone is not None:
            validate_timezone(self.timezone)
        if self.invoice_delivery not in INVOICE_DELIVERY:
            raise InvalidDocument(f"invoice_delivery must be one of {', '.join(INVOICE_DELIVERY)}",
                                  field="invoice_delivery")
        if self.statement_delivery not in STATEMENT_DELIVERY:
            raise InvalidDocument(f"statement_delivery must be one of {', '.join(STATEMENT_DELIVERY)}",
                                  field="statement_delivery")
        if self.credit_limit is not None and self.credit_limit.is_negative:
            raise InvalidDocument("credit limit cannot be negative", field="credit_limit")

    def merged_with(self, incoming: Customer) -> Customer:
        """What a file says about a customer updates the fields it carries and keeps the rest:
        a file with only a name must not erase contacts or terms set earlier."""
        contacts = self.contacts
        for contact in incoming.contacts:
            new_email = contact.email and all(c.email != contact.email for c in contacts)
            new_phone = contact.phone and not contact.email and all(c.phone != contact.phone for c in contacts)
            if new_email or new_phone:
                contacts = (*contacts, contact)
        return replace(
            self,
            name=incoming.name or self.name,
            contacts=contacts,
            language=incoming.language or self.language,
            timezone=incoming.timezone or self.timezone,
            country=incoming.country or self.country,
            currency=incoming.currency or self.currency,
            payment_terms=incoming.payment_terms or self.payment_terms,
            tax_id=incoming.tax_id or self.tax_id,
            # A file brings the ERP's current address, unless staff corrected it here (as contacts: a file
            # never takes back what staff set).
            address=self.address if self.address_edited else (incoming.address or self.address),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "contacts": [contact_to_dict(c) for c in self.contacts],
            "language": self.language,
            "timezone": self.timezone,
            "country": self.country,
            "currency": self.currency,
            "payment_terms": self.payment_terms.describe() if self.payment_terms else None,
            "credit_limit": self.credit_limit.to_api() if self.credit_limit else None,
            "tax_id": self.tax_id,
            "policy_id": self.policy_id,
            "dunning_paused": self.dunning_paused,
            "credit_hold": self.credit_hold,
            "payment_receipts": self.payment_receipts,
            "address": self.address.to_dict() if self.address else None,
            "address_edited": self.address_edited,
            "invoice_delivery": self.invoice_delivery,
            "statement_delivery": self.statement_delivery,
        }

    def fingerprint(self) -> str:
        """Equal for equal customer data: an unchanged customer in a file costs no write. A customer without an
        address keeps the fingerprint it had before addresses existed (a re-drop after the upgrade writes nothing)."""
        data = self.to_dict()
        if data["address"] is None and not data["address_edited"]:
            del data["address"], data["address_edited"]
        if data["invoice_delivery"] == "none":
            del data["invoice_delivery"]
        if data["statement_delivery"] == "none":
            del data["statement_delivery"]
        return json.dumps(data, sort_keys=True)


def destination_for(customer: Customer, channel: str) -> str | None:
    """Where a message on `channel` goes: the first contact with an address for it (a suppressed email never)."""
    for contact in customer.contacts:
        if channel == "email" and contact.email_suppressed:
            continue
        value = contact.email if channel == "email" else contact.phone
        if value:
            return value
    return None


def contact_to_dict(contact: Contact) -> dict[str, str | bool | None]:
    return {"name": contact.name, "email": contact.email, "phone": contact.phone,
            "language": contact.language, "timezone": contact.timezone, "email_suppressed": contact.email_suppressed}
