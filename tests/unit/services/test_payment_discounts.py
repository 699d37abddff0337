"""Early-payment discounts honoured by PaymentService, the same for webhooks, bank statement lines and manual
payments: booked (audited) when paid in time, a task when taken late, taken back with a refund, chargeback or
removal of the payment that earned it."""

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import event as observe
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.customer import Customer
from chalicelib.domain.invoice import Document, DocumentKind, Invoice, InvoiceStatus
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentEvent, PaymentKind, payment_id_for
from chalicelib.domain.terms import PaymentTerms
from chalicelib.services.payments import PaymentService, discount_task
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
                provider: str = "stripe", initiated_on: date | None = None) -> str:
        event = PaymentEvent(provider=provider, event_id=f"evt_{kind.value}_{ref}", payment_ref=ref, kind=kind,
                             amount=eur(amount), occurred_at=at, raw_type="test", references=references,
                             customer_hint=hint, original_ref="ch_1" if kind is not PaymentKind.PAYMENT else None,
                             initiated_on=initiated_on)
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
    # The events stream, should this process have stopped before opening it, opens the very same task.
    [late_event] = [e for e in world.ledger.events if e.type == "invoice.discount_taken_late"]
    assert discount_task(late_event) == task


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


def test_cash_received_late_applied_by_hand_opens_the_discount_taken_late_task() -> None:
    world = World()
    world.receive("980.00", LATE, references=("unknown",))
    world.service.allocate(payment_id_for("stripe", PaymentKind.PAYMENT, "ch_1"), "INV-1", None, "user:ann")
    assert world.inv().balance == eur("20.00") and world.inv().discounted.is_zero
    [task] = world.tasks.tasks.values()
    assert task.kind == "discount_taken_late" and task.created_by == "user:ann"


def test_a_refund_of_the_payment_that_earned_the_discount_takes_the_discount_back() -> None:
    world = World()
    world.receive("980.00")
    assert world.receive("100.00", kind=PaymentKind.REFUND, ref="re_1") == "reversed"
    reopened = world.inv()
    assert reopened.discounted.is_zero and reopened.balance == eur("120.00")
    assert reopened.status is InvoiceStatus.PARTIALLY_PAID
    [reversed_] = world.events("invoice.discount_reversed")
    assert reversed_["amount"] == "20.00" and reversed_["reason"] == "refund"


def test_a_refund_of_an_earlier_part_payment_takes_the_discount_back_too() -> None:
    world = World()
    world.receive("500.00", datetime(2026, 11, 3, tzinfo=UTC), ref="ch_1")
    world.receive("480.00", ref="ch_2")
    assert world.inv().discounted == eur("20.00") and world.inv().status is InvoiceStatus.PAID
    world.receive("100.00", kind=PaymentKind.REFUND, ref="re_1")  # of ch_1, the part payment
    assert world.inv().discounted.is_zero and world.inv().balance == eur("120.00")


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


def test_several_invoices_paid_by_reference_at_their_discounted_amounts_after_the_window_each_keep_their_difference(
        ) -> None:
    """The same payment received late: each invoice gets its discounted amount, its own difference stays open and
    each has its own "discount taken late" task, as if paid alone (not the first paid in full and the whole
    shortfall on the second)."""
    world = World(invoice(), invoice("INV-2", "500.00"))
    assert world.receive("1470.00", LATE, references=("INV-1", "INV-2")) == "applied"
    assert [(world.inv(i).balance, world.inv(i).status) for i in ("INV-1", "INV-2")] == [
        (eur("20.00"), InvoiceStatus.PARTIALLY_PAID), (eur("10.00"), InvoiceStatus.PARTIALLY_PAID)]
    assert all(world.inv(i).discounted.is_zero for i in ("INV-1", "INV-2"))
    [recorded] = world.events("payment.payment_recorded")
    assert [(a["number"], a["amount"]) for a in recorded["allocations"]] == [  # type: ignore[union-attr]
        ("INV-1", "980.00"), ("INV-2", "490.00")]
    tasks = sorted(world.tasks.tasks.values(), key=lambda t: t.invoice_id or "")
    assert [(t.kind, t.invoice_id, t.detail["amount"]) for t in tasks] == [
        ("discount_taken_late", "INV-1", "20.00"), ("discount_taken_late", "INV-2", "10.00")]


