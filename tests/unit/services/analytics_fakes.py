"""The analytics projection in memory, with the adapter's semantics: a change counts once (a marker per invoice
holds the last version counted), period sums per scope, open balances per customer. Implements the reports'
AnalyticsReader, OpenBalances and InvoiceProjection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from chalicelib.domain.analytics.aging import BUCKETS, aging, overdue
from chalicelib.domain.analytics.ledger import (
    Aggregates,
    Totals,
    currency_scope,
    customer_scope,
    movements,
    parse_key,
    period_keys,
)
from chalicelib.domain.money import Money
from chalicelib.services.ports import CustomerBalance, InvoiceChange


def _version(change: InvoiceChange) -> int:
    if change.after is not None:
        return change.after.version
    assert change.before is not None
    return change.before.version + 1


class InMemoryAnalytics:
    def __init__(self, today: date) -> None:
        self.today = today
        self.periods: dict[str, dict[str, Totals]] = {}
        self.open: dict[tuple[str, str], dict[date, int]] = {}
        self.counted: dict[str, int] = {}

    def apply(self, changes: Sequence[InvoiceChange]) -> None:
        for change in changes:
            subject = change.after or change.before
            assert subject is not None
            if self.counted.get(subject.invoice_id, -1) >= _version(change):
                continue  # a redelivery
            self.counted[subject.invoice_id] = _version(change)
            for m in movements(change.before, change.after, change.effective_on):
                for scope in (currency_scope(m.currency), customer_scope(m.customer_id, m.currency)):
                    for key in period_keys(m.on):
                        self.periods.setdefault(scope, {}).setdefault(key, Totals()).add(m.totals)
                due = self.open.setdefault((m.customer_id, m.currency), {})
                for day, amount in m.totals.by_due.items():
                    due[day] = due.get(day, 0) + amount

    def currencies(self) -> list[str]:
        return sorted({currency for _, currency in self.open})

    def aggregates(self, scope: str, days: Iterable[date]) -> Aggregates:
        items = self.periods.get(scope, {})
        return Aggregates({parse_key(k)[1]: t for k, t in items.items() if k.startswith("Y#")},
                          {k: t for k, t in items.items() if not k.startswith("Y#")})

    def _balance(self, customer_id: str, currency: str, by_due: Mapping[date, int], as_of: date) -> CustomerBalance:
        buckets = aging(by_due, as_of)
        return CustomerBalance(customer_id, currency, Money.from_minor(sum(by_due.values()), currency),
                               Money.from_minor(overdue(by_due, as_of), currency),
                               {b: Money.from_minor(buckets[b], currency) for b in BUCKETS})

    def balance_at(self, customer_id: str, currency: str, as_of: date) -> CustomerBalance:
        by_due = self.aggregates(customer_scope(customer_id, currency), [as_of]).at(as_of).by_due
        return self._balance(customer_id, currency, by_due, as_of)

    def customer_balances(self, as_of: date, currency: str | None = None) -> list[CustomerBalance]:
        found = [self.balance_at(c, cur, as_of) for c, cur in self.open if currency in (None, cur)]
        return sorted([b for b in found if b.balance.amount > 0],
                      key=lambda b: (-b.balance.amount, b.currency, b.customer_id))

    def balances_of(self, customer_ids: Sequence[str], as_of: date) -> list[CustomerBalance]:
        return [b for b in self.customer_balances(as_of) if b.customer_id in customer_ids]

    def open_page(self, currency: str, limit: int, start: Mapping[str, Any] | None
                  ) -> tuple[list[CustomerBalance], dict[str, Any] | None, date]:
        everyone = sorted((self._balance(c, cur, d, self.today) for (c, cur), d in self.open.items()
                           if cur == currency and sum(d.values()) > 0),
                          key=lambda b: (-b.balance.amount, b.customer_id))
        offset = int(start["o"]["N"]) if start else 0
        rest = everyone[offset:offset + limit]
        more = offset + limit < len(everyone)
        return rest, ({"o": {"N": str(offset + limit)}} if more else None), self.today
