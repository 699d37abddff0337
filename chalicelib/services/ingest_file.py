"""Use case: a file dropped under incoming/ becomes invoices, credit notes and customers.

At-least-once delivery and crashes are expected, so every step can run twice:
  1. the file's SHA-256 names the import; an import already finished is a duplicate (no writes);
  2. a lease on the import record stops two workers from processing the same file at once, and an
     expired lease lets the redrive schedule take over a file whose worker died;
  3. rows are written with conditions (new) or version checks (amendments), so re-processing a
     half-done file writes only what is missing;
  4. the file is copied to processed/ or rejected/ with its report before the original is deleted.

Bad input never stalls a file: anything that goes wrong with one row (a value the domain refuses, an item
DynamoDB will not hold) rejects that row with a reason, and the file ends in processed/ or rejected/ with a
report. Only the store's own failures (throttling, an outage) end an attempt, and that attempt gives up its
lease on the way out so the retry takes over at once. A file is rejected only before any row is stored;
once one is, it is processed, with errors if any row was rejected.
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
    ConflictRetriesExhausted,
    CustomerStore,
    FileStore,
    ImportRecord,
    ImportStore,
    InsertConflict,
    LedgerStore,
    Metrics,
    ObjectInfo,
    StoredCustomer,
    StoreErrors,
    VersionConflict,
    conflict_retries,
    utc_now,
)

INCOMING = "incoming/"
# An ERP's own PDF of an invoice, named by its number: incoming/documents/<invoice number>.pdf ("/" in a number as a
# folder: incoming/documents/2026/0042.pdf). Kept under documents/invoices/<invoice id>.pdf, whether the invoice
# row came before or comes after; never read as an invoice file.
DOCUMENTS_IN = "incoming/documents/"
DOCUMENTS = "documents/invoices/"
BANK = "bank/"  # bank statements: their credit lines are payments
CHUNK_ROWS = 1000
REJECTED_SAMPLE = 200  # rejected rows kept on the import record; the S3 report has every one
MAX_REPORTED_ERRORS = 50_000  # bounded memory for pathological files; the count stays exact
ACTOR = "system:ingest"
REDRIVE_COUNTER = "dunwell-redrives"
MAX_REDRIVES = 3
ROW_ATTEMPTS = 3  # a row that keeps losing is rejected (the file still finishes); dropping the file again retries it
_DIGEST_MASK = (1 << 64) - 1

Parser = Callable[[Any, str, Sequence[Any]], Any]


class PaymentReceiver(Protocol):
    def receive(self, event: PaymentEvent, raw_key: str | None = None) -> Any: ...


PROCESSED = "processed"
PROCESSED_WITH_ERRORS = "processed_with_errors"
REJECTED = "rejected"
# Counts of rows written to the store: once any is non-zero the file can no longer be rejected as a whole.
_WRITES = ("invoices_created", "invoices_amended", "credit_notes_created", "customers_created", "customers_updated")


@dataclass
class IngestOutcome:
    import_id: str | None
    status: str  # processed | processed_with_errors | rejected | duplicate | busy | missing | ignored
    source_key: str
    destination_key: str | None = None
    report_key: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"import_id": self.import_id, "status": self.status, "source_key": self.source_key,
                "destination_key": self.destination_key, "counts": self.counts}


class _NullStoreErrors:
    """Without an adapter to ask, no exception is the store's: each rejects its row."""

    def is_outage(self, exc: BaseException) -> bool:
        return False

    def describe(self, exc: BaseException) -> str:
        return f"could not be stored: {type(exc).__name__}: {exc}"[:500]