def test_a_payment_initiated_in_time_but_received_late_earns_the_discount_its_cash_day_stays_the_day_received(
        ) -> None:
    world = World()
    assert world.receive("980.00", LATE, initiated_on=IN_TIME.date()) == "applied"
    paid = world.inv()
    assert paid.status is InvoiceStatus.PAID and paid.discounted == eur("20.00")
    assert paid.effective_on == LATE.date()  # analytics and the settlement log: the day the money came
    [granted] = world.events("invoice.discount_granted")
    assert (granted["received_on"], granted["initiated_on"]) == ("2026-11-12", "2026-11-11")
    [recorded] = world.events("payment.payment_recorded")
    assert recorded["initiated_on"] == "2026-11-11"
    payment = world.payments.get(payment_id_for("stripe", PaymentKind.PAYMENT, "ch_1"))
    assert payment is not None and payment.initiated_on == IN_TIME.date()
    assert world.tasks.tasks == {}


def test_initiated_after_the_window_the_discount_is_taken_late_and_the_task_says_when_it_was_initiated() -> None:
    world = World()
    world.receive("980.00", LATE + timedelta(days=2), initiated_on=LATE.date())
    assert world.inv().balance == eur("20.00")
    [task] = world.tasks.tasks.values()
    assert task.detail["initiated_on"] == "2026-11-12" and "initiated on 2026-11-12" in task.title


def test_an_initiated_day_later_than_received_counts_as_received() -> None:
    world = World()
    world.receive("980.00", IN_TIME, initiated_on=LATE.date())
    assert world.inv().discounted == eur("20.00")


def test_cash_initiated_in_time_left_unapplied_then_applied_by_hand_still_earns_the_discount() -> None:
    world = World(invoice(), invoice("INV-2", "500.00"))
    world.receive("980.00", LATE, references=("unknown",), initiated_on=IN_TIME.date())
    world.service.allocate(payment_id_for("stripe", PaymentKind.PAYMENT, "ch_1"), "INV-1", None, "user:ann")
    assert world.inv().status is InvoiceStatus.PAID and world.inv().discounted == eur("20.00")
    assert world.tasks.tasks == {}


def test_several_invoices_initiated_in_time_and_received_late_are_all_settled_with_their_discounts() -> None:
    world = World(invoice(), invoice("INV-2", "500.00"))
    world.receive("1470.00", LATE, references=("INV-1", "INV-2"), initiated_on=IN_TIME.date())
    assert [world.inv(i).discounted for i in ("INV-1", "INV-2")] == [eur("20.00"), eur("10.00")]
    assert all(world.inv(i).status is InvoiceStatus.PAID for i in ("INV-1", "INV-2")) and world.tasks.tasks == {}


# ---- property: whatever money arrives and goes back, the ledger holds ----------------------------------------


def two_percent(minor: int) -> int:
    return int((Decimal(minor) * Decimal("0.02")).quantize(Decimal(1), ROUND_HALF_UP))


operations = st.lists(st.tuples(
    st.sampled_from(["pay", "pay_discounted", "refund", "chargeback"]),
    st.integers(min_value=0, max_value=20),  # day after issue the money was received
    st.integers(min_value=1, max_value=150_000),  # minor units (a "pay"), or per mille of the payment (a reversal)
), min_size=1, max_size=8)


