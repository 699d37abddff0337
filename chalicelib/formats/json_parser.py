"""Dunwell JSON (an array of documents, or an object with an "invoices" array) and JSON Lines.

Both stream: a JSON array is cut into its elements with the stdlib decoder over a sliding buffer,
so memory holds one document at a time (up to 1 MB each) and every document keeps the line it
starts on, which the rejection report needs. Numbers are kept as the text they are written as, never float.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal

from chalicelib.formats.builder import DocumentBuilder
from chalicelib.formats.mapping import CUSTOMER_FIELDS, Mapping, get_mapping
from chalicelib.formats.records import ParsedFile, ParsedItem, RowError, UnreadableFile, covering
from chalicelib.formats.streams import guarded

_CHUNK = 1 << 16
_MAX_ITEM = 1 << 20
_WHITESPACE = re.compile(r"[ \t\r\n]*")

# The nested customer object's keys, as Dunwell fields.
_CUSTOMER_KEYS = {
    "id": "customer_id", "name": "customer_name", "contact_name": "contact_name", "email": "email",
    "phone": "phone", "language": "language", "timezone": "timezone", "country": "country", "terms": "terms",
    "tax_id": "tax_id", "address_line1": "address_line1", "address_line2": "address_line2",
    "postal_code": "postal_code", "city": "city", "region": "region",
}
_FLAT_CUSTOMER_FIELDS = frozenset((*CUSTOMER_FIELDS, "terms"))


class _NotANumber:
    """NaN and Infinity are valid to Python's json module but not to JSON or to money."""

    def __init__(self, name: str) -> None:
        self.name = name


_EXPONENT_REACH = 20  # plain digits for 1e-1 or 2.5E2; past this the number stays as written, and is refused


def _number(text: str) -> str:
    """A JSON number as the text the amount grammar (domain/money.py) reads, so a 5,000-digit integer or `1e30`
    is a rejected row with a reason. Kept as text, not int: int() refuses more than 4,300 digits with a
    ValueError inside the decoder. An exponent is written out only when short, as `1e999999999` in plain
    digits would be a billion characters."""
    if "e" not in text and "E" not in text:
        return text
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -_EXPONENT_REACH and value.adjusted() <= _EXPONENT_REACH:
        return format(value, "f")
    return text


_DECODER = json.JSONDecoder(parse_float=_number, parse_int=_number, parse_constant=_NotANumber)


def _schema() -> tuple[Mapping, dict[str, str]]:
    """JSON keys are the Dunwell CSV column names, so both formats share one mapping and one set of rules."""
    mapping = get_mapping("dunwell")
    keys = {columns[0]: field for field, columns in mapping.columns.items()}
    return mapping, keys


class _Converter:
    def __init__(self) -> None:
        self.mapping, self.keys = _schema()
        self.builder = DocumentBuilder(self.mapping, {field: key for key, field in self.keys.items()})

    def convert(self, line: int, obj: object) -> list[ParsedItem]:
        if not isinstance(obj, dict):
            return [RowError(line, None, f"expected a JSON object for one document, got {type(obj).__name__}")]
        number = obj.get("invoice_number") if isinstance(obj.get("invoice_number"), str) else None
        values: dict[str, str] = {}
        errors: list[ParsedItem] = []
        for key, raw in obj.items():
            if key == "customer":
                errors.extend(self._customer(line, raw, obj, values, number))
                continue
            field = self.keys.get(key)
            if field is None:
                errors.append(RowError(line, key, f"unknown key {key!r}; expected: customer, "
                                       f"{', '.join(sorted(self.keys))}", None, number))
                continue
            self._put(line, key, field, raw, values, errors, number)
        if errors:
            return covering(errors, 1)
        return self.builder.build(values, line)

    def _customer(
        self, line: int, raw: object, obj: dict[str, object], values: dict[str, str], number: str | None
    ) -> list[ParsedItem]:
        if raw is None:
            return []
        if not isinstance(raw, dict):
            return [RowError(line, "customer", "customer must be an object", None, number)]
        flat = sorted(k for k in obj if self.keys.get(k) in _FLAT_CUSTOMER_FIELDS)
        if flat:
            return [RowError(line, "customer", f"give the customer either as a customer object or as flat keys, "
                             f"not both (found {', '.join(flat)})", None, number)]
        errors: list[ParsedItem] = []
        for key, item in raw.items():
            field = _CUSTOMER_KEYS.get(key)
            if field is None:
                errors.append(RowError(line, f"customer.{key}", f"unknown key; expected: "
                                       f"{', '.join(sorted(_CUSTOMER_KEYS))}", None, number))
                continue
            self._put(line, f"customer.{key}", field, item, values, errors, number)
        return errors

    @staticmethod
    def _put(
        line: int, key: str, field: str, raw: object, values: dict[str, str], errors: list[ParsedItem],
        number: str | None,
    ) -> None:
        if raw is None:
            return
        if isinstance(raw, str):
            text = raw.strip()
        else:
            shown = raw.name if isinstance(raw, _NotANumber) else json.dumps(raw, default=str)[:80]
            errors.append(RowError(line, key, "must be a string (amounts may also be plain JSON numbers)", shown,
                                   number))
            return
        if text:
            values[field] = text


