"""CollectionsService with in-memory fakes: who may write off how much, retries on conflicts, audit events."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chalicelib.domain.collections import Outcome
from chalicelib.domain.errors import DisputeOpen, DisputeResolved, IdempotencyKeyReused, NotFound
from chalicelib.domain.invoice import Document, DocumentKind, Invoice, InvoiceStatus
from chalicelib.domain.money import Money
from chalicelib.services.collections import CollectionsService, NeedsApproval
from chalicelib.services.ports import ConflictRetriesExhausted, Role, VersionConflict
from tests.unit.services.fakes import Metrics

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def make_invoice(total="1000.00", currency="EUR"):
    document = Document(kind=DocumentKind.INVOICE, number="INV-1", customer_id="acme", issue_date=date(2026, 11, 1),
                        due_date=date(2026, 12, 1), total=Money.of(total, currency),
                        paid_in_source=Money.zero(currency))
    return replace(Invoice.from_document(document), version=1)


class Store:
    """Invoices and disputes with version checks, like the DynamoDB adapters; `conflicts` fail the next saves."""

    def __init__(self, *invoices):
        self.invoices = {i.invoice_id: i for i in invoices}
        self.disputes = {}
        self.events = []
        self.conflicts = 0

    def get_invoices(self, ids):
        return {i: self.invoices[i] for i in ids if i in self.invoices}

    def _check(self, invoice):
        if self.conflicts:
            self.conflicts -= 1
            raise VersionConflict(invoice.invoice_id)
        if self.invoices[invoice.invoice_id].version != invoice.version:
            raise VersionConflict(invoice.invoice_id)

    def save_invoice(self, invoice, events, now):
        self._check(invoice)
        saved = replace(invoice, version=invoice.version + 1)
        self.invoices[invoice.invoice_id] = saved
        self.events.extend(events)
        return saved

    def get(self, dispute_id):
        return self.disputes.get(dispute_id)

    def save(self, dispute, invoice, events, now):
        current = self.disputes.get(dispute.dispute_id)
        if (current.version if current else 0) != dispute.version:
            raise VersionConflict(dispute.dispute_id)
        saved_invoice = self.save_invoice(invoice, events, now)
        saved = replace(dispute, version=dispute.version + 1)
        self.disputes[dispute.dispute_id] = saved
        return saved, saved_invoice

    def list(self, status, limit, cursor):
        return [d for d in self.disputes.values() if d.status.value == status][:limit], None


def service(store, limit="500.00"):
    ids = iter(f"dsp_{n:024x}" for n in range(1, 100))
    return CollectionsService(store, store, write_off_collector_limit=Decimal(limit), clock=lambda: NOW,
                              new_id=lambda: next(ids))


@pytest.mark.parametrize(("role", "amount", "allowed"), [
    (Role.COLLECTOR, "500.00", True), (Role.COLLECTOR, "500.01", False), (Role.ADMIN, "1000.00", True),
    (Role.VIEWER, "1.00", True),  # the route needs a collector; the service judges only the amount
])
def test_collectors_write_off_up_to_the_limit_admins_above(role, amount, allowed):
    store = Store(make_invoice())
    if not allowed:
        with pytest.raises(NeedsApproval, match="admin"):
            service(store).write_off("INV-1", Decimal(amount), "insolvent", "key:ann", role)
        assert store.events == []
        return
    written = service(store).write_off("INV-1", Decimal(amount), "insolvent", "key:ann", role)
    assert written.written_off == Money.of(amount, "EUR")
    [event] = store.events
    assert event.type == "invoice.written_off"
    assert event.data["reason"] == "insolvent" and event.data["actor"] == "key:ann" and event.data["bad_debt"]
    assert (written.status is InvoiceStatus.WRITTEN_OFF) == (amount == "1000.00")


def test_the_limit_is_in_the_invoices_own_currency_units():
    store = Store(make_invoice("100000", "JPY"))
    with pytest.raises(NeedsApproval):
        service(store).write_off("INV-1", Decimal("501"), "small", "key:ann", Role.COLLECTOR)
    assert service(store).write_off("INV-1", Decimal("500"), "small", "key:ann", Role.COLLECTOR).balance == \
        Money.of("99500", "JPY")


def test_the_collector_limit_is_per_invoice_not_per_request():
    store = Store(make_invoice())
    first = service(store).write_off("INV-1", Decimal("400.00"), "part", "key:ann", Role.COLLECTOR)
    assert first.collector_written_off == Money.of("400.00", "EUR")
    with pytest.raises(NeedsApproval, match=r"800\.00"):
        service(store).write_off("INV-1", Decimal("400.00"), "the rest, split", "key:bob", Role.COLLECTOR)
    assert len(store.events) == 1 and store.invoices["INV-1"].written_off == Money.of("400.00", "EUR")
    # Up to the limit in all is still the collector's to do; an admin's write-off does not use the collectors' room.
    service(store).write_off("INV-1", Decimal("100.00"), "rounding", "key:bob", Role.COLLECTOR)
    admin = service(store).write_off("INV-1", Decimal("300.00"), "approved", "key:boss", Role.ADMIN)
    assert admin.collector_written_off == Money.of("500.00", "EUR") and admin.written_off == Money.of("800.00", "EUR")
    assert store.events[-1].data["collector_written_off_total"] == "500.00"
    with pytest.raises(NeedsApproval):
        service(store).write_off("INV-1", Decimal("0.01"), "one cent more", "key:bob", Role.COLLECTOR)


def test_an_idempotency_key_is_one_request():
    store = Store(make_invoice())
    once = service(store).write_off("INV-1", Decimal("100.00"), "r", "key:ann", Role.COLLECTOR,
                                    idempotency_key="k1", request="fp-a")
    again = service(store).write_off("INV-1", Decimal("100.00"), "r", "key:ann", Role.COLLECTOR,
                                     idempotency_key="k1", request="fp-a")
    assert again == once and len(store.events) == 1
    with pytest.raises(IdempotencyKeyReused) as refused:
        service(store).write_off("INV-1", Decimal("200.00"), "r", "key:ann", Role.COLLECTOR, idempotency_key="k1",
                                 request="fp-b")
    assert refused.value.code == "idempotency_key_reused" and refused.value.field == "Idempotency-Key"
    assert store.invoices["INV-1"].written_off == Money.of("100.00", "EUR") and len(store.events) == 1


def test_a_replayed_write_off_is_answered_even_past_the_limit_it_used():
    store = Store(make_invoice())
    service(store).write_off("INV-1", Decimal("500.00"), "r", "key:ann", Role.COLLECTOR, idempotency_key="k1",
                             request="fp")
    replay = service(store).write_off("INV-1", Decimal("500.00"), "r", "key:ann", Role.COLLECTOR,
                                      idempotency_key="k1", request="fp")
    assert replay.written_off == Money.of("500.00", "EUR") and len(store.events) == 1


def test_a_conflict_is_retried_on_a_fresh_read():
    store = Store(make_invoice())
    store.conflicts = 2
    promised = service(store).promise("INV-1", date(2026, 12, 10), Decimal("400.00"), "key:ann")
    assert promised.promised_until == date(2026, 12, 10) and promised.version == 2
    [event] = store.events
    assert (event.type, event.data["amount"], event.data["promised_until"]) == ("invoice.promised", "400.00",
                                                                                "2026-12-10")


def test_a_change_that_keeps_conflicting_is_raised_and_counted_not_lost_in_silence():
    store, metrics = Store(make_invoice()), Metrics()
    store.conflicts = 5
    collections = CollectionsService(store, store, write_off_collector_limit=Decimal("500.00"), clock=lambda: NOW,
                                     metrics=metrics)
    with pytest.raises(ConflictRetriesExhausted, match="a write-off on invoice INV-1"):
        collections.write_off("INV-1", Decimal("100.00"), "bankrupt", "key:ann", Role.ADMIN)
    assert metrics.counts == {"ConflictRetriesExhausted": 1} and store.events == []
    assert store.invoices["INV-1"].written_off == Money.zero("EUR")


def test_disputes_open_once_and_resolve_once():
    store = Store(make_invoice())
    svc = service(store)
    opened = svc.open_dispute("INV-1", "pricing", Decimal("120.00"), "unit price", "key:ann")
    assert opened.invoice.disputed_amount == Money.of("120.00", "EUR")
    assert [e.type for e in store.events] == ["invoice.disputed"]
    with pytest.raises(DisputeOpen):
        svc.open_dispute("INV-1", "other", None, None, "key:ann")
    resolved = svc.resolve_dispute(opened.dispute.dispute_id, Outcome.ACCEPTED, None, None, "key:bob")
    assert resolved.invoice.balance == Money.of("880.00", "EUR")
    assert store.events[-1].data["credited"] == "120.00"
    with pytest.raises(DisputeResolved):
        svc.resolve_dispute(opened.dispute.dispute_id, Outcome.REJECTED, None, None, "key:bob")
    with pytest.raises(NotFound):
        svc.get_dispute("dsp_" + "f" * 24)
    with pytest.raises(NotFound):
        svc.open_dispute("INV-404", "pricing", None, None, "key:ann")
