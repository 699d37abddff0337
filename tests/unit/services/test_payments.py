"""PaymentService with in-memory ports: money is applied exactly once, out-of-order reversals wait, what cannot be
matched is parked, and writers that keep losing give up loudly."""

from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.errors import IdempotencyKeyReused
from chalicelib.domain.invoice import Document, DocumentKind, Invoice, InvoiceStatus
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentEvent, PaymentKind, PaymentStatus, payment_id_for
from chalicelib.services.payments import PaymentService
from chalicelib.services.ports import Backoff, ConflictRetriesExhausted
from tests.unit.services.fakes import Alerts, Ledger, Metrics, Notifications, Payments

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def invoice(number: str = "INV-1", total: str = "1000.00", customer: str = "acme") -> Invoice:
    return Invoice.from_document(Document(
        kind=DocumentKind.INVOICE, number=number, customer_id=customer, issue_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1), total=eur(total), paid_in_source=eur("0")))


def event(event_id: str = "evt_1", ref: str = "ch_1", amount: str = "1000.00", *,
          kind: PaymentKind = PaymentKind.PAYMENT, references: tuple[str, ...] = ("INV-1",),
          original_ref: str | None = None) -> PaymentEvent:
    return PaymentEvent(provider="stripe", event_id=event_id, payment_ref=ref, kind=kind, amount=eur(amount),
                        occurred_at=NOW, raw_type=f"test.{kind.value}", references=references,
                        original_ref=original_ref)


class World:
    def __init__(self, *invoices: Invoice) -> None:
        self.ledger = Ledger(*invoices)
        self.payments = Payments(self.ledger)
        self.alerts = Alerts()
        self.metrics = Metrics()
        self.pauses: list[float] = []
        self.service = PaymentService(
            self.payments, Notifications(self.payments), self.ledger, self.ledger, self.alerts, clock=lambda: NOW,
            metrics=self.metrics, backoff=Backoff(jitter=lambda low, high: high, sleep=self.pauses.append))

    def balance(self, invoice_id: str = "INV-1") -> Money:
        return self.ledger.invoices[invoice_id].balance

    def payment(self, ref: str = "ch_1"):
        return self.payments.get(payment_id_for("stripe", PaymentKind.PAYMENT, ref))


def one_invoice(total: str = "1000.00") -> tuple[World, str]:
    inv = invoice(total=total)
    return World(inv), inv.invoice_id


def test_a_payment_delivered_twice_is_applied_once() -> None:
    world, invoice_id = one_invoice()
    first = world.service.receive(event())
    again = world.service.receive(event())
    assert (first.outcome, again.outcome) == ("applied", "duplicate")
    assert world.ledger.invoices[invoice_id].status is InvoiceStatus.PAID
    assert world.ledger.invoices[invoice_id].applied_payments == eur("1000.00")


def test_the_same_money_reported_by_two_notifications_counts_once() -> None:
    world, invoice_id = one_invoice("2000.00")
    world.service.receive(event("evt_1"))
    second = world.service.receive(event("evt_2"))  # another event about the same charge
    assert second.outcome == "duplicate"
    assert world.ledger.invoices[invoice_id].balance == eur("1000.00")
    assert world.payments.notes["stripe:evt_2"].status == "duplicate"


def test_an_overpayment_pays_the_invoice_and_leaves_the_rest_as_credit() -> None:
    world, invoice_id = one_invoice()
    world.service.receive(event(amount="1200.00"))
    payment = world.payment()
    assert world.ledger.invoices[invoice_id].status is InvoiceStatus.PAID
    assert payment.unapplied == eur("200.00")
    assert payment.status is PaymentStatus.PARTIALLY_APPLIED


def test_cash_that_matches_nothing_is_parked_unapplied_for_a_person() -> None:
    world, invoice_id = one_invoice()
    receipt = world.service.receive(event(references=("nothing we know",)))
    payment = world.payment()
    assert receipt.outcome == "applied"
    assert payment.status is PaymentStatus.UNAPPLIED and payment.unapplied == eur("1000.00")
    assert world.ledger.invoices[invoice_id].balance == eur("1000.00")


