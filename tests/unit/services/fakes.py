"""In-memory ports for the use cases: the same contracts as the DynamoDB and S3 adapters (version checks, conditional
inserts, all-or-nothing commits), so a service's rules run in milliseconds. `conflicts` makes the next writes fail
as if a concurrent writer had got there first."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.invoice import OUTSTANDING_STATUSES, CreditNote, Invoice
from chalicelib.domain.payments import PaymentRecord
from chalicelib.services.ports import (
    AlreadyRecorded,
    AuditEvent,
    ImportRecord,
    InsertConflict,
    ObjectInfo,
    ProviderEventRecord,
    StoredCustomer,
    VersionConflict,
)


class Ledger:
    """Invoices, credit notes and customers with the adapters' version checks; every write keeps its audit events.
    The one in-memory ledger: the sweeps' tests (sending_fakes.py) use it too."""

    def __init__(self, *invoices: Invoice) -> None:
        self.invoices = {i.invoice_id: replace(i, version=i.version or 1) for i in invoices}
        self.credit_notes: dict[str, CreditNote] = {}
        self.customers: dict[str, StoredCustomer] = {}
        self.events: list[AuditEvent] = []
        self.writes = 0
        self.conflicts = 0

    def _conflict(self, key: str) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise VersionConflict(key)

    def _check(self, invoice: Invoice) -> None:
        self._conflict(invoice.invoice_id)
        current = self.invoices.get(invoice.invoice_id)
        if current is None or current.version != invoice.version:
            raise VersionConflict(invoice.invoice_id)

    def _store(self, invoice: Invoice) -> Invoice:
        saved = replace(invoice, version=invoice.version + 1)
        self.invoices[invoice.invoice_id] = saved
        self.writes += 1
        return saved

    def pay(self, invoice_id: str) -> None:
        """A payment recorded by another process (a webhook) in full."""
        invoice = self.invoices[invoice_id]
        paid, _rest = invoice.with_payment(invoice.balance)
        self.invoices[invoice_id] = replace(paid, version=invoice.version + 1)

    # ---- DueInvoices (the sparse due_for_action index) ----
    def due_for_action(self, until: datetime, limit: int) -> list[Invoice]:
        due = [i for i in self.invoices.values() if i.next_action_at is not None and i.next_action_at <= until]
        return sorted(due, key=lambda i: i.next_action_at or until)[:limit]

    # ---- LedgerStore ----
    def get_invoices(self, invoice_ids: Any) -> dict[str, Invoice]:
        return {i: self.invoices[i] for i in invoice_ids if i in self.invoices}

    def get_credit_notes(self, credit_note_ids: Any) -> dict[str, CreditNote]:
        return {i: self.credit_notes[i] for i in credit_note_ids if i in self.credit_notes}

    def insert_invoices(self, invoices: Any, import_id: str, now: datetime) -> dict[str, str]:
        for invoice in invoices:
            self.invoices[invoice.invoice_id] = replace(invoice, version=1)
            self.writes += 1
        return {}

    def save_invoice(self, invoice: Invoice, events: Any, now: datetime) -> Invoice:
        self._check(invoice)
        self.events.extend(events)
        return self._store(invoice)

    def insert_credit_note(self, note: CreditNote, invoice: Invoice | None, events: Any, import_id: str,
                           now: datetime) -> None:
        if note.credit_note_id in self.credit_notes:
            raise InsertConflict([note.credit_note_id])
        if invoice is not None:
            self._check(invoice)
            self._store(invoice)
        self.credit_notes[note.credit_note_id] = note
        self.events.extend(events)
        self.writes += 1

    # ---- CustomerStore ----
    def get_customers(self, customer_ids: Any) -> dict[str, StoredCustomer]:
        return {i: self.customers[i] for i in customer_ids if i in self.customers}

    def get_stored(self, customer_id: str) -> StoredCustomer | None:
        return self.customers.get(customer_id)

    def insert_customers(self, customers: Any, events: Any, now: datetime) -> dict[str, str]:
        for customer in customers:
            self.customers[customer.customer_id] = StoredCustomer(customer, customer.fingerprint(), 1)
            self.writes += 1
        self.events.extend(events)
        return {}

    def update_customer(self, stored: StoredCustomer, customer: Any, events: Any, now: datetime) -> None:
        self._conflict(customer.customer_id)
        if self.customers[customer.customer_id].version != stored.version:
            raise VersionConflict(customer.customer_id)
        self.customers[customer.customer_id] = StoredCustomer(customer, customer.fingerprint(), stored.version + 1)
        self.events.extend(events)
        self.writes += 1

    # ---- what PaymentService reads ----
    def find_by_reference(self, keys: Any, limit: int = 10) -> dict[str, Invoice]:
        return {}

    def open_invoices(self, customer_id: str) -> list[Invoice]:
        return [i for i in self.invoices.values() if i.customer_id == customer_id and i.status in OUTSTANDING_STATUSES]