# -- JSON array ------------------------------------------------------------------------------------


class _Scanner:
    """Walks a JSON text one value at a time over a sliding window of the stream."""

    def __init__(self, text: io.TextIOBase) -> None:
        self.text = text
        self.buf = ""
        self.pos = 0
        self.line = 1
        self.eof = False

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.text.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        if self.pos:
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.buf += chunk
        return True

    def _advance(self, end: int) -> None:
        self.line += self.buf.count("\n", self.pos, end)
        self.pos = end

    def peek(self) -> str:
        """The next non-blank character, or '' at the end of the file."""
        while True:
            match = _WHITESPACE.match(self.buf, self.pos)
            assert match is not None
            self._advance(match.end())
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def take(self, char: str, context: str) -> None:
        found = self.peek()
        if found != char:
            shown = repr(found) if found else "the end of the file"
            raise UnreadableFile(f"JSON is malformed at line {self.line}: expected {char!r} {context}, found {shown}")
        self._advance(self.pos + 1)

    def value(self) -> object:
        self.peek()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except (json.JSONDecodeError, ValueError) as exc:
                if self.eof or len(self.buf) - self.pos > _MAX_ITEM:
                    where = self.line + (self.buf.count("\n", self.pos, exc.pos)
                                         if isinstance(exc, json.JSONDecodeError) else 0)
                    detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                    raise UnreadableFile(f"JSON is malformed at line {where}: {detail}"
                                         f"{' (or a document is larger than 1 MB)' if not self.eof else ''}") from exc
            else:
                # A value ending exactly at the buffer's end may continue in the next chunk (a number).
                if end < len(self.buf) or self.eof:
                    self._advance(end)
                    return obj
            self._more()


def open_array(scanner: _Scanner) -> bool:
    """Move to the first element of the document array; True when the array sits in a wrapper object."""
    first = scanner.peek()
    if first == "[":
        scanner.take("[", "")
        return False
    if first != "{":
        raise UnreadableFile('a JSON file must hold an array of documents or an object with an "invoices" array')
    scanner.take("{", "")
    while scanner.peek() != "}":
        key = scanner.value()
        if not isinstance(key, str):
            raise UnreadableFile(f"JSON is malformed at line {scanner.line}: expected a key")
        scanner.take(":", "after a key")
        if key == "invoices":
            scanner.take("[", 'to open the "invoices" array')
            return True
        scanner.value()
        if scanner.peek() == ",":
            scanner.take(",", "")
    raise UnreadableFile('the JSON object has no "invoices" array')


def _array_items(scanner: _Scanner, wrapped: bool) -> Iterator[tuple[int, object]]:
    if scanner.peek() == "]":
        scanner.take("]", "")
    else:
        while True:
            scanner.peek()
            line = scanner.line
            yield line, scanner.value()
            if scanner.peek() == ",":
                scanner.take(",", "")
                continue
            scanner.take("]", "after a document (a missing comma?)")
            break
    if wrapped:
        while scanner.peek() == ",":
            scanner.take(",", "")
            scanner.value()
            scanner.take(":", "after a key")
            scanner.value()
        scanner.take("}", "to close the top-level object")
    if scanner.peek():
        raise UnreadableFile(f"JSON has unexpected data after the document list at line {scanner.line}")


def parse_json(text: io.TextIOWrapper) -> ParsedFile:
    scanner = _Scanner(text)
    if not scanner.peek():
        raise UnreadableFile("file is empty")
    wrapped = open_array(scanner)
    converter = _Converter()

    def items() -> Iterator[ParsedItem]:
        for line, obj in _array_items(scanner, wrapped):
            yield from converter.convert(line, obj)

    return ParsedFile("json", None, guarded(items(), lambda: scanner.line))


# -- JSON Lines ------------------------------------------------------------------------------------


def parse_jsonl(text: io.TextIOWrapper) -> ParsedFile:
    first = text.readline(_MAX_ITEM)
    line_number = 1
    while first and not first.strip():
        first = text.readline(_MAX_ITEM)
        line_number += 1
    if not first:
        raise UnreadableFile("file is empty")
    converter = _Converter()
    current = [line_number]

    def lines() -> Iterator[tuple[int, str, bool]]:
        """(line number, text, complete); an over-long line is cut and its rest skipped."""
        pending, number = first, line_number
        while pending:
            complete = pending.endswith(("\n", "\r")) or len(pending) < _MAX_ITEM
            current[0] = number
            yield number, pending, complete
            if not complete:
                while pending and not pending.endswith(("\n", "\r")):
                    pending = text.readline(_MAX_ITEM)
            pending = text.readline(_MAX_ITEM)
            number += 1

    def items() -> Iterator[ParsedItem]:
        for number, raw, complete in lines():
            if not raw.strip():
                continue
            if not complete:
                yield RowError(number, None, "line is longer than 1 MB; one document per line is expected")
                continue
            try:
                obj = _DECODER.decode(raw)
            except (json.JSONDecodeError, ValueError) as exc:
                yield RowError(number, None, f"line is not valid JSON: {exc}", raw.strip()[:80])
                continue
            yield from converter.convert(number, obj)

    return ParsedFile("jsonl", None, guarded(items(), lambda: current[0]))