def test_a_refund_arriving_before_its_payment_waits_then_reopens_the_invoice() -> None:
    world, invoice_id = one_invoice()
    refund = world.service.receive(event("evt_r", "re_1", "300.00", kind=PaymentKind.REFUND, original_ref="ch_1"))
    assert refund.outcome == "waiting"
    assert world.ledger.invoices[invoice_id].balance == eur("1000.00")  # nothing to reverse yet

    world.service.receive(event())
    assert world.balance(invoice_id) == eur("300.00")  # paid in full, then 300 given back
    assert world.payment().reversed_amount == eur("300.00")
    assert not world.payments.get(refund.payment_id).waiting


def test_a_chargeback_reopens_the_invoice_as_disputed_and_tells_finance() -> None:
    world, invoice_id = one_invoice()
    world.service.receive(event())
    world.service.receive(event("evt_c", "dp_1", kind=PaymentKind.CHARGEBACK, original_ref="ch_1"))
    reopened = world.ledger.invoices[invoice_id]
    assert reopened.disputed and reopened.balance == eur("1000.00")
    assert [subject for subject, _ in world.alerts.published] == ["Chargeback received"]


def test_a_conflicting_write_is_retried_on_a_fresh_read_after_a_jittered_pause() -> None:
    world, invoice_id = one_invoice()
    world.ledger.conflicts = 2
    assert world.service.receive(event()).outcome == "applied"
    assert world.ledger.invoices[invoice_id].status is InvoiceStatus.PAID
    assert world.pauses == [0.02, 0.04]


def test_a_payment_that_keeps_losing_is_raised_and_counted_and_the_next_delivery_applies_it() -> None:
    world, invoice_id = one_invoice()
    world.ledger.conflicts = 8
    with pytest.raises(ConflictRetriesExhausted):
        world.service.receive(event())
    assert world.metrics.counts == {"ConflictRetriesExhausted": 1}
    assert world.ledger.invoices[invoice_id].balance == eur("1000.00") and world.payment() is None
    assert world.service.receive(event()).outcome == "applied"  # the provider's retry
    assert world.ledger.invoices[invoice_id].status is InvoiceStatus.PAID


def test_a_manual_payment_under_one_idempotency_key_is_one_request() -> None:
    world, invoice_id = one_invoice()

    def record(request: str):
        return world.service.record_manual(
            amount=eur("400.00"), customer_id=None, references=("INV-1",), received_on=NOW, payer_name="Acme",
            method="wire", idempotency_key="key-1", actor="key:staff", request=request)

    first = record("fingerprint-a")
    assert record("fingerprint-a").payment_id == first.payment_id
    with pytest.raises(IdempotencyKeyReused):
        record("fingerprint-b")
    assert world.balance(invoice_id) == eur("600.00")


def test_staff_apply_parked_cash_to_an_invoice_and_take_it_off_again() -> None:
    world, invoice_id = one_invoice()
    world.service.receive(event(references=()))
    payment_id = world.payment().payment_id

    applied = world.service.allocate(payment_id, invoice_id, eur("250.00"), "key:staff")
    assert applied.unapplied == eur("750.00") and world.balance(invoice_id) == eur("750.00")

    removed = world.service.unallocate(payment_id, invoice_id, "key:staff")
    assert removed.unapplied == eur("1000.00") and world.balance(invoice_id) == eur("1000.00")


def test_staff_allocation_that_keeps_conflicting_is_raised_not_dropped() -> None:
    world, invoice_id = one_invoice()
    world.service.receive(event(references=()))
    world.ledger.conflicts = 8
    with pytest.raises(ConflictRetriesExhausted, match="kept changing"):
        world.service.allocate(world.payment().payment_id, invoice_id, None, "key:staff")
    assert world.balance(invoice_id) == eur("1000.00") and world.metrics.counts == {"ConflictRetriesExhausted": 1}