@dataclass
class _Tally:
    """What an import did, in rows of the file: rows_read = rows_imported + rows_rejected + rows_skipped.
    rejected_rows (kept for the clients that read it) counts the problems listed in the report: a row with
    three problems is one rejected row and three listed problems."""

    counts: dict[str, Any] = field(default_factory=lambda: {
        **dict.fromkeys(("rows_read", "rows_imported", "rows_rejected", "rows_skipped", "invoices_created",
                         "invoices_amended", "invoices_unchanged", "credit_notes_created", "credit_notes_unchanged",
                         "customers_created", "customers_updated", "duplicates_in_file", "rejected_rows"), 0),
        "skipped_reasons": {}})
    errors: list[RowError] = field(default_factory=list)
    skipped: list[dict[str, object]] = field(default_factory=list)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def imported(self, name: str, rows: int) -> None:
        self.add(name)
        self.add("rows_imported", rows)

    def reject(self, error: RowError) -> None:
        self.add("rejected_rows")
        self.add("rows_rejected", error.rows)
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    def skip(self, reason: str, rows: int, entry: dict[str, object]) -> None:
        self.add("rows_skipped", rows)
        reasons: dict[str, int] = self.counts["skipped_reasons"]
        reasons[reason] = reasons.get(reason, 0) + rows
        if len(self.skipped) < MAX_REPORTED_ERRORS:
            self.skipped.append(entry)

    @property
    def wrote(self) -> bool:
        return any(self.counts[name] for name in _WRITES)


