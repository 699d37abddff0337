"""UBL 2.1 Invoice and CreditNote (Peppol BIS Billing 3.0): one document per file.

Amounts: collections chases what is still payable. In UBL, PayableAmount is already net of
PrepaidAmount, so the document total is PayableAmount + PrepaidAmount and the prepaid part is
recorded as paid in the source: the open balance Dunwell derives (total - paid) is PayableAmount.
An Invoice whose payable amount is negative is a correction that reduces what the buyer owes, so it
is imported as a credit note for the absolute amount.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET  # only the Element type and ParseError: parsing is defusedxml
from contextlib import suppress
from datetime import date
from decimal import Decimal

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from chalicelib.domain.customer import Address, Contact, Customer, validate_email, validate_phone
from chalicelib.domain.errors import DomainError
from chalicelib.domain.ids import customer_id_for
from chalicelib.domain.invoice import Document, DocumentKind
from chalicelib.domain.money import Money, normalise_currency, parse_plain_amount
from chalicelib.domain.terms import PaymentTerms
from chalicelib.formats.records import ParsedFile, ParsedItem, RowError, SourceRecord, UnreadableFile, covering

MAX_BYTES = 20 * 1024 * 1024

_INVOICE = "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice"
_CREDIT_NOTE = "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote"
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PAYABLE = "cac:LegalMonetaryTotal/cbc:PayableAmount"
_PREPAID = "cac:LegalMonetaryTotal/cbc:PrepaidAmount"
_BUYER = "cac:AccountingCustomerParty/cac:Party"


class _Problem(Exception):
    def __init__(self, field: str, reason: str, value: str | None = None) -> None:
        super().__init__(reason)
        self.field, self.reason, self.value = field, reason, value


def parse_ubl(reader: io.BufferedReader) -> ParsedFile:
    data = reader.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise UnreadableFile(f"XML file is larger than {MAX_BYTES // (1024 * 1024)} MB; a UBL file holds one document")
    if not data.strip():
        raise UnreadableFile("file is empty")
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise UnreadableFile(f"XML with a DTD or entities is refused (XXE / entity expansion): {exc}") from exc
    except ET.ParseError as exc:
        raise UnreadableFile(f"malformed XML: {exc}") from exc
    if root.tag not in (_INVOICE, _CREDIT_NOTE):
        raise UnreadableFile(f"XML root is {root.tag!r}; expected a UBL 2.1 Invoice or CreditNote")
    return ParsedFile("ubl", None, iter(_document(root)))


def _text(element: ET.Element, path: str) -> str | None:
    node = element.find(path, NS)
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


def _date(root: ET.Element, path: str) -> date | None:
    text = _text(root, path)
    if text is None:
        return None
    if not _ISO_DATE.match(text):
        raise _Problem(path, f"{text!r} is not a date in the form YYYY-MM-DD", text)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _Problem(path, f"{text!r} is not a calendar date", text) from exc


def _amount(root: ET.Element, path: str, currency: str) -> Decimal | None:
    node = root.find(path, NS)
    if node is None:
        return None
    text = (node.text or "").strip()
    try:
        value = parse_plain_amount(text)
    except DomainError as exc:
        raise _Problem(path, exc.message, text) from exc
    stated = (node.get("currencyID") or "").strip().upper()
    if stated != currency:
        raise _Problem(f"{path}/@currencyID", f"amount is in {stated or 'no currency'}, the document in {currency}",
                       stated or None)
    return value


def _document(root: ET.Element) -> list[ParsedItem]:
    problems: list[_Problem] = []
    number = _text(root, "cbc:ID")
    if number is None:
        problems.append(_Problem("cbc:ID", "document number (cbc:ID) is missing"))

    currency: str | None = None
    currency_text = _text(root, "cbc:DocumentCurrencyCode")
    try:
        if currency_text is None:
            raise _Problem("cbc:DocumentCurrencyCode", "document currency is missing")
        currency = normalise_currency(currency_text)
    except _Problem as problem:
        problems.append(problem)
    except DomainError as exc:
        problems.append(_Problem("cbc:DocumentCurrencyCode", exc.message, currency_text))

    issue_date = due_date = None
    try:
        issue_date = _date(root, "cbc:IssueDate")
        if issue_date is None:
            problems.append(_Problem("cbc:IssueDate", "issue date is missing"))
    except _Problem as problem:
        problems.append(problem)
    try:
        # BIS 3 puts BT-9 in the Invoice header and, for a CreditNote, in PaymentMeans.
        due_date = _date(root, "cbc:DueDate") or _date(root, "cac:PaymentMeans/cbc:PaymentDueDate")
    except _Problem as problem:
        problems.append(problem)

    kind = DocumentKind.INVOICE if root.tag == _INVOICE else DocumentKind.CREDIT_NOTE
    total = paid = None
    if currency is not None:
        try:
            payable = _amount(root, _PAYABLE, currency)
            prepaid = _amount(root, _PREPAID, currency) or Decimal(0)
            if payable is None:
                raise _Problem(_PAYABLE, "payable amount is missing")
            gross = payable + prepaid
            if gross < 0 and kind is DocumentKind.INVOICE and prepaid == 0:
                kind, gross = DocumentKind.CREDIT_NOTE, -gross
            if gross < 0 or prepaid < 0:
                raise _Problem(_PAYABLE, f"payable amount {payable} is negative", str(payable))
            total, paid = Money.of(gross, currency), Money.of(prepaid, currency)
        except _Problem as problem:
            problems.append(problem)
        except DomainError as exc:
            problems.append(_Problem(_PAYABLE, exc.message))

    customer = None
    try:
        customer = _buyer(root)
    except _Problem as problem:
        problems.append(problem)

    terms_text = _text(root, "cac:PaymentTerms/cbc:Note")
    derived = False
    if kind is DocumentKind.INVOICE and due_date is None and issue_date is not None and terms_text:
        # Terms not understood are left to the ingest service: the customer's stored terms, or a report line.
        with suppress(DomainError):
            due_date, derived = PaymentTerms.parse(terms_text).due_date(issue_date), True

    if problems or number is None or issue_date is None or total is None or paid is None or customer is None:
        return covering([RowError(0, p.field, p.reason, p.value, number) for p in problems], 1)
    is_invoice = kind is DocumentKind.INVOICE
    try:
        document = Document(
            kind=kind,
            number=number,
            customer_id=customer.customer_id,
            issue_date=issue_date,
            due_date=due_date if is_invoice else None,
            total=total,
            paid_in_source=paid,
            applies_to=None if is_invoice else _text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
            buyer_reference=_text(root, "cbc:BuyerReference"),
            description=_text(root, "cbc:Note"),
            due_date_derived=derived,
        )
    except DomainError as exc:
        return [RowError(0, exc.field, exc.message, None, number)]
    unresolved = is_invoice and due_date is None
    return [SourceRecord(0, document, customer, payment_terms_text=terms_text if unresolved else None)]


def _buyer(root: ET.Element) -> Customer:
    party = root.find(_BUYER, NS)
    if party is None:
        raise _Problem(_BUYER, "buyer (AccountingCustomerParty) is missing")
    name = _text(party, "cac:PartyLegalEntity/cbc:RegistrationName") or _text(party, "cac:PartyName/cbc:Name")
    if name is None:
        raise _Problem(f"{_BUYER}/cac:PartyLegalEntity/cbc:RegistrationName", "buyer name is missing")
    extra: dict[str, str] = {}
    endpoint = party.find("cbc:EndpointID", NS)
    if endpoint is not None and endpoint.text and endpoint.text.strip():
        scheme = endpoint.get("schemeID")
        extra["peppol_endpoint"] = f"{scheme}:{endpoint.text.strip()}" if scheme else endpoint.text.strip()
    email = _text(party, "cac:Contact/cbc:ElectronicMail")
    if email is not None:
        try:
            email = validate_email(email)
        except DomainError as exc:
            raise _Problem(f"{_BUYER}/cac:Contact/cbc:ElectronicMail", exc.message, email) from exc
    phone = _text(party, "cac:Contact/cbc:Telephone")
    if phone is not None:
        try:
            phone = validate_phone(phone)
        except DomainError:
            # Peppol phone numbers are free text, often national ("23434234"); SMS needs E.164, so the
            # number is kept for staff to read but not used as a channel.
            extra["telephone"], phone = phone, None
    country = (_text(party, "cac:PostalAddress/cac:Country/cbc:IdentificationCode") or "").upper()
    address = _address(party, country if _COUNTRY.match(country) else None)
    contact_name = _text(party, "cac:Contact/cbc:Name")
    contacts = (Contact(name=contact_name, email=email, phone=phone),) if email or phone else ()
    return Customer(
        customer_id=customer_id_for(_text(party, "cac:PartyIdentification/cbc:ID"), name),
        name=name,
        contacts=contacts,
        country=country if _COUNTRY.match(country) else None,
        tax_id=_text(party, "cac:PartyTaxScheme/cbc:CompanyID"),
        extra=extra,
        address=address,
    )


def _address(party: ET.Element, country: str | None) -> Address | None:
    """The buyer's PostalAddress (BG-8): street (BT-50), additional street (BT-51), address line (BT-163), city
    (BT-52), post code (BT-53), country subdivision (BT-54), country (BT-55)."""
    postal = party.find("cac:PostalAddress", NS)
    if postal is None:
        return None
    line1, city = _text(postal, "cbc:StreetName"), _text(postal, "cbc:CityName")
    if not line1 and not city:
        return None
    extra = ", ".join(x for x in (_text(postal, "cbc:AdditionalStreetName"),
                                  _text(postal, "cac:AddressLine/cbc:Line")) if x)
    try:
        return Address(line1=line1, line2=extra or None, postal_code=_text(postal, "cbc:PostalZone"), city=city,
                       region=_text(postal, "cbc:CountrySubentity"), country=country)
    except DomainError as exc:
        raise _Problem(f"{_BUYER}/cac:PostalAddress", exc.message) from exc
