"""What a bank statement parser yields: a PaymentEvent per credit, a RowError per unreadable line, and
a SkippedEntry per line that is readable but is not a customer's payment (bank fees, outgoing
transfers, pending entries), so the ingest report can account for every line of the statement."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chalicelib.domain.payments import PaymentEvent
from chalicelib.formats.records import RowError

PROVIDER = "bank"


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    line: int  # 1-based physical line (CSV), or 0 for XML
    ref: str  # the bank's reference for the line, or a label such as "entry 7"
    reason: str
    code: str = "other"  # the reason as the import counts it (skipped_reasons): debit, zero_amount, ...

    def to_report(self) -> dict[str, object]:
        return {"line": self.line, "ref": self.ref, "reason": self.reason}


BankItem = PaymentEvent | RowError | SkippedEntry


@dataclass(frozen=True)
class BankFile:
    format: str  # "camt.053" or "csv"
    items: Iterator[BankItem]
