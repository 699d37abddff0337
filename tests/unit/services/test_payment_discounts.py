"""Early-payment discounts honoured by PaymentService, the same for webhooks, bank statement lines and manual
payments: booked (audited) when paid in time, a task when taken late, taken back with a refund, chargeback or
removal of the payment that earned it."""

from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.customer import Customer
from chalicelib.domain.invoice import Document, DocumentKind, Invoice, InvoiceStatus
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentEvent, PaymentKind, payment_id_for
from chalicelib.domain.terms import PaymentTerms
from chalicelib.services.payments import PaymentService
from chalicelib.services.ports import Backoff, StoredCustomer
from tests.unit.services.fakes import Alerts, Ledger, Metrics, Notifications, Payments
from tests.unit.services.sending_fakes import Tasks

ISSUED = date(2026, 11, 1)
IN_TIME = datetime(2026, 11, 11, 16, 0, tzinfo=UTC)  # the last day of 2/10 net 30
LATE = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # processed much later: the received day decides


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def invoice(number: str = "INV-1", total: str = "1000.00") -> Invoice:
    return Invoice.from_document(Document(
        kind=DocumentKind.INVOICE, number=number, customer_id="acme", issue_date=ISSUED,
        due_date=ISSUED + timedelta(days=30), total=eur(total), paid_in_source=eur("0")))


class World:
    def __init__(self, *invoices: Invoice, terms: str = "2/10 net 30") -> None:
        self.ledger = Ledger(*(invoices or (invoice(),)))
        customer = Customer("acme", "Acme", payment_terms=PaymentTerms.parse(terms))
        self.ledger.customers["acme"] = StoredCustomer(customer, customer.fingerprint(), 1)
        self.payments = Payments(self.ledger)
        self.tasks = Tasks()
        self.alerts = Alerts()
        self.service = PaymentService(
            self.payments, Notifications(self.payments), self.ledger, self.ledger, self.alerts, clock=lambda: NOW,
            metrics=Metrics(), tasks=self.tasks, backoff=Backoff(jitter=lambda low, high: high, sleep=lambda s: None))

    def inv(self, invoice_id: str = "INV-1") -> Invoice:
        return self.ledger.invoices[invoice_id]

    def events(self, type_: str) -> list[dict[str, object]]:
        return [dict(e.data) for e in self.ledger.events if e.type == type_]

    def receive(self, amount: str, at: datetime = IN_TIME, *, kind: PaymentKind = PaymentKind.PAYMENT,
                ref: str = "ch_1", references: tuple[str, ...] = ("INV-1",), hint: str | None = None,
                provider: str = "stripe") -> str:
        event = PaymentEvent(provider=provider, event_id=f"evt_{kind.value}_{ref}", payment_ref=ref, kind=kind,
                             amount=eur(amount), occurred_at=at, raw_type="test", references=references,
                             customer_hint=hint, original_ref="ch_1" if kind is not PaymentKind.PAYMENT else None)
        return self.service.receive(event).outcome


def test_a_webhook_paying_the_discounted_amount_on_the_last_day_settles_the_invoice_with_the_discount() -> None:
    world = World()
    assert world.receive("980.00") == "applied"
    paid = world.inv()
    assert paid.status is InvoiceStatus.PAID and paid.discounted == eur("20.00") and paid.balance.is_zero
    assert paid.effective_on == IN_TIME.date()
    [granted] = world.events("invoice.discount_granted")
    assert granted["amount"] == "20.00" and granted["last_day"] == "2026-11-11" and granted["percent"] == "2"
    [recorded] = world.events("payment.payment_recorded")
    assert recorded["allocations"] == [  # what the receipt reads
        {"invoice_id": "INV-1", "number": "INV-1", "amount": "980.00", "balance": "0.00", "discount": "20.00"}]
    assert world.tasks.tasks == {}


def test_a_bank_statement_line_without_a_reference_matches_the_discounted_amount() -> None:
    world = World(invoice(), invoice("INV-2", "500.00"))
    assert world.receive("490.00", references=(), hint="acme", provider="bank") == "applied"
    assert world.inv("INV-2").status is InvoiceStatus.PAID and world.inv("INV-2").discounted == eur("10.00")
    assert world.inv("INV-1").balance == eur("1000.00")


