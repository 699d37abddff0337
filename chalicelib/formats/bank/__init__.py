"""Bank statements dropped under ``bank/``: ISO 20022 camt.053 XML and Dunwell's simple CSV.

`parse_bank_file(stream, filename)` picks the format (``.xml`` camt.053, ``.csv``; ``.txt`` or no
extension: sniffed from the first bytes) and returns a `BankFile` whose `items` yield, lazily and
in file order, a `PaymentEvent` (provider "bank") per credit, a `RowError` per unreadable line and a
`SkippedEntry` per readable line that is not a customer's payment. Whole-file problems raise
`UnreadableFile`: before returning when they can be seen up front (wrong format, header, root element;
for a seekable stream also an XML error anywhere in the document or a bad UTF-8 byte anywhere in a
CSV), else from the iterator. Pure: no AWS, no clock.

Also exported: `extract_references` (candidate invoice numbers in remittance text) and the ISO 11649
helpers `is_valid_rf`, `rf_reference`, `rf_payload`, `format_rf`.
"""

from __future__ import annotations

import codecs
import posixpath
from typing import BinaryIO

from chalicelib.formats.bank.camt053 import check_document, parse_camt053
from chalicelib.formats.bank.model import PROVIDER, BankFile, BankItem, SkippedEntry
from chalicelib.formats.bank.references import (
    explicit_reference,
    extract_references,
    format_rf,
    is_valid_rf,
    rf_payload,
    rf_reference,
)
from chalicelib.formats.bank.statement_csv import COLUMNS as CSV_COLUMNS
from chalicelib.formats.bank.statement_csv import open_statement_csv
from chalicelib.formats.records import UnreadableFile
from chalicelib.formats.streams import Readable, buffered, check_utf8, open_checked

_BY_EXTENSION = {".xml": "camt.053", ".csv": "csv"}
_SNIFFED = ("", ".txt")


def parse_bank_file(stream: BinaryIO | Readable, filename: str) -> BankFile:
    extension = posixpath.splitext(filename.rsplit("/", 1)[-1].lower())[1]
    if extension in (".sta", ".mt940", ".940"):
        raise UnreadableFile("MT940 statements are not read; ask the bank for camt.053 (ISO 20022 XML)")
    if extension not in _BY_EXTENSION and extension not in _SNIFFED:
        raise UnreadableFile(f"unsupported bank file type {extension!r}; Dunwell reads camt.053 .xml and .csv")
    start, reader, head = open_checked(stream)
    fmt = _BY_EXTENSION.get(extension) or (
        "camt.053" if head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"<") else "csv")
    if start is not None:
        stream.seek(start)  # type: ignore[union-attr]
        if fmt == "camt.053":
            check_document(buffered(stream))
        else:
            check_utf8(stream)
        stream.seek(start)  # type: ignore[union-attr]
        reader = buffered(stream)
    if fmt == "camt.053":
        return BankFile(fmt, parse_camt053(reader))
    return BankFile(fmt, open_statement_csv(reader))


__all__ = [
    "CSV_COLUMNS",
    "PROVIDER",
    "BankFile",
    "BankItem",
    "SkippedEntry",
    "UnreadableFile",
    "explicit_reference",
    "extract_references",
    "format_rf",
    "is_valid_rf",
    "parse_bank_file",
    "rf_payload",
    "rf_reference",
]
