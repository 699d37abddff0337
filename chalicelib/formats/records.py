"""What every parser yields: one validated record per document, or one error per bad row.

Parsers are pure (no boto3): they read a binary stream and yield items lazily, so a file of any
size is processed in bounded memory. A whole-file problem (not UTF-8, not XML, no mapping fits
the header) raises UnreadableFile with a reason for the rejection report.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

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
    # Source rows this error stands for. A document with three problems gives three errors but is one rejected
    # row (or, grouped, as many rows as its lines): its first error carries the rows, the others 0, so an
    # import counts rows while its report still lists every problem.
    rows: int = 1
    # Set when the row was left out on purpose (a bill, a draft: the mapping says skip): the reason, as counted
    # in the import's skipped_reasons. Such a row is skipped, not rejected.
    skipped: str | None = None

    def to_report(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "reason": self.reason, "value": self.value,
                "number": self.number}


@dataclass(frozen=True, slots=True)
class SourceRecord:
    line: int  # first line of the document in the file
    document: Document
    customer: Customer  # what the file says about the document's customer
    payment_terms_text: str | None = None  # raw terms when no due date could be read (UBL)
    rows: int = 1  # source rows the document was read from (its line-item rows, when grouped)


ParsedItem = SourceRecord | RowError


def covering(items: Sequence[ParsedItem], rows: int) -> list[ParsedItem]:
    """One document's items, accounting for `rows` source rows once: on the first item, 0 on the rest."""
    return [replace(item, rows=rows if i == 0 else 0) if item.rows != (rows if i == 0 else 0) else item
            for i, item in enumerate(items)]


@dataclass(frozen=True)
class ParsedFile:
    format: str  # "csv", "json", "jsonl", "ubl"
    mapping: str | None  # the CSV column mapping used
    items: Iterator[ParsedItem]
