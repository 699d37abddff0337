"""The settlement log: a projection of the invoices table's changes that keeps, per customer, one record per settled
invoice (settled_on = the effective date of the change that brought its balance to zero), so a customer's payment
behaviour, its risk and the payment prediction read its latest settlements in one Query, never the ledger.

An invoice settles when its status becomes `paid` (written off and void are not payments: they leave no record);
a refund or chargeback that reopens it removes the record. An invoice imported already paid leaves none either: when
it was paid is unknown, and its import date would read as a long delay. Whether it was ever disputed or promised,
and whether a promise on it was broken, is remembered on a per-invoice pointer as the changes pass, and copied onto
the record.
Writes are guarded by the invoice version on the pointer: a redelivered or older change than the one applied
changes nothing (it may only add a flag), so stream retries and out-of-order records are safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from chalicelib.domain.analytics.behaviour import Behaviour, Risk, behaviour, risk
from chalicelib.domain.analytics.prediction import HISTORY_LIMIT
from chalicelib.domain.invoice import Invoice, InvoiceStatus
from chalicelib.services.ports import (
    InvoiceChange,
    Pointer,
    SettlementEntry,
    SettlementStore,
    VersionConflict,
    conflict_retries,
)


def flags_of(invoice: Invoice | None) -> tuple[bool, bool, bool]:
    """(disputed, promised, promise broken) as the invoice shows them now."""
    if invoice is None:
        return False, False, False
    disputed = invoice.disputed or invoice.dispute_id is not None or invoice.disputed_amount is not None
    return disputed, invoice.promised_until is not None, invoice.broken_promise is not None


def is_settled(invoice: Invoice | None) -> bool:
    return invoice is not None and invoice.status is InvoiceStatus.PAID


class SettlementLog:
    """The projection (`apply`, called by the invoices stream handler) and its reads."""

    def __init__(self, store: SettlementStore) -> None:
        self.store = store

    def apply(self, changes: Sequence[InvoiceChange]) -> None:
        for change in changes:
            self._apply(change)

    def _apply(self, change: InvoiceChange) -> None:
        before, after = change.before, change.after
        latest = after or before
        if latest is None:
            return
        was, now = flags_of(before), flags_of(after)
        settles, was_settled = is_settled(after), is_settled(before)
        new_flag = any(n and not w for n, w in zip(now, was, strict=True))
        if settles == was_settled and not new_flag:
            return  # the common change (a reminder, a partial payment): nothing for the log, and nothing read
        if before is None and settles:
            return  # imported already paid: when it was paid is unknown, and a guess would teach the model wrong
        version = after.version if after is not None else latest.version + 1
        seen = tuple(a or b for a, b in zip(now, was, strict=True))
        for _ in conflict_retries(f"settlement log of {latest.invoice_id}"):
            old = self.store.pointer(latest.invoice_id)
            flags = tuple(a or b for a, b in zip(seen, old.flags if old else (False, False, False), strict=True))
            if old is not None and old.version >= version:
                if flags == old.flags:
                    return  # redelivered, or older than what was applied
                settled_on = old.settled_on
                version = old.version
            elif settles and was_settled and old is not None:
                settled_on = old.settled_on  # still settled: the date stays
            else:
                settled_on = change.effective_on if settles else None
            disputed, promised, broken = flags
            new = Pointer(latest.invoice_id, latest.customer_id, version, settled_on, disputed, promised, broken,
                          rev=(old.rev + 1) if old else 1)
            entry = None if settled_on is None else SettlementEntry(
                customer_id=latest.customer_id, invoice_id=latest.invoice_id, number=latest.number,
                currency=latest.currency, issue_date=latest.issue_date, due_date=latest.due_date,
                amount_minor=latest.total.minor, settled_on=settled_on, disputed=new.disputed,
                promised=new.promised or new.promise_broken, promise_broken=new.promise_broken)
            try:
                self.store.write(old, new, entry)
                return
            except VersionConflict:
                continue

    def latest(self, customer_id: str, as_of: date, limit: int = HISTORY_LIMIT) -> list[SettlementEntry]:
        return self.store.latest(customer_id, as_of, limit)

    def profile(self, customer_id: str, as_of: date) -> tuple[Behaviour, Risk]:
        """The customer's payment behaviour and risk as of the end of `as_of`: one Query of its latest settlements."""
        records = [e.record() for e in self.store.latest(customer_id, as_of, HISTORY_LIMIT)]
        return behaviour(records, as_of), risk(records, as_of)

    def risk_of(self, customer_id: str, as_of: date) -> Risk:
        return self.profile(customer_id, as_of)[1]