@settings(max_examples=120, deadline=None)
@given(totals=st.lists(st.integers(min_value=100, max_value=150_000), min_size=1, max_size=3), ops=operations)
def test_any_sequence_of_payments_and_reversals_keeps_the_ledger_and_the_discount_rule(
        totals: list[int], ops: list[tuple[str, int, int]]) -> None:
    invoices = [invoice(f"INV-{n}", str(Money.from_minor(t, "EUR").amount)) for n, t in enumerate(totals)]
    world = World(*invoices)
    numbers = tuple(i.number for i in invoices)
    paid_refs: list[str] = []
    booked = reversed_ = False
    for n, (op, day, value) in enumerate(ops):
        at = datetime(2026, 11, 1, 12, 0, tzinfo=UTC) + timedelta(days=day)
        if op in ("pay", "pay_discounted"):
            open_ = [world.inv(i.invoice_id) for i in invoices]
            amount = Money.from_minor(value, "EUR")
            if op == "pay_discounted":  # what the customer would send for all of them less 2 %
                amount = sum((Money.from_minor(i.balance.minor - two_percent(i.total.minor), "EUR")
                              for i in open_ if i.balance.minor > two_percent(i.total.minor)), Money.zero("EUR"))
                if amount.is_zero:
                    continue
            world.receive(str(amount.amount), at, ref=f"p{n}", references=numbers)
            paid_refs.append(f"p{n}")
        elif paid_refs:
            ref = paid_refs[value % len(paid_refs)]
            original = world.payments.get(payment_id_for("stripe", PaymentKind.PAYMENT, ref))
            assert original is not None
            held = original.allocated + original.unapplied
            if held.is_zero:
                continue
            kind = PaymentKind.REFUND if op == "refund" else PaymentKind.CHARGEBACK
            amount = Money.from_minor(max(1, held.minor * (value % 1000 + 1) // 1000), "EUR")
            event = PaymentEvent(provider="stripe", event_id=f"evt_r{n}", payment_ref=f"r{n}", kind=kind,
                                 amount=amount, occurred_at=at, raw_type="test", original_ref=original.payment_ref)
            world.service.receive(event)
        for inv in world.ledger.invoices.values():
            assert inv.total + inv.charged == inv.balance + inv.paid + inv.credited + inv.written_off + inv.discounted
            assert not inv.balance.is_negative
            booked = booked or inv.discount_granted is not None
            if inv.discount_granted is not None:
                # Booked only with the payment that earned it, still applied to the invoice in full.
                payment = world.payments.get(inv.discount_payment_id or "")
                assert payment is not None and payment.occurred_at.date() <= ISSUED + timedelta(days=10)
                assert any(a.invoice_id == inv.invoice_id for a in payment.allocations)
                assert inv.balance.is_zero and inv.status is InvoiceStatus.PAID
                assert inv.discounted.minor <= two_percent(inv.total.minor)
    for record in world.payments.records.values():
        assert record.allocated + record.unapplied + record.reversed_amount == record.amount
    reversed_ = any(e.type == "invoice.discount_reversed" for e in world.ledger.events)
    observe(f"discount booked: {booked}, a discount reversed: {reversed_}")


@settings(max_examples=120, deadline=None)
@given(parts=st.lists(st.tuples(st.integers(min_value=100, max_value=150_000),
                                st.sampled_from(["discounted", "discounted", "full", "part", "none"]),
                                st.integers(1, 99)),
                      min_size=1, max_size=3),
       received=st.integers(0, 20), initiated=st.none() | st.integers(0, 25),
       extra=st.just(0) | st.integers(0, 3_000))
def test_money_quoting_several_invoices_is_conserved_for_any_split_and_any_day(
        parts: list[tuple[int, str, int]], received: int, initiated: int | None, extra: int) -> None:
    """One payment quoting every invoice, for any split over them (discounted amount, in full, in part, nothing),
    received on any day and initiated on any day or not known: what is applied plus what is left over is what was
    received, each invoice's ledger holds, the cash day is the day received, a discount is booked only when the judged
    day is in the window, and a payment of exactly the discounted amounts settles each (in time) or leaves each its
    own difference and task (late)."""
    invoices = [invoice(f"INV-{n}", str(Money.from_minor(total, "EUR").amount))
                for n, (total, _, _) in enumerate(parts)]
    world = World(*invoices)
    received_at = datetime(2026, 11, 1, 12, 0, tzinfo=UTC) + timedelta(days=received)
    initiated_on = None if initiated is None else ISSUED + timedelta(days=initiated)
    judged = received_at.date() if initiated_on is None else min(initiated_on, received_at.date())
    last_day = ISSUED + timedelta(days=10)
    split = [i.balance.minor - two_percent(i.total.minor) if how == "discounted" else i.balance.minor
             if how == "full" else i.balance.minor * share // 100 if how == "part" else 0
             for i, (_, how, share) in zip(invoices, parts, strict=True)]
    amount = Money.from_minor(sum(split) + extra, "EUR")
    if amount.is_zero:
        return
    world.receive(str(amount.amount), received_at, references=tuple(i.number for i in invoices),
                  initiated_on=initiated_on)
    record = world.payments.get(payment_id_for("stripe", PaymentKind.PAYMENT, "ch_1"))
    assert record is not None
    assert record.allocated + record.unapplied == amount
    applied = sum((world.inv(i.invoice_id).paid - i.paid for i in invoices), Money.zero("EUR"))
    assert applied == record.allocated
    for before in invoices:
        after = world.inv(before.invoice_id)
        assert after.total + after.charged == after.balance + after.paid + after.credited + after.written_off \
            + after.discounted
        if after.paid != before.paid:
            assert after.effective_on == received_at.date()
        if after.discount_granted is not None:
            assert judged <= last_day and after.balance.is_zero
    exact = extra == 0 and all(how == "discounted" for _, how, _ in parts)
    if exact:
        for before, share in zip(invoices, split, strict=True):
            after = world.inv(before.invoice_id)
            assert after.paid == Money.from_minor(share, "EUR")
            if judged <= last_day:
                assert after.discounted == before.balance - after.paid and after.balance.is_zero
            else:
                assert after.balance == before.balance - after.paid and after.discounted.is_zero
        late = {t.invoice_id for t in world.tasks.tasks.values() if t.kind == "discount_taken_late"}
        assert late == (set() if judged <= last_day else {i.invoice_id for i in invoices})
    observe(f"judged in time: {judged <= last_day}, initiated known: {initiated_on is not None}, exact: {exact}")
