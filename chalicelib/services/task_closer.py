"""Tasks end themselves when their reason ends: an escalation or a broken promise asks a collector to chase an
unpaid invoice, so once the invoice is paid or written off (nothing owed) the task is completed, with its audit
event (`task.completed`, actor `system:tasks`, the reason).

Run from the events table's stream (`publish_events`), which carries every change to an invoice as its audit
event, whichever path settled it (a webhook, a bank line, a hand allocation, a write-off, a credit note, an ERP
amendment): one place instead of one per path. The stream delivers at least once, and completing a completed task
changes nothing, so a batch handled twice closes nothing twice.

Tasks about something else stay open: a chargeback (contest or accept it), a bounced address, an unconfirmed
send, a broken plan (customer-wide) and tasks opened by hand."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from chalicelib.services.ports import AuditEvent, Task, utc_now

log = logging.getLogger(__name__)
ACTOR = "system:tasks"
UNPAID_KINDS = frozenset({"escalation", "broken_promise", "discount_taken_late"})  # reason: the invoice is unpaid
SETTLED = frozenset({"paid", "written_off", "void"})


class InvoiceTasks(Protocol):
    def open_for_invoice(self, invoice_id: str) -> list[Task]: ...
    def complete(self, task_id: str, actor: str, now: datetime, reason: str | None = None) -> Task | None: ...


def settled_invoice(event: AuditEvent) -> str | None:
    """The invoice an audit event shows settled (status paid, written off or void, or nothing left to pay), if any."""
    if not event.entity.startswith("invoice#"):
        return None
    data = event.data
    statuses = {data.get("status")}
    for change in data.get("changes") or ():  # an ERP amendment: the status it changed to
        if isinstance(change, dict) and change.get("field") == "status":
            statuses.add(change.get("after"))
    if statuses & SETTLED or _is_zero(data.get("balance")):
        return event.entity.removeprefix("invoice#")
    return None


def _is_zero(value: Any) -> bool:
    try:
        return isinstance(value, str) and Decimal(value) == 0
    except InvalidOperation:
        return False


class TaskCloser:
    def __init__(self, tasks: InvoiceTasks, clock: Callable[[], datetime] | None = None) -> None:
        self.tasks = tasks
        self.clock = clock or utc_now

    def on_events(self, events: Sequence[AuditEvent | None]) -> int | None:
        """Complete the unpaid-invoice tasks of every invoice the events settle. Returns the index of the first event
        whose tasks could not be read or completed (the stream retries from there), or None."""
        done: set[str] = set()
        for index, event in enumerate(events):
            invoice_id = settled_invoice(event) if event is not None else None
            if invoice_id is None or invoice_id in done:
                continue
            try:
                self.close_for(invoice_id, f"invoice {invoice_id} settled ({event.type if event else ''})")
            except Exception:
                log.exception("tasks of a settled invoice were not completed; the stream will retry",
                              extra={"invoice_id": invoice_id})
                return index
            done.add(invoice_id)
        return None

    def close_for(self, invoice_id: str, reason: str) -> list[str]:
        closed = []
        for task in self.tasks.open_for_invoice(invoice_id):
            if task.kind in UNPAID_KINDS and task.status == "open":
                self.tasks.complete(task.task_id, ACTOR, self.clock(), reason)
                closed.append(task.task_id)
        return closed
