"""Turn one document's text values (from a CSV row, a group of line rows, or a JSON object) into a
validated SourceRecord, or into every RowError that stops it.

Values arrive as `{field: text}` with blanks already dropped, so CSV and JSON share one set of rules.
Errors are collected per field rather than stopping at the first, so one report shows everything to fix.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from contextlib import suppress
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from chalicelib.domain.customer import (
    Address,
    Contact,
    Customer,
    validate_email,
    validate_language,
    validate_phone,
)
from chalicelib.domain.errors import DomainError
from chalicelib.domain.ids import customer_id_for
from chalicelib.domain.invoice import Document, DocumentKind
from chalicelib.domain.money import Money, amount_from_digits, normalise_currency, parse_amount
from chalicelib.domain.terms import PaymentTerms
from chalicelib.formats.countries import country_code
from chalicelib.formats.mapping import ALWAYS_REQUIRED, CUSTOMER_FIELDS, Mapping, normalise_value
from chalicelib.formats.records import ParsedItem, RowError, SourceRecord, covering

# The common spellings, read without the general parser: '-1234.5', '1,234.50' ('.' decimals) or
# '1.234,50' (',' decimals). Anything else (symbols, brackets, trailing minus) goes to parse_amount.
_SIMPLE_AMOUNT = {
    ".": re.compile(r"^(-?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,30})(?:\.([0-9]{1,10}))?$"),
    ",": re.compile(r"^(-?)([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]{1,30})(?:,([0-9]{1,10}))?$"),
}
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_TIMEZONE_SHAPE = re.compile(r"^[A-Za-z_]+(?:/[A-Za-z0-9_+-]+){0,2}$")
_CACHE_LIMIT = 4096
_EARLIEST_YEAR, _LATEST_YEAR = 1970, 2199
_HUNDRED = Decimal(100)
_CUSTOMER_KEY = (*CUSTOMER_FIELDS, "terms")
_CHECKED_ELSEWHERE = frozenset((*ALWAYS_REQUIRED, "due_date"))


class _Problem(Exception):
    """One field's value is wrong; becomes a RowError with the row's line and number."""

    def __init__(self, field: str, reason: str, value: str | None = None) -> None:
        super().__init__(reason)
        self.field, self.reason, self.value = field, reason, value
        self.line: int | None = None  # set when the problem is on a line-item row, not the document's first


def describe_format(fmt: str) -> str:
    for directive, shown in (("%d", "DD"), ("%m", "MM"), ("%Y", "YYYY"), ("%y", "YY"), ("%b", "Mon"), ("%B", "Month")):
        fmt = fmt.replace(directive, shown)
    return fmt


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_timezone(name: str) -> bool:
    zones = _zones()
    # Without a tz database on the host only the shape can be checked; the name is kept as given.
    return name in zones if zones else bool(_TIMEZONE_SHAPE.match(name))


class _Bounded(dict[str, object]):
    """A cache that starts over when full: rows repeat a few dates, currencies and customers, so hits
    stay high while memory stays bounded on files of any length."""

    def put(self, key: str, value: object) -> None:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        self[key] = value


class DocumentBuilder:
    def __init__(self, mapping: Mapping, labels: dict[str, str] | None = None) -> None:
        self.mapping = mapping
        self.labels = labels or {}
        self._decimal = mapping.decimal_separator
        self._simple = _SIMPLE_AMOUNT[mapping.decimal_separator]
        self._thousands = "," if mapping.decimal_separator == "." else "."
        self._formats = mapping.date_formats
        self._formats_shown = " or ".join(describe_format(f) for f in mapping.date_formats)
        self._dates = _Bounded()
        self._currencies = _Bounded()
        self._customers: dict[tuple[str | None, ...], Customer | list[_Problem]] = {}
        self._terms = _Bounded()

    def label(self, field: str) -> str:
        """The name the user knows the field by: the file's column header or JSON key."""
        return self.labels.get(field, field)

    # -- values -----------------------------------------------------------------------------------

    def parse_date(self, field: str, text: str) -> date:
        cached = self._dates.get(text)
        if cached is None:
            cached = self._parse_date(text)
            self._dates.put(text, cached)
        if isinstance(cached, date):
            return cached
        raise _Problem(field, f"{text!r} is not a date in the form {self._formats_shown}", text)

    def _parse_date(self, text: str) -> date | bool:
        for fmt in self._formats:
            try:
                value = date.fromisoformat(text) if fmt == "%Y-%m-%d" and len(text) == 10 else (
                    datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a calendar date, no time zone involved
                )
            except ValueError:
                continue
            if _EARLIEST_YEAR <= value.year <= _LATEST_YEAR:
                return value
        return False

    def amount(self, field: str, text: str) -> Decimal:
        simple = self._simple.match(text)
        try:
            if simple:
                sign, integral, fraction = simple.groups()
                return amount_from_digits(sign == "-", integral.replace(self._thousands, ""), fraction or "", text)
            return parse_amount(text, self._decimal)
        except DomainError as exc:
            raise _Problem(field, exc.message, text) from exc

    def money(self, field: str, text: str, currency: str) -> Money:
        value = self.amount(field, text)
        try:
            return Money(value, currency)
        except DomainError as exc:
            raise _Problem(field, exc.message, text) from exc

    def currency(self, text: str) -> str:
        cached = self._currencies.get(text)
        if cached is None:
            try:
                cached = normalise_currency(text)
            except DomainError:
                cached = False
            self._currencies.put(text, cached)
        if isinstance(cached, str):
            return cached
        raise _Problem("currency", f"{text!r} is not an ISO 4217 currency code", text)

    def terms(self, text: str) -> PaymentTerms:
        cached = self._terms.get(text)
        if cached is None:
            try:
                cached = PaymentTerms.parse(text)
            except DomainError:
                cached = False
            self._terms.put(text, cached)
        if isinstance(cached, PaymentTerms):
            return cached
        raise _Problem("terms", f"payment terms {text!r} not understood (use e.g. 'Net 30', '2/10 net 30', "
                       "'Due on receipt')", text)

    # -- documents --------------------------------------------------------------------------------

    def build(
        self, values: dict[str, str], line: int, lines: Sequence[tuple[int, dict[str, str]]] = ()
    ) -> list[ParsedItem]:
        """One document from its values; `lines` are the line-item rows when the mapping sums them."""
        mapping = self.mapping
        get = values.get
        defaults = mapping.defaults
        number = get("number") or defaults.get("number")
        problems: list[_Problem] = []
        if not number:
            problems.append(_Problem("number", "document number is missing"))

        kind, skipped = self._choice(values, "kind", mapping.kind_values, "invoice", problems)
        status, skipped_status = self._choice(values, "status", mapping.status_values, "open", problems)
        if skipped or skipped_status:
            field = "kind" if skipped else "status"
            text = skipped or skipped_status or ""
            return [RowError(line, self.label(field), f"skipped: {self.label(field)} {text!r} is not a receivable "
                             "Dunwell collects (a bill, a payment or a draft)", text, number,
                             skipped=normalise_value(text))]

        currency: str | None = None
        try:
            currency_text = get("currency") or defaults.get("currency")
            if not currency_text:
                raise _Problem("currency", "currency is missing (fill the column or give the mapping a default)")
            currency = self.currency(currency_text)
        except _Problem as problem:
            problems.append(problem)

        issue_date = self._date(values, "issue_date", problems)
        due_date = self._date(values, "due_date", problems)
        terms: PaymentTerms | None = None
        terms_text = get("terms") or defaults.get("terms")
        if terms_text:
            try:
                terms = self.terms(terms_text)
            except _Problem as problem:
                problems.append(problem)
        is_invoice = kind == "invoice"
        derived = False
        if is_invoice and due_date is None and issue_date is not None:
            if terms is not None:
                due_date, derived = terms.due_date(issue_date), True
            elif mapping.is_required("due_date") and not any(p.field == "due_date" for p in problems):
                problems.append(_Problem("due_date", "due date is missing"))
        for name in mapping.required:
            if name not in _CHECKED_ELSEWHERE and not (get(name) or defaults.get(name)):
                problems.append(_Problem(name, f"{self.label(name)} is missing"))

        total = paid = None
        if currency is not None:
            total = self._total(values, lines, currency, kind == "credit_note", problems)
            if total is not None:
                paid = self._paid(values, total, problems)

        customer = self._customer(values, problems)

        if problems or None in (number, currency, issue_date, total, paid, customer):
            return self._errors(problems, line, number)
        assert number and issue_date and total and paid and customer  # narrowed by the check above
        try:
            document = Document(
                kind=DocumentKind.INVOICE if is_invoice else DocumentKind.CREDIT_NOTE,
                number=number,
                customer_id=customer.customer_id,
                issue_date=issue_date,
                due_date=due_date,
                total=total,
                paid_in_source=paid,
                void=status == "void",
                applies_to=None if is_invoice else get("applies_to"),
                buyer_reference=get("buyer_reference"),
                description=get("description"),
                due_date_derived=derived,
            )
        except DomainError as exc:
            return [RowError(line, self.label(exc.field or "document"), exc.message, None, number)]
        return [SourceRecord(line, document, customer)]

    def _errors(self, problems: list[_Problem], line: int, number: str | None) -> list[ParsedItem]:
        return covering([RowError(p.line or line, self.label(p.field), p.reason, p.value, number) for p in problems],
                        1)

    def _choice(
        self, values: dict[str, str], field: str, table: dict[str, str], fallback: str, problems: list[_Problem]
    ) -> tuple[str, str | None]:
        """The meaning of a kind/status cell, and the raw text when the mapping says to skip the row."""
        text = values.get(field) or self.mapping.defaults.get(field)
        if not text:
            return fallback, None
        meaning = table.get(text) or table.get(normalise_value(text))
        if meaning is None:
            known = ", ".join(sorted({k for k in table}))
            problems.append(_Problem(field, f"{self.label(field)} {text!r} is not one of: {known}", text))
            return fallback, None
        return meaning, text if meaning == "skip" else None

    def _date(self, values: dict[str, str], field: str, problems: list[_Problem]) -> date | None:
        text = values.get(field) or self.mapping.defaults.get(field)
        if not text:
            if field == "issue_date":
                problems.append(_Problem(field, "issue date is missing"))
            return None
        try:
            return self.parse_date(field, text)
        except _Problem as problem:
            problems.append(problem)
            return None

    def _total(
        self,
        values: dict[str, str],
        lines: Sequence[tuple[int, dict[str, str]]],
        currency: str,
        credit_note: bool,
        problems: list[_Problem],
    ) -> Money | None:
        text = values.get("total")
        try:
            if text:
                total = self.money("total", text, currency)
            elif lines:
                summed = self._sum_lines(lines, currency, problems)
                if summed is None:
                    return None
                total = summed
            else:
                raise _Problem("total", "total is missing")
        except _Problem as problem:
            problems.append(problem)
            return None
        if credit_note and self.mapping.credit_notes_negative:
            if total.amount > 0:
                problems.append(_Problem("total", f"credit note total {total.to_api()} should be negative in this "
                                         "export", text))
                return None
            total = -total
        if total.is_negative:
            problems.append(_Problem("total", f"total {total.to_api()} is negative; a credit note must have kind "
                                     "credit_note and a positive total", text))
            return None
        return total

    def _sum_lines(
        self, lines: Sequence[tuple[int, dict[str, str]]], currency: str, problems: list[_Problem]
    ) -> Money | None:
        """Invoice total = sum of line amounts (after discount %, rounded half-up per line as ERPs do)
        plus each line's tax amount unless the mapping says line amounts already include tax."""
        quantum = Money.zero(currency).amount
        total = Decimal(0)
        failed = False
        add_tax = not self.mapping.tax_included
        for line, row in lines:
            try:
                if row.get("line_amount"):
                    amount = self.money("line_amount", row["line_amount"], currency).amount
                elif row.get("quantity") and row.get("unit_amount"):
                    amount = self.amount("quantity", row["quantity"]) * self.amount("unit_amount", row["unit_amount"])
                    if row.get("discount_percent"):
                        discount = self.amount("discount_percent", row["discount_percent"])
                        if not 0 <= discount <= _HUNDRED:
                            raise _Problem("discount_percent", "discount must be a percentage from 0 to 100",
                                           row["discount_percent"])
                        amount = amount * (_HUNDRED - discount) / _HUNDRED
                    amount = amount.quantize(quantum, rounding=ROUND_HALF_UP)
                else:
                    missing = "line_amount" if "line_amount" in self.mapping.columns else "quantity"
                    raise _Problem(missing, "line has no amount (needs a line amount, or a quantity and a unit amount)")
                total += amount
                if add_tax and row.get("tax_amount"):
                    total += self.money("tax_amount", row["tax_amount"], currency).amount
            except _Problem as problem:
                problem.line = line
                problems.append(problem)
                failed = True
        return None if failed else Money(total, currency)

    def _paid(self, values: dict[str, str], total: Money, problems: list[_Problem]) -> Money | None:
        try:
            if values.get("amount_paid"):
                paid = self.money("amount_paid", values["amount_paid"], total.currency)
                if self.mapping.credit_notes_negative and paid.is_negative:
                    paid = -paid
            elif values.get("amount_due"):
                due = self.money("amount_due", values["amount_due"], total.currency)
                if due > total:
                    raise _Problem("amount_due", f"amount due {due.to_api()} exceeds the total {total.to_api()}",
                                   values["amount_due"])
                paid = total - due
            else:
                return Money.zero(total.currency)
        except _Problem as problem:
            problems.append(problem)
            return None
        if paid.is_negative:
            problems.append(_Problem("amount_paid", "amount paid is negative", values.get("amount_paid")))
            return None
        if paid > total:
            problems.append(_Problem("amount_paid", f"amount paid {paid.to_api()} exceeds the total {total.to_api()}",
                                     values.get("amount_paid")))
            return None
        return paid

    def _customer(self, values: dict[str, str], problems: list[_Problem]) -> Customer | None:
        get = values.get
        key = tuple(map(get, _CUSTOMER_KEY))
        cached = self._customers.get(key)
        if cached is None:
            cached = self._new_customer(values)
            if len(self._customers) >= _CACHE_LIMIT:
                self._customers.clear()
            self._customers[key] = cached
        if isinstance(cached, Customer):
            return cached
        problems.extend(cached)
        return None

    def _new_customer(self, values: dict[str, str]) -> Customer | list[_Problem]:
        get = values.get
        defaults = self.mapping.defaults
        problems: list[_Problem] = []
        name = get("customer_name") or defaults.get("customer_name")
        if not name:
            problems.append(_Problem("customer_name", "customer name is missing"))
        email, phone, language = get("email"), get("phone"), get("language") or defaults.get("language")
        for field, text, check in (("email", email, validate_email), ("phone", phone, validate_phone),
                                   ("language", language, validate_language)):
            if text:
                try:
                    check(text)
                except DomainError as exc:
                    problems.append(_Problem(field, exc.message, text))
        timezone = get("timezone") or defaults.get("timezone")
        if timezone and not valid_timezone(timezone):
            problems.append(_Problem("timezone", f"{timezone!r} is not an IANA time zone such as 'Europe/Berlin'",
                                     timezone))
        country = get("country") or defaults.get("country")
        if country and not _COUNTRY.match(country):
            problems.append(_Problem("country", f"{country!r} is not a two-letter ISO 3166 country code", country))
        terms: PaymentTerms | None = None
        terms_text = get("terms") or defaults.get("terms")
        if terms_text:
            with suppress(_Problem):  # reported once, by the document
                terms = self.terms(terms_text)
        address = self._address(values, country.upper() if country else None, problems)
        if problems or not name:
            return problems
        try:
            contacts = (Contact(name=get("contact_name"), email=email, phone=phone),) if email or phone else ()
            return Customer(
                customer_id=customer_id_for(get("customer_id"), name),
                name=name,
                contacts=contacts,
                language=language,
                timezone=timezone,
                country=country.upper() if country else (address.country if address else None),
                payment_terms=terms,
                tax_id=get("tax_id"),
                address=address,
            )
        except DomainError as exc:
            return [_Problem(exc.field or "customer_name", exc.message)]

    def _address(self, values: dict[str, str], country: str | None, problems: list[_Problem]) -> Address | None:
        """The billing address, when the file has one. Its country cell may be a code or a name (Xero and
        QuickBooks keep free text); a name no one knows leaves the address without a country rather than
        rejecting the invoice. Xero's third and fourth lines join the second."""
        get = values.get
        line1, city = get("address_line1"), get("city")
        if not line1 and not city:
            return None
        country_text = get("address_country")
        if country_text:
            country = country_code(country_text) or country
        extra = ", ".join(x for x in (get("address_line2"), get("address_line3"), get("address_line4")) if x)
        try:
            return Address(line1=line1, line2=extra or None, postal_code=get("postal_code"), city=city,
                           region=get("region"), country=country)
        except DomainError as exc:
            part = (exc.field or "address").removeprefix("address.")
            field = {"line1": "address_line1", "line2": "address_line2", "country": "address_country"}.get(part, part)
            problems.append(_Problem(field if field in values else "address_line1", exc.message))
            return None
