"""Use case: letters for the post. A dunning step with the `letter` channel queues one through `queue` (called by
the dunning service inside send_once, so once per customer, local day and step); staff list the print queue,
download each PDF and mark it posted.

A letter is its PDF in the bucket (`letters/<id>.pdf`) and a record (status `to_print` -> `posted`, indexed by
status: the queue is a Query, never a Scan). The id comes from the send-once key, so an attempt repeated after a
crash finds the letter it stored and stores nothing twice. The invoices' timelines get `letter.queued` (written with
the send's record on each invoice, services/dunning.py) and `letter.posted` (here); the customer's timeline both.
A print-and-post provider would be one more caller of `to_print` and `mark_posted`; none is called now."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any, Protocol

from chalicelib.domain.customer import Customer
from chalicelib.domain.errors import NotFound
from chalicelib.domain.letters import Letter, LetterStatus, letter_id_for, letter_key
from chalicelib.formats.letter_pdf import LetterInvoice, LetterPdfInput, RenderedLetter
from chalicelib.formats.messages import Seller
from chalicelib.services.ports import AuditEvent, Metrics, ObjectInfo, VersionConflict, conflict_retries, utc_now

ACTOR = "system:letters"
PDF = "application/pdf"


class LetterStore(Protocol):
    def get(self, letter_id: str) -> Letter | None: ...

    def create(self, letter: Letter, events: Sequence[AuditEvent]) -> Letter:
        """Store a new letter with its events; the letter already stored under its id when there is one."""

    def save(self, letter: Letter, events: Sequence[AuditEvent]) -> Letter:
        """Write the letter over the version read, with its events; VersionConflict when it changed meanwhile."""

    def list(self, status: str, limit: int, cursor: dict[str, Any] | None
             ) -> tuple[list[Letter], dict[str, Any] | None]: ...


class EventLog(Protocol):
    def append(self, event: AuditEvent) -> None:
        """Write one event; the same event again (same entity, type, discriminator) is a no-op."""


class LetterFiles(Protocol):
    def put_bytes(self, key: str, body: bytes, content_type: str) -> None: ...
    def head(self, key: str) -> ObjectInfo | None: ...
    def open(self, key: str) -> IO[bytes]: ...


@dataclass(frozen=True)
class LetterInvoiceRef:
    invoice_id: str
    line: LetterInvoice


@dataclass(frozen=True)
class LetterRequest:
    message_key: str  # the send-once claim's key
    customer: Customer
    invoices: Sequence[LetterInvoiceRef]
    steps: Sequence[str]
    language: str | None
    subject: str
    text: str  # the email's text part: the letter says what the email would have
    letter_date: date


Printer = Callable[[LetterPdfInput], RenderedLetter]


class Letters:
    def __init__(self, store: LetterStore, files: LetterFiles, events: EventLog, render: Printer, seller: Seller,
                 metrics: Metrics | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.files = files
        self.events = events
        self.render = render
        self.seller = seller
        self.metrics = metrics
        self.clock = clock or utc_now

    def queue(self, request: LetterRequest, now: datetime) -> Letter:
        """Render the letter, store its PDF, then its record (in the print queue). Safe to repeat: the letter of
        a send-once key is rendered and stored once; a repeat after a crash between the two stores them again
        under the same id."""
        letter_id = letter_id_for(request.message_key)
        existing = self.store.get(letter_id)
        if existing is not None:
            return existing
        customer = request.customer
        rendered = self.render(LetterPdfInput(self.seller, customer, request.language, request.letter_date,
                                              request.subject, request.text, [i.line for i in request.invoices]))
        self.files.put_bytes(letter_key(letter_id), rendered.body, PDF)
        letter = Letter(letter_id, request.message_key, customer.customer_id, customer.name,
                        tuple(i.invoice_id for i in request.invoices), tuple(i.line.number for i in request.invoices),
                        tuple(dict.fromkeys(request.steps)), request.language or "en", request.subject,
                        request.letter_date, now, rendered.pages)
        event = AuditEvent(f"customer#{customer.customer_id}", "letter.queued", ACTOR, now, letter_id,
                           queued_data(letter))
        stored = self.store.create(letter, [event])
        if self.metrics is not None and stored.created_at == now:
            self.metrics.count("LettersQueued", 1, {})
        return stored

    def get(self, letter_id: str) -> Letter:
        letter = self.store.get(letter_id)
        if letter is None:
            raise NotFound("letter", letter_id, field="letter_id")
        return letter

    def to_print(self, status: str, limit: int, cursor: dict[str, Any] | None
                 ) -> tuple[list[Letter], dict[str, Any] | None]:
        """The letters in one status, oldest first (the print queue in the order the letters were made)."""
        return self.store.list(status, limit, cursor)

    def pdf(self, letter_id: str) -> tuple[Letter, bytes]:
        letter = self.get(letter_id)
        if self.files.head(letter.key) is None:
            raise NotFound("PDF of letter", letter_id, field="letter_id")
        body = self.files.open(letter.key)
        try:
            return letter, body.read()
        finally:
            body.close()

    def mark_posted(self, letter_id: str, actor: str) -> Letter:
        """A person put the letter in the post: `letter.posted` on the customer's and each invoice's timeline.
        Marking it again changes nothing and writes nothing new (the first mark's events, written again, are the
        same events)."""
        now = self.clock()
        letter: Letter
        for _attempt in conflict_retries(f"marking letter {letter_id} posted", self.metrics):
            letter = self.get(letter_id)
            if letter.status is LetterStatus.POSTED:
                break
            posted = letter.posted(actor, now)
            event = AuditEvent(f"customer#{letter.customer_id}", "letter.posted", actor, now, letter_id,
                               posted_data(posted))
            try:
                letter = self.store.save(posted, [event])
                break
            except VersionConflict:
                continue
        # On the invoices' timelines (a letter may name more invoices than one transaction holds): appended one by
        # one, idempotent, so a retry after a crash here completes them.
        assert letter.posted_at is not None and letter.posted_by is not None
        for invoice_id in letter.invoice_ids:
            self.events.append(AuditEvent(f"invoice#{invoice_id}", "letter.posted", letter.posted_by,
                                          letter.posted_at, letter_id, posted_data(letter)))
        return letter


def queued_data(letter: Letter) -> dict[str, Any]:
    return {"letter_id": letter.letter_id, "key": letter.key, "steps": list(letter.steps),
            "invoice_numbers": list(letter.invoice_numbers), "language": letter.language, "pages": letter.pages}


def posted_data(letter: Letter) -> dict[str, Any]:
    return {"letter_id": letter.letter_id, "key": letter.key, "invoice_numbers": list(letter.invoice_numbers),
            "posted_at": letter.posted_at.isoformat() if letter.posted_at else None}