class Payments:
    """The payment records and the provider notifications, committed all or nothing with the invoices they touch."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.records: dict[str, PaymentRecord] = {}
        self.notes: dict[str, ProviderEventRecord] = {}

    def get(self, payment_id: str) -> PaymentRecord | None:
        return self.records.get(payment_id)

    def waiting_for(self, provider: str, payment_ref: str) -> list[PaymentRecord]:
        return [r for r in self.records.values()
                if r.waiting and r.provider == provider and r.original_ref == payment_ref]

    def open_invoices(self, customer_id: str) -> list[Invoice]:
        return self.ledger.open_invoices(customer_id)

    def commit(self, *, new: Any = (), changed: Any = (), invoices: Any = (), events: Any = (),
               notification: ProviderEventRecord | None = None, now: datetime) -> None:
        for record in new:
            current = self.records.get(record.payment_id)
            # A waiting reversal is completed only while it still waits; any other new record only once.
            if (current is not None and not record.version) or (record.version and not (current and current.waiting)):
                raise AlreadyRecorded(record.payment_id)
        for record in changed:
            if self.records[record.payment_id].version != record.version:
                raise VersionConflict(record.payment_id)
        for invoice in invoices:
            self.ledger._check(invoice)
        for record in [*new, *changed]:
            self.records[record.payment_id] = replace(record, version=record.version + 1)
        for invoice in invoices:
            self.ledger._store(invoice)
        self.ledger.events.extend(events)
        if notification is not None:
            self.notes[notification.dedupe_key] = notification

    # ---- NotificationStore ----
    def claim(self, record: ProviderEventRecord) -> bool:
        if record.dedupe_key in self.notes:
            return False
        self.notes[record.dedupe_key] = record
        return True

    def save(self, record: ProviderEventRecord) -> None:
        self.notes[record.dedupe_key] = record

    def note(self, dedupe_key: str) -> ProviderEventRecord | None:
        return self.notes.get(dedupe_key)


class Notifications:
    """The NotificationStore face of Payments (its `get` reads notifications, not payments)."""

    def __init__(self, payments: Payments) -> None:
        self.payments = payments

    def claim(self, record: ProviderEventRecord) -> bool:
        return self.payments.claim(record)

    def get(self, dedupe_key: str) -> ProviderEventRecord | None:
        return self.payments.note(dedupe_key)

    def save(self, record: ProviderEventRecord) -> None:
        self.payments.save(record)


class Alerts:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        self.published.append((subject, message))


class Metrics:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, name: str, value: int, dimensions: Any) -> None:
        self.counts[name] = self.counts.get(name, 0) + value


class Files:
    """A bucket: bytes by key, with the S3 metadata the ingest reads."""

    def __init__(self, now: datetime = datetime(2026, 12, 1, tzinfo=UTC)) -> None:
        self.objects: dict[str, bytes] = {}
        self.documents: dict[str, Any] = {}
        self.now = now

    def put(self, key: str, data: bytes) -> None:
        self.objects[key] = data

    def head(self, key: str) -> ObjectInfo | None:
        data = self.objects.get(key)
        if data is None:
            return None
        return ObjectInfo(key, len(data), hashlib.md5(data).hexdigest(), self.now)

    def open(self, key: str) -> io.BytesIO:
        return io.BytesIO(self.objects[key])

    def sha256(self, key: str) -> str:
        return hashlib.sha256(self.objects[key]).hexdigest()

    def copy(self, source_key: str, destination_key: str) -> None:
        self.objects[destination_key] = self.objects[source_key]

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def put_json(self, key: str, document: Any) -> None:
        self.documents[key] = document

    def get_json(self, key: str) -> Any:
        return self.documents[key]

    def list(self, prefix: str) -> Any:
        return iter([info for key in sorted(self.objects) if key.startswith(prefix)
                     for info in [self.head(key)] if info is not None])

    def touch(self, key: str, counter: str, limit: int) -> int | None:
        return None


class Imports:
    """Import records with the lease: a claim succeeds for a new import or one whose lease has run out."""

    def __init__(self) -> None:
        self.records: dict[str, ImportRecord] = {}
        self.released: list[str] = []

    def get(self, import_id: str) -> ImportRecord | None:
        return self.records.get(import_id)

    def claim(self, record: ImportRecord, now: datetime) -> bool:
        current = self.records.get(record.import_id)
        if current is not None and (current.status != "in_progress" or current.lease_until > now):
            return False
        self.records[record.import_id] = record
        return True

    def finish(self, record: ImportRecord) -> None:
        self.records[record.import_id] = record

    def release(self, record: ImportRecord) -> None:
        self.released.append(record.import_id)
        current = self.records[record.import_id]
        self.records[record.import_id] = replace(current, lease_until=current.started_at)
