"""Letters for the post: what a dunning step with the `letter` channel leaves in the print queue.

A letter is queued (`to_print`) when its PDF is stored, and marked `posted` by a person who put it in the post;
nothing else changes it, and posting twice is the same as once. Pure: no I/O, no clock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class LetterStatus(StrEnum):
    TO_PRINT = "to_print"
    POSTED = "posted"


LETTER_STATUSES = tuple(s.value for s in LetterStatus)


def letter_id_for(message_key: str) -> str:
    """The letter of one send (its send-once key): the same id however often the send is attempted, so a retried
    store overwrites rather than duplicates."""
    return "ltr-" + hashlib.sha256(message_key.encode("utf-8")).hexdigest()[:20]


def letter_key(letter_id: str) -> str:
    """Where the PDF is stored in the bucket."""
    return f"letters/{letter_id}.pdf"


@dataclass(frozen=True)
class Letter:
    letter_id: str
    message_key: str  # the send-once claim it was made for
    customer_id: str
    customer_name: str
    invoice_ids: tuple[str, ...]
    invoice_numbers: tuple[str, ...]
    steps: tuple[str, ...]
    language: str
    subject: str
    letter_date: date  # the date printed on it (the customer's local day)
    created_at: datetime
    pages: int
    status: LetterStatus = LetterStatus.TO_PRINT
    posted_at: datetime | None = None
    posted_by: str | None = None
    version: int = 0

    @property
    def key(self) -> str:
        return letter_key(self.letter_id)

    def posted(self, actor: str, now: datetime) -> Letter:
        """Marked as put in the post. Marking it again changes nothing (the first mark stands)."""
        if self.status is LetterStatus.POSTED:
            return self
        return replace(self, status=LetterStatus.POSTED, posted_at=now, posted_by=actor)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.letter_id, "status": self.status.value, "customer_id": self.customer_id,
            "customer_name": self.customer_name, "invoice_ids": list(self.invoice_ids),
            "invoice_numbers": list(self.invoice_numbers), "steps": list(self.steps), "language": self.language,
            "subject": self.subject, "letter_date": self.letter_date.isoformat(),
            "created_at": self.created_at.isoformat(), "pages": self.pages,
            "posted_at": self.posted_at.isoformat() if self.posted_at else None, "posted_by": self.posted_by,
            "pdf": f"/letters/{self.letter_id}/pdf", "version": self.version,
        }