def test_a_partial_payment_in_time_earns_no_discount() -> None:
    world = World()
    world.receive("900.00")
    assert world.inv().discounted.is_zero and world.inv().balance == eur("100.00")
    assert world.events("invoice.discount_granted") == []


def test_the_discounted_amount_received_after_the_last_day_leaves_the_difference_open_and_opens_a_task() -> None:
    world = World()
    world.receive("980.00", LATE)
    late = world.inv()
    assert late.status is InvoiceStatus.PARTIALLY_PAID and late.balance == eur("20.00") and late.discounted.is_zero
    [task] = world.tasks.tasks.values()
    assert task.kind == "discount_taken_late" and task.invoice_id == "INV-1"
    assert task.detail["amount"] == "20.00" and task.detail["last_day"] == "2026-11-11"
    assert [e["amount"] for e in world.events("invoice.discount_taken_late")] == ["20.00"]


def test_a_manual_payment_received_in_time_but_keyed_in_later_earns_the_discount() -> None:
    world = World()
    world.service.record_manual(amount=eur("980.00"), customer_id="acme", references=("INV-1",),
                                received_on=IN_TIME, payer_name="Acme", method="wire", idempotency_key="k1",
                                actor="user:ann")
    assert world.inv().status is InvoiceStatus.PAID and world.inv().discounted == eur("20.00")
    late = World()
    late.service.record_manual(amount=eur("980.00"), customer_id="acme", references=("INV-1",),
                               received_on=LATE, payer_name="Acme", method="wire", idempotency_key="k1",
                               actor="user:ann")
    assert late.inv().balance == eur("20.00") and len(late.tasks.tasks) == 1


def test_cash_applied_by_hand_books_the_discount_and_taking_it_off_takes_the_discount_back() -> None:
    world = World()
    world.receive("980.00", references=("unknown",))
    payment_id = payment_id_for("stripe", PaymentKind.PAYMENT, "ch_1")
    world.service.allocate(payment_id, "INV-1", None, "user:ann")
    assert world.inv().status is InvoiceStatus.PAID and world.inv().discounted == eur("20.00")
    world.service.unallocate(payment_id, "INV-1", "user:ann")
    assert world.inv().balance == eur("1000.00") and world.inv().discounted.is_zero
    assert [e["reason"] for e in world.events("invoice.discount_reversed")] == ["unallocated"]


def test_a_refund_of_the_payment_that_earned_the_discount_takes_the_discount_back() -> None:
    world = World()
    world.receive("980.00")
    assert world.receive("100.00", kind=PaymentKind.REFUND, ref="re_1") == "reversed"
    reopened = world.inv()
    assert reopened.discounted.is_zero and reopened.balance == eur("120.00")
    assert reopened.status is InvoiceStatus.PARTIALLY_PAID
    [reversed_] = world.events("invoice.discount_reversed")
    assert reversed_["amount"] == "20.00" and reversed_["reason"] == "refund"


def test_a_chargeback_reopens_the_whole_amount_with_the_discount() -> None:
    world = World()
    world.receive("980.00")
    world.receive("980.00", kind=PaymentKind.CHARGEBACK, ref="dp_1")
    reopened = world.inv()
    assert reopened.disputed and reopened.balance == eur("1000.00") and reopened.discounted.is_zero


def test_paying_in_full_reads_no_terms_and_books_nothing() -> None:
    world = World()
    reads: list[str] = []
    get_stored = world.ledger.get_stored
    world.ledger.get_stored = lambda cid: reads.append(cid) or get_stored(cid)  # type: ignore[method-assign]
    world.receive("1000.00")
    assert world.inv().status is InvoiceStatus.PAID and world.inv().discounted.is_zero and reads == []


def test_several_invoices_paid_by_reference_at_their_discounted_amounts_are_all_settled() -> None:
    world = World(invoice(), invoice("INV-2"))
    world.receive("1960.00", references=("INV-1", "INV-2"))
    assert [world.inv(i).discounted for i in ("INV-1", "INV-2")] == [eur("20.00"), eur("20.00")]
    assert all(world.inv(i).status is InvoiceStatus.PAID for i in ("INV-1", "INV-2"))
