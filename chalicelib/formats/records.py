"""What every parser yields: one validated record per document, or one error per bad row.

Parsers are pure (no boto3): they read a binary stream and yield items lazily, so a file of any
size is processed in bounded memory. A whole-file problem (not UTF-8, not XML, no mapping fits
the header) raises UnreadableFile with a reason for the rejection report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chalicelib.domain.customer import Customer
from chalicelib.domain.invoice import Document


class UnreadableFile(Exception):
    """The file as a whole cannot be read; nothing in it is imported."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # 1-based physical line (CSV/JSONL), or 0 for a whole document (XML)
    field: str | None
    reason: str
    value: str | None = None
    number: str | None = None  # the document number, when the row had one

    def to_report(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "reason": self.reason, "value": self.value,
                "number": self.number}


@dataclass(frozen=True, slots=True)
class SourceRecord:
    line: int  # first line of the document in the file
    document: Document
    customer: Customer  # what the file says about the document's customer
    payment_terms_text: str | None = None  # raw terms when no due date could be read (UBL)


ParsedItem = SourceRecord | RowError


@dataclass(frozen=True)
class ParsedFile:
    format: str  # "csv", "json", "jsonl", "ubl"
    mapping: str | None  # the CSV column mapping used
    items: Iterator[ParsedItem]
