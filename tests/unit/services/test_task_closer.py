"""TaskCloser with an in-memory task store: which events settle an invoice, which tasks end, and where a failure
makes the stream retry."""

from datetime import UTC, datetime

import pytest

from chalicelib.services.ports import AuditEvent, Task
from chalicelib.services.task_closer import TaskCloser, settled_invoice

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def event(entity: str, **data) -> AuditEvent:
    return AuditEvent(entity, "invoice.something", "key:ann", AT, "d", data)


@pytest.mark.parametrize(("given", "settled"), [
    (event("invoice#INV-1", status="paid", balance="0.00"), "INV-1"),
    (event("invoice#INV-1", status="written_off"), "INV-1"),
    (event("invoice#INV-1", balance="0.00"), "INV-1"),  # a hand allocation says only the balance
    (event("invoice#INV-1", changes=[{"field": "status", "before": "open", "after": "paid"}]), "INV-1"),
    (event("invoice#INV-1", status="partially_paid", balance="10.00"), None),
    (event("invoice#INV-1", balance="not a number"), None),
    (event("customer#acme", status="paid"), None),
])
def test_which_events_settle_an_invoice(given, settled):
    assert settled_invoice(given) == settled


class Tasks:
    def __init__(self, *tasks: Task, failing: str | None = None):
        self.tasks = {t.task_id: t for t in tasks}
        self.failing = failing
        self.completed: list[tuple[str, str, str | None]] = []

    def open(self, task):
        if task.task_id in self.tasks:
            return False
        self.tasks[task.task_id] = task
        return True

    def open_for_invoice(self, invoice_id):
        if invoice_id == self.failing:
            raise RuntimeError("throttled")
        return [t for t in self.tasks.values() if t.invoice_id == invoice_id and t.status == "open"]

    def complete(self, task_id, actor, now, reason=None):
        self.tasks[task_id].status = "done"
        self.completed.append((task_id, actor, reason))
        return self.tasks[task_id]


def task(task_id: str, kind: str, invoice_id: str) -> Task:
    return Task(task_id, kind, kind, "acme", invoice_id, {}, AT, "system:dunning")


def test_only_unpaid_invoice_tasks_end_and_each_once():
    tasks = Tasks(task("e1", "escalation", "INV-1"), task("b1", "broken_promise", "INV-1"),
                  task("c1", "chargeback", "INV-1"), task("m1", "manual", "INV-1"), task("e2", "escalation", "INV-2"))
    closer = TaskCloser(tasks, clock=lambda: AT)
    paid = event("invoice#INV-1", status="paid")
    assert closer.on_events([paid, None, paid]) is None
    assert closer.on_events([paid]) is None
    assert [(t, a) for t, a, _ in tasks.completed] == [("e1", "system:tasks"), ("b1", "system:tasks")]
    assert tasks.tasks["e2"].status == "open"


def test_a_failure_names_the_event_to_retry_from():
    tasks = Tasks(task("e1", "escalation", "INV-1"), task("e2", "escalation", "INV-2"), failing="INV-2")
    closer = TaskCloser(tasks, clock=lambda: AT)
    events = [event("invoice#INV-1", status="paid"), event("invoice#INV-0", balance="5.00"),
              event("invoice#INV-2", status="written_off")]
    assert closer.on_events(events) == 2
    assert [t for t, _, _ in tasks.completed] == ["e1"]


def test_a_discount_taken_late_task_ends_when_the_difference_is_paid_or_written_off():
    tasks = Tasks(task("d1", "discount_taken_late", "INV-1"))
    closer = TaskCloser(tasks, clock=lambda: AT)
    closer.on_events([event("invoice#INV-1", status="partially_paid", balance="20.00")])
    assert tasks.tasks["d1"].status == "open"
    closer.on_events([event("invoice#INV-1", status="written_off", balance="0.00")])
    assert [t for t, _, _ in tasks.completed] == ["d1"]


def test_a_discount_taken_late_event_opens_its_task_once_if_the_payment_path_did_not():
    late = AuditEvent("invoice#INV-1", "invoice.discount_taken_late", "provider:bank", AT, "pay_1",
                      {"payment_id": "pay_1", "amount": "20.00", "currency": "EUR", "number": "INV-1",
                       "customer_id": "acme", "last_day": "2026-11-11", "received_on": "2026-11-12",
                       "paid": "980.00", "balance": "20.00", "status": "partially_paid"})
    tasks = Tasks()
    closer = TaskCloser(tasks, clock=lambda: AT)
    assert closer.on_events([late, late]) is None
    [opened] = tasks.tasks.values()
    assert (opened.task_id, opened.kind, opened.customer_id) == ("discount_taken_late:INV-1:pay_1",
                                                                 "discount_taken_late", "acme")
    assert "INV-1: 20.00 EUR deducted" in opened.title and opened.created_by == "provider:bank"
    closer.on_events([event("invoice#INV-1", status="paid", balance="0.00")])
    assert opened.status == "done"
