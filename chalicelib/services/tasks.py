"""Use case: the tasks collectors open by hand (a call to make, a document to chase) and complete."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Protocol

from chalicelib.domain.customer import Customer
from chalicelib.domain.errors import NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.services.ports import Task


class TaskBook(Protocol):
    def create(self, task: Task) -> Task: ...
    def complete(self, task_id: str, actor: str, now: datetime, reason: str | None = None) -> Task | None: ...


class InvoiceReader(Protocol):
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]: ...


class CustomerReader(Protocol):
    def get_customer(self, customer_id: str) -> Customer | None: ...


class TaskDesk:
    def __init__(self, tasks: TaskBook, invoices: InvoiceReader, customers: CustomerReader,
                 clock: Callable[[], datetime] | None = None, new_id: Callable[[], str] | None = None) -> None:
        self.tasks = tasks
        self.invoices = invoices
        self.customers = customers
        self.clock = clock or (lambda: datetime.now(UTC))
        self.new_id = new_id or (lambda: f"tsk_{uuid.uuid4().hex[:24]}")

    def open_by_hand(self, title: str, note: str | None, customer_id: str | None, invoice_id: str | None,
                     actor: str) -> Task:
        """A task about an invoice is about its customer too; raises NotFound for an unknown one."""
        if invoice_id is not None:
            invoice = self.invoices.get_invoices([invoice_id]).get(invoice_id)
            if invoice is None:
                raise NotFound("invoice", invoice_id)
            customer_id = customer_id or invoice.customer_id
        elif customer_id is not None and self.customers.get_customer(customer_id) is None:
            raise NotFound("customer", customer_id)
        task = Task(self.new_id(), "manual", title, customer_id, invoice_id, {"note": note} if note else {},
                    self.clock(), actor)
        return self.tasks.create(task)

    def complete(self, task_id: str, actor: str) -> Task | None:
        """None when there is no such task; completing a completed task changes nothing."""
        return self.tasks.complete(task_id, actor, self.clock())
