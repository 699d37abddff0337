"""The settlement log projection: a record when an invoice is paid, gone when a refund reopens it; flags remembered;
redelivered and older changes change nothing."""

from dataclasses import replace
from datetime import date

from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.services.ports import InvoiceChange, Pointer, SettlementEntry, VersionConflict
from chalicelib.services.settlement_log import SettlementLog


class MemorySettlements:
    def __init__(self) -> None:
        self.pointers: dict[str, Pointer] = {}
        self.entries: dict[str, SettlementEntry] = {}
        self.writes = 0
        self.reads = 0

    def pointer(self, invoice_id: str) -> Pointer | None:
        self.reads += 1
        return self.pointers.get(invoice_id)

    def write(self, old: Pointer | None, new: Pointer, entry: SettlementEntry | None) -> None:
        if self.pointers.get(new.invoice_id) != old:
            raise VersionConflict(new.invoice_id)
        self.writes += 1
        self.pointers[new.invoice_id] = new
        if entry is None:
            self.entries.pop(new.invoice_id, None)
        else:
            self.entries[new.invoice_id] = entry

    def latest(self, customer_id: str, as_of: date, limit: int) -> list[SettlementEntry]:
        own = [e for e in self.entries.values() if e.customer_id == customer_id and e.settled_on <= as_of]
        return sorted(own, key=lambda e: (e.settled_on, e.invoice_id), reverse=True)[:limit]

    def portfolio(self, as_of: date, limit: int) -> list[SettlementEntry]:
        every = [e for e in self.entries.values() if e.settled_on <= as_of]
        return sorted(every, key=lambda e: (e.settled_on, e.invoice_id), reverse=True)[:limit]


def invoice(version: int, paid: str = "0", **changes: object) -> Invoice:
    base = Invoice("INV-1", "INV-1", "C1", date(2026, 1, 1), date(2026, 1, 31), Money.of("100", "EUR"),
                   Money.of("0", "EUR"), Money.of(paid, "EUR"), Money.zero("EUR"), Money.zero("EUR"), version=version)
    return replace(base, **changes)  # type: ignore[arg-type]


def change(n: int, before: Invoice | None, after: Invoice | None, on: date) -> InvoiceChange:
    return InvoiceChange(str(n), before, after, on)


def test_paid_in_full_records_a_settlement_on_the_effective_date():
    store = MemorySettlements()
    log = SettlementLog(store)
    log.apply([change(1, None, invoice(1), date(2026, 1, 1)),
               change(2, invoice(1), invoice(2, "40"), date(2026, 2, 3)),
               change(3, invoice(2, "40"), invoice(3, "100"), date(2026, 2, 10))])
    entry = store.entries["INV-1"]
    assert (entry.settled_on, entry.customer_id, entry.amount_minor) == (date(2026, 2, 10), "C1", 100_00)
    assert entry.settled().days_late == 10
    assert store.reads == 1  # the insert and the partial payment needed nothing


def test_a_refund_that_reopens_it_removes_the_record_and_a_new_payment_records_the_new_date():
    store = MemorySettlements()
    log = SettlementLog(store)
    paid, refunded, again = invoice(3, "100"), invoice(4, "0"), invoice(5, "100")
    log.apply([change(1, invoice(2), paid, date(2026, 2, 10))])
    log.apply([change(2, paid, refunded, date(2026, 2, 12))])
    assert "INV-1" not in store.entries
    log.apply([change(3, refunded, again, date(2026, 3, 1))])
    assert store.entries["INV-1"].settled_on == date(2026, 3, 1)


def test_redelivered_and_older_changes_change_nothing():
    store = MemorySettlements()
    log = SettlementLog(store)
    paid, refunded = invoice(3, "100"), invoice(4, "0")
    batch = [change(1, invoice(2), paid, date(2026, 2, 10)), change(2, paid, refunded, date(2026, 2, 12))]
    log.apply(batch)
    writes = store.writes
    log.apply(batch)  # the whole batch again (a retried stream batch)
    log.apply(batch[:1])  # an old record out of order
    assert store.writes == writes
    assert "INV-1" not in store.entries


def test_disputes_and_promises_seen_on_the_way_are_kept_on_the_record():
    store = MemorySettlements()
    log = SettlementLog(store)
    open_ = invoice(1)
    disputed = invoice(2, disputed=True)
    resolved = invoice(3)
    promised = invoice(4, promised_until=date(2026, 2, 20))
    broken = invoice(5, promised_until=None, broken_promise=date(2026, 2, 20))
    paid = invoice(6, "100")
    log.apply([change(1, open_, disputed, date(2026, 2, 1)), change(2, disputed, resolved, date(2026, 2, 5)),
               change(3, resolved, promised, date(2026, 2, 6)), change(4, promised, broken, date(2026, 2, 21)),
               change(5, broken, paid, date(2026, 2, 25))])
    entry = store.entries["INV-1"]
    assert (entry.disputed, entry.promised, entry.promise_broken) == (True, True, True)


def test_written_off_is_not_a_payment():
    store = MemorySettlements()
    SettlementLog(store).apply([change(1, invoice(1), invoice(2, written_off=Money.of("100", "EUR")),
                                       date(2026, 3, 1))])
    assert store.entries == {}


def test_profile_reads_the_latest_settlements():
    store = MemorySettlements()
    log = SettlementLog(store)
    log.apply([change(1, invoice(1), invoice(2, "100"), date(2026, 2, 20))])
    behaviour, risk = log.profile("C1", date(2026, 3, 1))
    assert behaviour.invoices_settled == 1
    assert risk.reasons[0] == "paid its only settled invoice 20 days late"


def test_an_invoice_imported_already_paid_leaves_no_record():
    store = MemorySettlements()
    SettlementLog(store).apply([change(1, None, invoice(1, "100"), date(2026, 6, 1))])
    assert store.entries == {} and store.reads == 0


def test_paid_less_an_early_payment_discount_settles_on_the_day_the_money_came_and_a_refund_takes_it_back():
    store = MemorySettlements()
    log = SettlementLog(store)
    discounted = invoice(2, "98", discount_granted=Money.of("2", "EUR"), discount_payment_id="pay_1")
    log.apply([change(1, None, invoice(1), date(2026, 1, 1)),
               change(2, invoice(1), discounted, date(2026, 1, 9))])
    assert store.entries["INV-1"].settled_on == date(2026, 1, 9)
    log.apply([change(3, discounted, invoice(3), date(2026, 1, 20))])  # refunded: payment and discount gone
    assert "INV-1" not in store.entries
