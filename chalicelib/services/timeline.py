"""Timelines and notes: everything that happened to an invoice or a customer, in order, with who did it.

The audit trail is the source: every state change writes its event in the same transaction. An invoice's
creation is on the invoice itself (`created_at`, `import_id`, see ingest_file), so the timeline adds it as
`invoice.imported`. A customer's timeline merges its own events with those of its invoices (the most recent
MAX_INVOICES of them by due date: a bound, so one request never reads an unbounded ledger)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.errors import InvalidDocument, NotFound
from chalicelib.services.ports import AuditEvent, utc_now

MAX_INVOICES = 200
MAX_NOTE = 4000


class EventLog(Protocol):
    def events(self, entity: str) -> list[AuditEvent]: ...
    def append(self, event: AuditEvent) -> None: ...


class Subjects(Protocol):
    def invoice_origin(self, invoice_id: str) -> tuple[datetime, str | None] | None:
        """(created_at, import_id) of the invoice; None when there is no such invoice."""
    def customer_exists(self, customer_id: str) -> bool: ...
    def customer_invoices(self, customer_id: str, limit: int) -> list[tuple[str, datetime, str | None]]:
        """(invoice_id, created_at, import_id) of the customer's invoices, latest due first."""


def entry(event: AuditEvent) -> dict[str, Any]:
    entity_type, _, entity_id = event.entity.partition("#")
    return {"at": event.at.isoformat(), "type": event.type, "actor": event.actor, "entity_type": entity_type,
            "entity_id": entity_id, "data": dict(event.data)}


class Timeline:
    def __init__(self, log: EventLog, subjects: Subjects, clock: Callable[[], datetime] | None = None) -> None:
        self.log = log
        self.subjects = subjects
        self.clock = clock or utc_now

    def invoice(self, invoice_id: str) -> list[dict[str, Any]]:
        origin = self.subjects.invoice_origin(invoice_id)
        if origin is None:
            raise NotFound("invoice", invoice_id, field="invoice_id")
        imported = _imported(invoice_id, *origin)
        return [entry(e) for e in _ordered([imported, *self.log.events(f"invoice#{invoice_id}")])]

    def customer(self, customer_id: str) -> list[dict[str, Any]]:
        if not self.subjects.customer_exists(customer_id):
            raise NotFound("customer", customer_id, field="customer_id")
        events = list(self.log.events(f"customer#{customer_id}"))
        for invoice_id, created_at, import_id in self.subjects.customer_invoices(customer_id, MAX_INVOICES):
            events.append(_imported(invoice_id, created_at, import_id))
            events.extend(self.log.events(f"invoice#{invoice_id}"))
        return [entry(e) for e in _ordered(events)]

    def add_note(self, entity_type: str, entity_id: str, text: Any, actor: str) -> dict[str, Any]:
        if not isinstance(text, str) or not text.strip():
            raise InvalidDocument("a note needs a non-empty text", field="text")
        if len(text) > MAX_NOTE:
            raise InvalidDocument(f"a note is at most {MAX_NOTE} characters", field="text")
        exists = (self.subjects.invoice_origin(entity_id) is not None if entity_type == "invoice"
                  else self.subjects.customer_exists(entity_id))
        if not exists:
            raise NotFound(entity_type, entity_id, field=f"{entity_type}_id")
        now = self.clock()
        event = AuditEvent(f"{entity_type}#{entity_id}", "note.added", actor, now, f"{now.timestamp()}",
                           {"text": text.strip()})
        self.log.append(event)
        return entry(event)


def _imported(invoice_id: str, created_at: datetime, import_id: str | None) -> AuditEvent:
    return AuditEvent(f"invoice#{invoice_id}", "invoice.imported", "system:ingest", created_at, "",
                      {"import_id": import_id})


def _ordered(events: Sequence[AuditEvent]) -> list[AuditEvent]:
    return sorted(events, key=lambda e: (e.at, e.type))
