"""TaskDesk with in-memory stores: a task opened by hand is about an existing invoice or customer, and takes the
invoice's customer when none is given."""

from datetime import UTC, datetime

import pytest

from chalicelib.domain.errors import NotFound
from chalicelib.services.ports import Task
from chalicelib.services.tasks import TaskDesk
from tests.unit.dunning.factories import invoice

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Book:
    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}

    def create(self, task: Task) -> Task:
        self.tasks[task.task_id] = task
        return task

    def complete(self, task_id, actor, now, reason=None):
        task = self.tasks.get(task_id)
        if task is not None:
            task.status, task.completed_at, task.completed_by = "done", now, actor
        return task


class Ledger:
    def get_invoices(self, ids):
        found = invoice(number="INV-1")
        return {i: found for i in ids if i == found.invoice_id}


class Customers:
    def get_customer(self, customer_id):
        return object() if customer_id == "acme" else None


def desk(book: Book) -> TaskDesk:
    return TaskDesk(book, Ledger(), Customers(), clock=lambda: AT, new_id=lambda: "tsk_1")


def test_a_task_about_an_invoice_is_about_its_customer():
    book = Book()
    inv = invoice(number="INV-1")
    task = desk(book).open_by_hand("Call them", "about the fee", None, inv.invoice_id, "key:ann")
    assert (task.task_id, task.kind, task.customer_id, task.invoice_id) == ("tsk_1", "manual", inv.customer_id,
                                                                           inv.invoice_id)
    assert (task.detail, task.created_at, task.created_by) == ({"note": "about the fee"}, AT, "key:ann")
    assert book.tasks == {"tsk_1": task}


@pytest.mark.parametrize(("customer_id", "invoice_id", "what"), [
    (None, "INV-404", "invoice INV-404"), ("nobody", None, "customer nobody")])
def test_an_unknown_subject_opens_nothing(customer_id, invoice_id, what):
    book = Book()
    with pytest.raises(NotFound) as raised:
        desk(book).open_by_hand("Call them", None, customer_id, invoice_id, "key:ann")
    assert f"{raised.value.what} {raised.value.key}" == what
    assert book.tasks == {}


def test_completing_stamps_the_actor_and_the_time():
    book = Book()
    desk(book).open_by_hand("Call them", None, "acme", None, "key:ann")
    done = desk(book).complete("tsk_1", "key:bob")
    assert done is not None and (done.status, done.completed_by, done.completed_at) == ("done", "key:bob", AT)
    assert desk(book).complete("tsk_2", "key:bob") is None