class IngestService:
    def __init__(self, files: FileStore, imports: ImportStore, ledger: LedgerStore, customers: CustomerStore,
                 parse: Parser, load_mappings: Callable[[], Sequence[Any]], *, max_bytes: int,
                 lease: timedelta, stale_after: timedelta, clock: Callable[[], datetime] | None = None,
                 parse_bank: Callable[[Any, str], Any] | None = None, payments: PaymentReceiver | None = None,
                 earliest_step_offset: Callable[[], int] | None = None,
                 credit_check: Callable[[list[str]], Any] | None = None,
                 store_errors: StoreErrors | None = None, metrics: Metrics | None = None) -> None:
        self.files = files
        self.imports = imports
        self.ledger = ledger
        self.customers = customers
        self.parse = parse
        self.load_mappings = load_mappings
        self.max_bytes = max_bytes
        self.lease = lease
        self.stale_after = stale_after
        self.clock = clock or utc_now
        self.parse_bank = parse_bank
        self.payments = payments
        # How many days before (negative) or after the due date the earliest dunning step of any policy is:
        # a new invoice asks the sweep to look at it then, and not before.
        self.earliest_step_offset = earliest_step_offset or (lambda: DEFAULT_POLICY.steps[0].offset_days)
        # Customers with a credit limit go on credit hold when an import takes them over it.
        self.credit_check = credit_check
        self.store_errors: StoreErrors = store_errors or _NullStoreErrors()
        self.metrics = metrics

    # ---- entry points ----------------------------------------------------------------------------

    def ingest(self, bucket: str, raw_key: str) -> IngestOutcome:
        key = unquote_plus(raw_key)  # S3 event keys are URL-encoded ('+' for space)
        if not key.startswith((INCOMING, BANK)) or key.endswith("/"):
            return IngestOutcome(None, "ignored", key)
        if key.startswith(DOCUMENTS_IN) or raw_key.startswith(DOCUMENTS_IN):
            return self._take_document(key if self.files.head(key) is not None else raw_key)
        info = self.files.head(key)
        if info is None and key != raw_key and raw_key.startswith((INCOMING, BANK)):
            # A key delivered as it is (moto's S3 -> EventBridge does not encode): 'a+b.csv' is then no space.
            key, info = raw_key, self.files.head(raw_key)
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

    def _take_document(self, key: str) -> IngestOutcome:
        """An invoice's original PDF: moved to documents/invoices/<invoice id>.pdf (a later drop replaces it);
        anything but a PDF goes to rejected/documents/ with a report."""
        if self.files.head(key) is None:
            return IngestOutcome(None, "missing", key)
        name = key[len(DOCUMENTS_IN):]
        number = name[:-4] if name.lower().endswith(".pdf") else ""
        body = self.files.open(key)
        head = body.read(5)
        body.close()
        reason = None
        if not number.strip():
            reason = "documents/ takes an invoice's PDF named <invoice number>.pdf"
        elif head != b"%PDF-":
            reason = "not a PDF (it does not start with %PDF-)"
        if reason is None:
            destination = invoice_document_key(invoice_id(number), "pdf")
            self.files.copy(key, destination)
            self.files.delete(key)
            return IngestOutcome(None, "document", key, destination)
        now = self.clock()
        destination = f"{REJECTED}/{now.astimezone(UTC):%Y/%m/%d}/documents/{now.astimezone(UTC):%H%M%S%f}/{name}"
        self.files.copy(key, destination)
        self.files.put_json(destination + ".report.json", {"status": REJECTED, "source_key": key, "reason": reason,
                                                           "received_at": now.isoformat()})
        self.files.delete(key)
        return IngestOutcome(None, REJECTED, key, destination, destination + ".report.json")

    # ---- steps -----------------------------------------------------------------------------------

    def _new_record(self, import_id: str, key: str, now: datetime, size: int, sha: str | None = None) -> ImportRecord:
        return ImportRecord(import_id=import_id, source_key=key, status="in_progress", started_at=now,
                            lease_owner=uuid.uuid4().hex, lease_until=now + self.lease, content_sha256=sha,
                            size_bytes=size)

    def _process(self, record: ImportRecord) -> IngestOutcome:
        try:
            if record.source_key.startswith(BANK):
                return self._process_bank(record)
            return self._process_invoices(record)
        except BaseException:
            # The store failed (or the process is being stopped): let the retry take over now rather than
            # answer "busy" until the lease runs out. Rows already stored are found unchanged by it.
            self.imports.release(record)
            raise

    def _process_invoices(self, record: ImportRecord) -> IngestOutcome:
        tally = _Tally()
        try:
            parsed = self.parse(self.files.open(record.source_key), record.source_key, self.load_mappings())
            record.format, record.mapping = parsed.format, parsed.mapping
            items = parsed.items
            if parsed.format == "ubl":  # one document per file: its XML is kept as the invoice's original
                items = list(items)
            self._store_all(items, record, tally)
        except UnreadableFile as exc:
            if not tally.wrote:
                return self._reject(record, exc.reason, tally)
            # Found deep in a one-pass stream after rows were stored: what was read stays, the rest is reported.
            tally.add("rows_read")
            tally.reject(RowError(0, None, f"the rest of the file could not be read: {exc.reason}"))
            return self._finish(record, PROCESSED_WITH_ERRORS, exc.reason, tally)
        if not tally.counts["rows_imported"] and not tally.wrote:
            return self._reject(record, self._nothing_imported(tally), tally)
        if parsed.format == "ubl" and not tally.counts["rows_rejected"]:
            for item in items:
                if isinstance(item, SourceRecord) and item.document.kind is DocumentKind.INVOICE:
                    self.files.copy(record.source_key, invoice_document_key(item.document.document_id, "xml"))
        return self._finish(record, self._status(tally), None, tally)

    @staticmethod
    def _status(tally: _Tally) -> str:
        return PROCESSED_WITH_ERRORS if tally.counts["rows_rejected"] else PROCESSED

    @staticmethod
    def _nothing_imported(tally: _Tally) -> str:
        if tally.counts["rows_rejected"]:
            return "no valid rows"
        if tally.counts["rows_skipped"]:
            reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(tally.counts["skipped_reasons"].items()))
            return f"nothing to import: every row was skipped ({reasons})"
        return "the file has no rows"

    def _row_failed(self, item: SourceRecord, exc: Exception, tally: _Tally) -> None:
        """Anything but the store's own failure while storing one row rejects that row, with the reason."""
        if isinstance(exc, DomainError):
            tally.reject(_error(item, exc.field, exc.message))
            return
        if self.store_errors.is_outage(exc):
            raise exc
        tally.reject(_error(item, None, self.store_errors.describe(exc)))

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
                    except Exception as exc:
                        if self.store_errors.is_outage(exc):
                            raise
                        tally.reject(RowError(0, None, self.store_errors.describe(exc), item.payment_ref, None))
                        continue
                    tally.imported(f"payments_{outcome}", 1)
                else:
                    tally.add("entries_skipped")
                    tally.skip(item.code, 1, item.to_report())
        except UnreadableFile as exc:
            if tally.counts["rows_imported"]:
                tally.add("rows_read")
                tally.reject(RowError(0, None, f"the rest of the file could not be read: {exc.reason}"))
                return self._finish(record, PROCESSED_WITH_ERRORS, exc.reason, tally)
            return self._reject(record, exc.reason, tally)
        if tally.counts["rows_read"] == tally.counts["rows_rejected"] and tally.counts["rows_read"]:
            return self._reject(record, "no valid statement lines", tally)
        return self._finish(record, self._status(tally), None, tally)

    def _store_all(self, items: Iterable[ParsedItem], record: ImportRecord, tally: _Tally) -> None:
        # The one state that grows with the file: document id -> first line << 64 | 64-bit fingerprint digest.
        # One int per document rather than a (bytes, int) tuple: ~150 instead of ~235 bytes of RSS a row, which
        # matters for the largest files the upload limit allows.
        seen: dict[str, int] = {}
        known_customers: dict[str, StoredCustomer] = {}
        chunk: list[SourceRecord] = []
        try:
            for item in items:
                tally.add("rows_read", item.rows)
                if isinstance(item, RowError):
                    if item.skipped is not None:
                        tally.skip(item.skipped, item.rows, item.to_report())
                    else:
                        tally.reject(item)
                    continue
                doc = item.document
                document_id = doc.document_id
                digest = int.from_bytes(hashlib.blake2b(doc.fingerprint().encode(), digest_size=8).digest(), "big")
                first = seen.get(document_id)
                if first is not None:
                    if first & _DIGEST_MASK == digest:
                        tally.add("duplicates_in_file")
                        tally.skip("duplicate_in_file", item.rows, _error(
                            item, "number", f"skipped: the same as line {first >> 64}", doc.number).to_report())
                    else:
                        tally.reject(_error(item, "number", f"conflicts with line {first >> 64}: the same "
                                            "document number with different data", doc.number))
                    continue
                seen[document_id] = item.line << 64 | digest
                chunk.append(item)
                if len(chunk) >= CHUNK_ROWS:
                    self._store_chunk(chunk, record, tally, known_customers)
                    chunk = []
        except UnreadableFile:
            if chunk and tally.wrote:
                self._store_chunk(chunk, record, tally, known_customers)  # the file is partly in already
            raise
        if chunk:
            self._store_chunk(chunk, record, tally, known_customers)
        limited = [cid for cid, stored in known_customers.items() if stored.customer.credit_limit is not None]
        if self.credit_check is not None and limited:
            self.credit_check(limited)

    def _store_chunk(self, chunk: list[SourceRecord], record: ImportRecord, tally: _Tally,
                     known_customers: dict[str, StoredCustomer]) -> None:
        now = self.clock()
        customers, refused = self._upsert_customers(chunk, tally, known_customers, now)
        invoices: list[SourceRecord] = []
        notes: list[SourceRecord] = []
        for item in chunk:
            customer_id = item.document.customer_id
            if customer_id in refused:
                tally.reject(_error(item, "customer", f"customer {customer_id!r} {refused[customer_id]}"))
                continue
            resolved = self._with_due_date(item, customers.get(customer_id))
            if isinstance(resolved, RowError):
                tally.reject(resolved)
            elif resolved.document.kind is DocumentKind.INVOICE:
                invoices.append(resolved)
            else:
                notes.append(resolved)
        self._store_invoices(invoices, record, tally, now)
        for note in notes:
            try:
                self._store_credit_note(note, record, tally, now)
            except Exception as exc:
                self._row_failed(note, exc, tally)

    def _with_due_date(self, item: SourceRecord, stored: Customer | None) -> SourceRecord | RowError:
        doc = item.document
        if doc.kind is not DocumentKind.INVOICE or doc.due_date is not None:
            return item
        terms = stored.payment_terms if stored else None
        if terms is None:
            detail = f" (payment terms {item.payment_terms_text!r} not understood)" if item.payment_terms_text else ""
            return _error(item, "due_date", "invoice has no due date and the customer has no payment terms to "
                          f"derive one from{detail}")
        return replace(item, document=replace(doc, due_date=terms.due_date(doc.issue_date), due_date_derived=True))

    def _upsert_customers(self, chunk: list[SourceRecord], tally: _Tally, known: dict[str, StoredCustomer],
                          now: datetime) -> tuple[dict[str, Customer], dict[str, str]]:
        """The chunk's customers as stored, and those the store refused (their rows are rejected)."""
        incoming: dict[str, Customer] = {}
        refused: dict[str, str] = {}
        for item in chunk:
            current = incoming.get(item.customer.customer_id)
            try:
                incoming[item.customer.customer_id] = current.merged_with(item.customer) if current else item.customer
            except Exception as exc:  # rows disagreeing about a customer in a way the domain cannot merge
                if self.store_errors.is_outage(exc):
                    raise
                refused[item.customer.customer_id] = f"could not be read: {exc}"
        for cid in refused:
            incoming.pop(cid, None)
        unknown = [cid for cid in incoming if cid not in known]
        if unknown:
            known.update(self.customers.get_customers(unknown))
        new: list[Customer] = []
        for cid, customer in incoming.items():
            stored = known.get(cid)
            if stored is None:
                new.append(customer)
                continue
            try:
                merged = stored.customer.merged_with(customer)
                fingerprint = merged.fingerprint()
                if fingerprint == stored.fingerprint:
                    continue
                self.customers.update_customer(stored, merged, [self._event(f"customer#{cid}", "customer.updated",
                                                                            now, record_id=fingerprint[:16])], now)
                known[cid] = StoredCustomer(merged, fingerprint, stored.version + 1)
                tally.add("customers_updated")
            except VersionConflict:
                known.pop(cid, None)  # edited meanwhile: the next file (or redrive) merges again
            except Exception as exc:
                if self.store_errors.is_outage(exc):
                    raise
                refused[cid] = exc.message if isinstance(exc, DomainError) else self.store_errors.describe(exc)
        if new:
            events = [self._event(f"customer#{c.customer_id}", "customer.created", now, record_id="") for c in new]
            refused_new = self.customers.insert_customers(new, events, now)
            refused.update(refused_new)
            tally.add("customers_created", len(new) - len(refused_new))
            for c in new:
                if c.customer_id not in refused_new:
                    known[c.customer_id] = StoredCustomer(c, c.fingerprint(), 1)
        return {cid: stored.customer for cid, stored in known.items() if cid in incoming}, refused

    def _store_invoices(self, items: list[SourceRecord], record: ImportRecord, tally: _Tally, now: datetime) -> None:
        if not items:
            return
        by_id = {item.document.document_id: item for item in items}
        existing = self.ledger.get_invoices(by_id)
        fresh: list[tuple[Invoice, SourceRecord]] = []
        offset = self.earliest_step_offset()
        for document_id, item in by_id.items():
            if document_id in existing:
                continue
            try:
                invoice = Invoice.from_document(item.document)
                fresh.append((invoice.needs_review(first_review_at(invoice.due_date, offset)), item))
            except Exception as exc:
                self._row_failed(item, exc, tally)
        if fresh:
            refused = self.ledger.insert_invoices([invoice for invoice, _ in fresh], record.import_id, now)
            for invoice, item in fresh:
                if invoice.invoice_id in refused:
                    tally.reject(_error(item, None, refused[invoice.invoice_id]))
                else:
                    tally.imported("invoices_created", item.rows)
        for document_id, stored in existing.items():
            item = by_id[document_id]
            try:
                self._amend(stored, item, record, tally, now)
            except Exception as exc:
                self._row_failed(item, exc, tally)

    def _amend(self, stored: Invoice, item: SourceRecord, record: ImportRecord, tally: _Tally, now: datetime) -> None:
        try:
            for _attempt in conflict_retries(f"amending invoice {stored.invoice_id} from {record.import_id}",
                                             self.metrics, ROW_ATTEMPTS):
                if stored.fingerprint == item.document.fingerprint():
                    tally.imported("invoices_unchanged", item.rows)
                    return
                try:
                    amended, changes = stored.amended_by(item.document)
                    # A new due date, total or status may change what dunning owes: let the sweep decide again.
                    amended = amended.needs_review(first_review_at(amended.due_date, self.earliest_step_offset()))
                except DomainError as exc:
                    tally.reject(_error(item, exc.field, exc.message))
                    return
                event = self._event(f"invoice#{stored.invoice_id}", "invoice.amended", now, record.import_id,
                                    {"import_id": record.import_id, "source_key": record.source_key,
                                     "changes": [{"field": c.field, "before": c.before, "after": c.after}
                                                 for c in changes]})
                try:
                    self.ledger.save_invoice(amended, [event], now)
                    tally.imported("invoices_amended", item.rows)
                    return
                except VersionConflict:
                    reloaded = self.ledger.get_invoices([stored.invoice_id]).get(stored.invoice_id)
                    if reloaded is None:
                        break
                    stored = reloaded
        except ConflictRetriesExhausted:
            pass  # logged and counted; the row is rejected below so that the rest of the file still lands
        tally.reject(_error(item, None, "invoice kept changing while it was amended; dropped the file again to "
                            "retry"))

    def _store_credit_note(self, item: SourceRecord, record: ImportRecord, tally: _Tally, now: datetime) -> None:
        try:
            self._insert_credit_note(item, record, tally, now)
        except ConflictRetriesExhausted:  # logged and counted; the rest of the file still lands
            tally.reject(_error(item, None, "credit note could not be applied: its invoice kept changing"))

    def _insert_credit_note(self, item: SourceRecord, record: ImportRecord, tally: _Tally, now: datetime) -> None:
        doc = item.document
        for _attempt in conflict_retries(f"importing credit note {doc.document_id} from {record.import_id}",
                                         self.metrics, ROW_ATTEMPTS):
            existing = self.ledger.get_credit_notes([doc.document_id]).get(doc.document_id)
            if existing is not None:
                if existing.fingerprint == doc.fingerprint():
                    tally.imported("credit_notes_unchanged", item.rows)
                else:
                    tally.reject(_error(item, "number", "credit note already imported with different data; credit "
                                        "notes are not amended: issue a new one", doc.number))
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
                    tally.reject(_error(item, exc.field or "currency", exc.message))
                    return
                note = replace(note, applied=note.amount - left)
                events.append(self._event(f"invoice#{invoice.invoice_id}", "invoice.credited", now, note.credit_note_id,
                                          {"credit_note": note.number, "amount": note.applied.to_api(),
                                           "balance": credited_invoice.balance.to_api()}))
            try:
                self.ledger.insert_credit_note(note, credited_invoice, events, record.import_id, now)
                tally.imported("credit_notes_created", item.rows)
                return
            except (InsertConflict, VersionConflict):
                continue  # someone wrote the note or the invoice meanwhile: look again

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
        folder = REJECTED if outcome == REJECTED else PROCESSED  # with errors or not, its rows are in
        return f"{folder}/{day}/{record.import_id}/{relative}"

    def _reject(self, record: ImportRecord, reason: str, tally: _Tally | None = None) -> IngestOutcome:
        return self._finish(record, REJECTED, reason, tally or _Tally())

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


def invoice_document_key(invoice_id: str, extension: str) -> str:
    """Where an invoice's original is kept: its ERP PDF (`pdf`) or its UBL XML (`xml`)."""
    return f"{DOCUMENTS}{invoice_id}.{extension}"


def _error(item: SourceRecord, field: str | None, reason: str, value: str | None = None) -> RowError:
    """A stored row's problem, accounting for every source row the document was read from."""
    return RowError(item.line, field, reason, value, item.document.number, rows=item.rows)
