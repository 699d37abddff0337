"""Dunwell's simple bank statement CSV (documented in examples/bank/README.md).

Header row required, column order free, extra columns ignored, names case-insensitive:
``date,amount,currency,payer_name,reference,bank_ref``. UTF-8 (a BOM is fine), comma separated,
RFC 4180 quoting. ``date`` is ISO ``YYYY-MM-DD`` (booking date); ``amount`` uses ``.`` for decimals
(a ``,`` thousands separator is tolerated), negative for debits; ``currency`` ISO 4217; ``bank_ref``
is the bank's unique reference for the line and is required (it is the dedupe key: a re-dropped
statement must not count money twice). ``reference`` is the remittance text.

Credits become PAYMENT events (``event_id`` ``csv:{bank_ref}``, ``payment_ref`` = ``bank_ref``,
``occurred_at`` = the date at midnight UTC); debits and zero amounts are SkippedEntry; a bad row is a
RowError with its physical line number. References: the whole ``reference`` value when it is a
single token (``INV-2026-1001`` or a plain ``10042``), plus `extract_references` over it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

from chalicelib.domain.errors import DomainError
from chalicelib.domain.money import Money, normalise_currency, parse_amount
from chalicelib.domain.payments import PaymentEvent, PaymentKind
from chalicelib.formats.bank.model import PROVIDER, BankItem, SkippedEntry
from chalicelib.formats.bank.references import explicit_reference, extract_references
from chalicelib.formats.records import RowError, UnreadableFile
from chalicelib.formats.streams import guarded, text

FORMAT = "csv"
COLUMNS = ("date", "amount", "currency", "payer_name", "reference", "bank_ref")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Rows:
    def __init__(self, reader: io.BufferedReader) -> None:
        self.text = text(reader)
        self.rows = csv.reader(self.text)
        self.line_end = 0

    def header(self) -> dict[str, int]:
        try:
            header = next(self.rows, None)
        except UnicodeDecodeError as exc:
            raise UnreadableFile("file is not UTF-8 text; save it as UTF-8") from exc
        except csv.Error as exc:
            raise UnreadableFile(f"CSV header cannot be read: {exc}") from exc
        if header is None:
            raise UnreadableFile("file is empty")
        self.line_end = self.rows.line_num
        names = [cell.strip().lower() for cell in header]
        missing = [column for column in COLUMNS if column not in names]
        if missing:
            raise UnreadableFile(f"bank CSV header lacks {', '.join(missing)}; expected columns {','.join(COLUMNS)}")
        return {column: names.index(column) for column in COLUMNS}


def open_statement_csv(reader: io.BufferedReader) -> Iterator[BankItem]:
    """Read the header now (a wrong file fails before anything is returned), the rows lazily."""
    rows = _Rows(reader)
    columns = rows.header()
    return guarded(_items(rows, columns), lambda: rows.line_end + 1)


def _items(rows: _Rows, columns: dict[str, int]) -> Iterator[BankItem]:
    seen: dict[str, int] = {}
    while True:
        start = rows.line_end + 1
        try:
            row = next(rows.rows, None)
        except csv.Error as exc:
            raise UnreadableFile(f"CSV cannot be read near line {start}: {exc}") from exc
        if row is None:
            return
        rows.line_end = rows.rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        yield _row(row, columns, start, seen)


def _cell(row: list[str], columns: dict[str, int], name: str) -> str:
    index = columns[name]
    return row[index].strip() if index < len(row) else ""


def _row(row: list[str], columns: dict[str, int], line: int, seen: dict[str, int]) -> BankItem:
    bank_ref = _cell(row, columns, "bank_ref")
    number = bank_ref or None

    def error(field: str, reason: str, value: str | None) -> RowError:
        return RowError(line=line, field=field, reason=reason, value=value, number=number)

    if not bank_ref:
        return error("bank_ref", "bank_ref is required: it is the dedupe key of the line", None)
    if bank_ref in seen:
        return error("bank_ref", f"bank_ref repeats line {seen[bank_ref]}", bank_ref)
    seen[bank_ref] = line
    raw_date = _cell(row, columns, "date")
    try:
        if not _ISO_DATE.match(raw_date):
            raise ValueError
        booked = date.fromisoformat(raw_date)
    except ValueError:
        return error("date", "date must be YYYY-MM-DD", raw_date)
    raw_amount = _cell(row, columns, "amount")
    try:
        value = parse_amount(raw_amount, ".")
    except DomainError as exc:
        return error("amount", str(exc), raw_amount)
    if value < 0:
        return SkippedEntry(line, bank_ref, "debit (negative amount): not a customer payment", "debit")
    if value == 0:
        return SkippedEntry(line, bank_ref, "zero amount", "zero_amount")
    raw_currency = _cell(row, columns, "currency")
    try:
        amount = Money.of(value, normalise_currency(raw_currency))
    except DomainError as exc:
        field = "currency" if exc.field == "currency" else "amount"
        return error(field, str(exc), raw_currency if field == "currency" else raw_amount)
    reference = _cell(row, columns, "reference")
    references = tuple(dict.fromkeys(explicit_reference(reference) + extract_references(reference)))
    return PaymentEvent(provider=PROVIDER, event_id=f"csv:{bank_ref}", payment_ref=bank_ref, kind=PaymentKind.PAYMENT,
                        amount=amount, occurred_at=datetime.combine(booked, datetime.min.time(), tzinfo=UTC),
                        raw_type=FORMAT, payer_name=_cell(row, columns, "payer_name") or None,
                        references=references)
