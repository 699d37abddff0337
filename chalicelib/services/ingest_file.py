"""Use case: a file dropped under incoming/ becomes invoices, credit notes and customers.

At-least-once delivery and crashes are expected, so every step can run twice:
  1. the file's SHA-256 names the import; an import already finished is a duplicate (no writes);
  2. a lease on the import record stops two workers from processing the same file at once, and an
     expired lease lets the redrive schedule take over a file whose worker died;
  3. rows are written with conditions (new) or version checks (amendments), so re-processing a
     half-done file writes only what is missing;
  4. the file is copied to processed/ or rejected/ with its report before the original is deleted.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, Protocol
from urllib.parse import unquote_plus

from chalicelib.domain.customer import Customer
from chalicelib.domain.dunning.decision import first_review_at
from chalicelib.domain.dunning.policy import DEFAULT_POLICY
from chalicelib.domain.errors import DomainError
from chalicelib.domain.ids import invoice_id
from chalicelib.domain.invoice import CreditNote, DocumentKind, Invoice
from chalicelib.domain.payments import PaymentEvent
from chalicelib.formats.records import ParsedItem, RowError, SourceRecord, UnreadableFile
from chalicelib.services.ports import (
    AuditEvent,
    CustomerStore,
    FileStore,
    ImportRecord,
    ImportStore,
    InsertConflict,
    LedgerStore,
    ObjectInfo,
    StoredCustomer,
    VersionConflict,
)

INCOMING = "incoming/"
BANK = "bank/"  # bank statements: their credit lines are payments
CHUNK_ROWS = 1000
REJECTED_SAMPLE = 200  # rejected rows kept on the import record; the S3 report has every one
MAX_REPORTED_ERRORS = 50_000  # bounded memory for pathological files; the count stays exact
ACTOR = "system:ingest"
REDRIVE_COUNTER = "dunwell-redrives"
MAX_REDRIVES = 3
_DIGEST_MASK = (1 << 64) - 1

Parser = Callable[[Any, str, Sequence[Any]], Any]


class PaymentReceiver(Protocol):
    def receive(self, event: PaymentEvent, raw_key: str | None = None) -> Any: ...


@dataclass
class IngestOutcome:
    import_id: str | None
    status: str  # processed | rejected | duplicate | busy | missing | ignored
    source_key: str
    destination_key: str | None = None
    report_key: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"import_id": self.import_id, "status": self.status, "source_key": self.source_key,
                "destination_key": self.destination_key, "counts": self.counts}


@dataclass
class _Tally:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("rows_read", "invoices_created", "invoices_amended", "invoices_unchanged", "credit_notes_created",
         "credit_notes_unchanged", "customers_created", "customers_updated", "duplicates_in_file",
         "rejected_rows"), 0))
    errors: list[RowError] = field(default_factory=list)
    skipped: list[dict[str, object]] = field(default_factory=list)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def reject(self, error: RowError) -> None:
        self.add("rejected_rows")
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)


class IngestService:
    def __init__(self, files: FileStore, imports: ImportStore, ledger: LedgerStore, customers: CustomerStore,
                 parse: Parser, load_mappings: Callable[[], Sequence[Any]], *, max_bytes: int,
                 lease: timedelta, stale_after: timedelta, clock: Callable[[], datetime] | None = None,
                 parse_bank: Callable[[Any, str], Any] | None = None, payments: PaymentReceiver | None = None,
                 earliest_step_offset: Callable[[], int] | None = None,
                 credit_check: Callable[[list[str]], Any] | None = None) -> None:
        self.files = files
        self.imports = imports
        self.ledger = ledger
        self.customers = customers
        self.parse = parse
        self.load_mappings = load_mappings
        self.max_bytes = max_bytes
        self.lease = lease
        self.stale_after = stale_after
        self.clock = clock or (lambda: datetime.now(UTC))
        self.parse_bank = parse_bank
        self.payments = payments
        # How many days before (negative) or after the due date the earliest dunning step of any policy is:
        # a new invoice asks the sweep to look at it then, and not before.
        self.earliest_step_offset = earliest_step_offset or (lambda: DEFAULT_POLICY.steps[0].offset_days)
        # Customers with a credit limit go on credit hold when an import takes them over it.
        self.credit_check = credit_check

    # ---- entry points ----------------------------------------------------------------------------

    def ingest(self, bucket: str, raw_key: str) -> IngestOutcome:
        key = unquote_plus(raw_key)  # S3 event keys are URL-encoded ('+' for space)
        if not key.startswith((INCOMING, BANK)) or key.endswith("/"):
            return IngestOutcome(None, "ignored", key)
        info = self.files.head(key)
        if info is None:
            # Already moved by an earlier delivery of the same event: nothing left to do.
            return IngestOutcome(None, "missing", key)
        now = self.clock()
        if info.size > self.max_bytes:
            import_id = "imp_" + hashlib.sha256(f"{key}|{info.etag}|{info.size}".encode()).hexdigest()[:24]
            record = self._new_record(import_id, key, now, size=info.size)
            if not self.imports.claim(record, now):
                return IngestOutcome(import_id, "busy", key)
            return self._reject(record, f"file is {info.size} bytes; the limit is {self.max_bytes} bytes "
                                        "(split it into smaller files)")
        sha = self.files.sha256(key)
        import_id = "imp_" + sha[:24]
        existing = self.imports.get(import_id)
        if existing is not None and existing.status != "in_progress":
            return self._duplicate(existing, info, now)
        record = self._new_record(import_id, key, now, size=info.size, sha=sha)
        record.source_version = info.version_id
        if not self.imports.claim(record, now):
            latest = self.imports.get(import_id)
            if latest is not None and latest.status != "in_progress":
                return self._duplicate(latest, info, now)
            return IngestOutcome(import_id, "busy", key)
        return self._process(record)

    def redrive_stale(self) -> list[str]:
        """Files still in incoming/ long after they arrived lost their event, or their worker died.
        Each is announced again (an in-place copy raises a fresh Object Created event), so every file
        still goes through the one ingest function. After MAX_REDRIVES a file is left where it is, in
        plain sight, with its failed events in the dead-letter queue."""
        cutoff = self.clock() - self.stale_after
        redriven = []
        for prefix in (INCOMING, BANK):
            for info in self.files.list(prefix):
                if info.last_modified < cutoff and not info.key.endswith("/"):
                    count = self.files.touch(info.key, REDRIVE_COUNTER, MAX_REDRIVES)
                    if count is not None:
                        redriven.append(info.key)
        return redriven

    # ---- steps -----------------------------------------------------------------------------------

    def _new_record(self, import_id: str, key: str, now: datetime, size: int, sha: str | None = None) -> ImportRecord:
        return ImportRecord(import_id=import_id, source_key=key, status="in_progress", started_at=now,
                            lease_owner=uuid.uuid4().hex, lease_until=now + self.lease, content_sha256=sha,
                            size_bytes=size)

    def _process(self, record: ImportRecord) -> IngestOutcome:
        if record.source_key.startswith(BANK):
            return self._process_bank(record)
        tally = _Tally()
        try:
            parsed = self.parse(self.files.open(record.source_key), record.source_key, self.load_mappings())
            record.format, record.mapping = parsed.format, parsed.mapping
            self._store_all(parsed.items, record, tally)
        except UnreadableFile as exc:
            return self._reject(record, exc.reason, tally)
        good = sum(tally.counts[k] for k in ("invoices_created", "invoices_amended", "invoices_unchanged",
                                             "credit_notes_created", "credit_notes_unchanged"))
        if good == 0:
            reason = "no valid rows" if tally.counts["rows_read"] else "the file has no rows"
            return self._reject(record, reason, tally)
        return self._finish(record, "processed", None, tally)

    def _process_bank(self, record: ImportRecord) -> IngestOutcome:
        """A statement's credit lines go through the same payment path as webhooks, one by one: each
        line's bank reference is its dedupe key, so a re-sent or overlapping statement counts once."""
        if self.parse_bank is None or self.payments is None:
            return self._reject(record, "bank statements are not enabled in this deployment")
        tally = _Tally()
        try:
            parsed = self.parse_bank(self.files.open(record.source_key), record.source_key)
            record.format = parsed.format
            for item in parsed.items:
                tally.add("rows_read")
                if isinstance(item, RowError):
                    tally.reject(item)
                elif isinstance(item, PaymentEvent):
                    try:
                        outcome = self.payments.receive(item, record.source_key).outcome
                    except DomainError as exc:  # e.g. a return in another currency than its payment
                        tally.reject(RowError(0, exc.field, exc.message, item.payment_ref, None))
                        continue
                    tally.add(f"payments_{outcome}")
                else:
                    tally.add("entries_skipped")
                    if len(tally.skipped) < MAX_REPORTED_ERRORS:
                        tally.skipped.append(item.to_report())
        except UnreadableFile as exc:
            return self._reject(record, exc.reason, tally)
        if tally.counts["rows_read"] == tally.counts["rejected_rows"] and tally.counts["rows_read"]:
            return self._reject(record, "no valid statement lines", tally)
        return self._finish(record, "processed", None, tally)

    def _store_all(self, items: Iterable[ParsedItem], record: ImportRecord, tally: _Tally) -> None:
        # The one state that grows with the file: document id -> first line << 64 | 64-bit fingerprint digest.
        # One int per document rather than a (bytes, int) tuple: ~150 instead of ~235 bytes of RSS a row, which
        # matters for the largest files the upload limit allows.
        seen: dict[str, int] = {}
        known_customers: dict[str, StoredCustomer] = {}
        chunk: list[SourceRecord] = []
        for item in items:
            tally.add("rows_read")
            if isinstance(item, RowError):
                tally.reject(item)
                continue
            doc = item.document
            document_id = doc.document_id
            digest = int.from_bytes(hashlib.blake2b(doc.fingerprint().encode(), digest_size=8).digest(), "big")
            first = seen.get(document_id)
            if first is not None:
                if first & _DIGEST_MASK == digest:
                    tally.add("duplicates_in_file")
                else:
                    tally.reject(RowError(item.line, "number", f"conflicts with line {first >> 64}: the same "
                                          f"document number with different data", doc.number, doc.number))
                continue
            seen[document_id] = item.line << 64 | digest
            chunk.append(item)
            if len(chunk) >= CHUNK_ROWS:
                self._store_chunk(chunk, record, tally, known_customers)
                chunk = []
        if chunk:
            self._store_chunk(chunk, record, tally, known_customers)
        limited = [cid for cid, stored in known_customers.items() if stored.customer.credit_limit is not None]
        if self.credit_check is not None and limited:
            self.credit_check(limited)

    def _store_chunk(self, chunk: list[SourceRecord], record: ImportRecord, tally: _Tally,
                     known_customers: dict[str, StoredCustomer]) -> None:
        now = self.clock()
        customers = self._upsert_customers(chunk, tally, known_customers, now)
        invoices: list[SourceRecord] = []
        notes: list[SourceRecord] = []
        for item in chunk:
            resolved = self._with_due_date(item, customers.get(item.document.customer_id))
            if isinstance(resolved, RowError):
                tally.reject(resolved)
            elif resolved.document.kind is DocumentKind.INVOICE:
                invoices.append(resolved)
            else:
                notes.append(resolved)
        self._store_invoices(invoices, record, tally, now)
        for note in notes:
            self._store_credit_note(note, record, tally, now)

    def _with_due_date(self, item: SourceRecord, stored: Customer | None) -> SourceRecord | RowError:
        doc = item.document
        if doc.kind is not DocumentKind.INVOICE or doc.due_date is not None:
            return item
        terms = stored.payment_terms if stored else None
        if terms is None:
            detail = f" (payment terms {item.payment_terms_text!r} not understood)" if item.payment_terms_text else ""
            return RowError(item.line, "due_date", "invoice has no due date and the customer has no payment "
                            f"terms to derive one from{detail}", None, doc.number)
        return replace(item, document=replace(doc, due_date=terms.due_date(doc.issue_date), due_date_derived=True))

    def _upsert_customers(self, chunk: list[SourceRecord], tally: _Tally, known: dict[str, StoredCustomer],
                          now: datetime) -> dict[str, Customer]:
        incoming: dict[str, Customer] = {}
        for item in chunk:
            current = incoming.get(item.customer.customer_id)
            incoming[item.customer.customer_id] = current.merged_with(item.customer) if current else item.customer
        unknown = [cid for cid in incoming if cid not in known]
        if unknown:
            known.update(self.customers.get_customers(unknown))
        new: list[Customer] = []
        for cid, customer in incoming.items():
            stored = known.get(cid)
            if stored is None:
                new.append(customer)
                continue
            merged = stored.customer.merged_with(customer)
            fingerprint = merged.fingerprint()
            if fingerprint == stored.fingerprint:
                continue
            try:
                self.customers.update_customer(stored, merged, [self._event(f"customer#{cid}", "customer.updated",
                                                                            now, record_id=fingerprint[:16])], now)
                known[cid] = StoredCustomer(merged, fingerprint, stored.version + 1)
                tally.add("customers_updated")
            except VersionConflict:
                known.pop(cid, None)  # edited meanwhile: the next file (or redrive) merges again
        if new:
            events = [self._event(f"customer#{c.customer_id}", "customer.created", now, record_id="") for c in new]
            self.customers.insert_customers(new, events, now)
            tally.add("customers_created", len(new))
            for c in new:
                known[c.customer_id] = StoredCustomer(c, c.fingerprint(), 1)
        return {cid: stored.customer for cid, stored in known.items() if cid in incoming}

    def _store_invoices(self, items: list[SourceRecord], record: ImportRecord, tally: _Tally, now: datetime) -> None:
        if not items:
            return
        by_id = {item.document.document_id: item for item in items}
        existing = self.ledger.get_invoices(by_id)
        fresh: list[Invoice] = []
        offset = self.earliest_step_offset()
        for document_id, item in by_id.items():
            try:
                if document_id not in existing:
                    invoice = Invoice.from_document(item.document)
                    fresh.append(invoice.needs_review(first_review_at(invoice.due_date, offset)))
            except DomainError as exc:
                tally.reject(RowError(item.line, exc.field, exc.message, None, item.document.number))
        if fresh:
            self.ledger.insert_invoices(fresh, record.import_id, now)
            tally.add("invoices_created", len(fresh))
        for document_id, stored in existing.items():
            self._amend(stored, by_id[document_id], record, tally, now)

    def _amend(self, stored: Invoice, item: SourceRecord, record: ImportRecord, tally: _Tally, now: datetime) -> None:
        for _attempt in range(3):
            if stored.fingerprint == item.document.fingerprint():
                tally.add("invoices_unchanged")
                return
            try:
                amended, changes = stored.amended_by(item.document)
                # A new due date, total or status may change what dunning owes: let the sweep decide again.
                amended = amended.needs_review(first_review_at(amended.due_date, self.earliest_step_offset()))
            except DomainError as exc:
                tally.reject(RowError(item.line, exc.field, exc.message, None, item.document.number))
                return
            event = self._event(f"invoice#{stored.invoice_id}", "invoice.amended", now, record.import_id,
                                {"import_id": record.import_id, "source_key": record.source_key,
                                 "changes": [{"field": c.field, "before": c.before, "after": c.after}
                                             for c in changes]})
            try:
                self.ledger.save_invoice(amended, [event], now)
                tally.add("invoices_amended")
                return
            except VersionConflict:
                reloaded = self.ledger.get_invoices([stored.invoice_id]).get(stored.invoice_id)
                if reloaded is None:
                    break
                stored = reloaded
        tally.reject(RowError(item.line, None, "invoice kept changing while it was amended; dropped the file "
                              "again to retry", None, item.document.number))

    def _store_credit_note(self, item: SourceRecord, record: ImportRecord, tally: _Tally, now: datetime) -> None:
        doc = item.document
        for _attempt in range(3):
            existing = self.ledger.get_credit_notes([doc.document_id]).get(doc.document_id)
            if existing is not None:
                if existing.fingerprint == doc.fingerprint():
                    tally.add("credit_notes_unchanged")
                else:
                    tally.reject(RowError(item.line, "number", "credit note already imported with different data; "
                                          "credit notes are not amended: issue a new one", doc.number, doc.number))
                return
            note = CreditNote.from_document(doc)
            invoice = self._invoice_credited_by(note)
            events = [self._event(f"credit_note#{note.credit_note_id}", "credit_note.imported", now, record.import_id,
                                  {"import_id": record.import_id, "amount": note.amount.to_api(),
                                   "currency": note.amount.currency, "applies_to": note.applies_to})]
            credited_invoice = None
            if invoice is not None:
                try:
                    credited_invoice, left = invoice.with_credit(note.amount)
                except DomainError as exc:
                    tally.reject(RowError(item.line, exc.field or "currency", exc.message, None, doc.number))
                    return
                note = replace(note, applied=note.amount - left)
                events.append(self._event(f"invoice#{invoice.invoice_id}", "invoice.credited", now, note.credit_note_id,
                                          {"credit_note": note.number, "amount": note.applied.to_api(),
                                           "balance": credited_invoice.balance.to_api()}))
            try:
                self.ledger.insert_credit_note(note, credited_invoice, events, record.import_id, now)
                tally.add("credit_notes_created")
                return
            except (InsertConflict, VersionConflict):
                continue  # someone wrote the note or the invoice meanwhile: look again
        tally.reject(RowError(item.line, None, "credit note could not be applied: its invoice kept changing",
                              None, doc.number))

    def _invoice_credited_by(self, note: CreditNote) -> Invoice | None:
        if not note.applies_to:
            return None
        target = invoice_id(note.applies_to)
        invoice = self.ledger.get_invoices([target]).get(target)
        if invoice is None or invoice.customer_id != note.customer_id:
            return None  # the credit stays on the customer's account
        return invoice

    # ---- endings ---------------------------------------------------------------------------------

    def _destination(self, outcome: str, record: ImportRecord, key: str) -> str:
        relative = key[len(INCOMING):] if key.startswith(INCOMING) else key  # bank/... keeps its prefix
        day = record.started_at.astimezone(UTC).strftime("%Y/%m/%d")
        return f"{outcome}/{day}/{record.import_id}/{relative}"

    def _reject(self, record: ImportRecord, reason: str, tally: _Tally | None = None) -> IngestOutcome:
        return self._finish(record, "rejected", reason, tally or _Tally())

    def _finish(self, record: ImportRecord, status: str, reason: str | None, tally: _Tally) -> IngestOutcome:
        now = self.clock()
        destination = self._destination(status, record, record.source_key)
        report_key = destination + ".report.json"
        record.status, record.reason, record.finished_at = status, reason, now
        record.destination_key, record.report_key, record.counts = destination, report_key, dict(tally.counts)
        record.rejected_sample = [e.to_report() for e in tally.errors[:REJECTED_SAMPLE]]
        self.files.copy(record.source_key, destination)
        self.files.put_json(report_key, self._report(record, tally))
        self.imports.finish(record)
        self.files.delete(record.source_key)
        return IngestOutcome(record.import_id, status, record.source_key, destination, report_key, dict(tally.counts))

    def _duplicate(self, existing: ImportRecord, info: ObjectInfo, now: datetime) -> IngestOutcome:
        """The same bytes were imported before: keep the new copy for the record, write nothing."""
        key = info.key
        if existing.source_version and info.version_id:
            same_upload = existing.source_version == info.version_id
        else:  # an unversioned bucket: S3 times have whole seconds, so compare with the import's start
            same_upload = info.last_modified <= existing.started_at
        leftover = existing.source_key == key and same_upload
        if leftover and existing.destination_key and self.files.head(existing.destination_key):
            # The original of a finished import, still here because its worker stopped between the
            # copy and the delete: finish the move. (A new upload under the same name is newer.)
            self.files.delete(key)
            return IngestOutcome(existing.import_id, "duplicate", key, existing.destination_key,
                                 existing.report_key, {})
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        destination = f"processed/{now.astimezone(UTC):%Y/%m/%d}/{existing.import_id}/duplicates/{stamp}/" + \
            (key[len(INCOMING):] if key.startswith(INCOMING) else PurePosixPath(key).name)
        report_key = destination + ".report.json"
        self.files.copy(key, destination)
        self.files.put_json(report_key, {
            "import_id": existing.import_id, "status": "duplicate", "source_key": key,
            "received_at": now.isoformat(), "duplicate_of": {
                "import_id": existing.import_id, "source_key": existing.source_key,
                "finished_at": existing.finished_at.isoformat() if existing.finished_at else None,
                "report_key": existing.report_key},
            "message": "identical to a file already imported; nothing was changed",
        })
        self.files.delete(key)
        return IngestOutcome(existing.import_id, "duplicate", key, destination, report_key, {})

    def _report(self, record: ImportRecord, tally: _Tally) -> dict[str, Any]:
        return {
            "import_id": record.import_id,
            "status": record.status,
            "reason": record.reason,
            "source_key": record.source_key,
            "destination_key": record.destination_key,
            "format": record.format,
            "mapping": record.mapping,
            "content_sha256": record.content_sha256,
            "size_bytes": record.size_bytes,
            "started_at": record.started_at.isoformat(),
            "finished_at": record.finished_at.isoformat() if record.finished_at else None,
            "counts": dict(tally.counts),
            "rejected_rows": [e.to_report() for e in tally.errors],
            "rejected_rows_truncated": tally.counts["rejected_rows"] > len(tally.errors),
            "skipped_entries": tally.skipped,
        }

    @staticmethod
    def _event(entity: str, type_: str, now: datetime, record_id: str, data: dict[str, Any] | None = None
               ) -> AuditEvent:
        return AuditEvent(entity=entity, type=type_, actor=ACTOR, at=now, discriminator=record_id, data=data or {})
