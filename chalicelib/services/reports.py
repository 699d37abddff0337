"""Reports: aging and the collection metrics, as of any day, from the analytics projection's period sums.

A report reads a bounded number of items whatever the ledger's size: metrics, the year items and at most ~100 month
and day items per currency; aging today, one item per customer with an open balance (the open_balances index);
aging as of a past day, a prefix sum per customer (about two requests each)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.analytics.aging import BUCKETS, aging
from chalicelib.domain.analytics.ledger import Aggregates, currency_scope
from chalicelib.domain.analytics.metrics import Metrics, PeriodFigures, metrics, needed_days
from chalicelib.domain.errors import InvalidDocument
from chalicelib.domain.money import Money, normalise_currency
from chalicelib.services.ports import CustomerBalance, StoredCustomer, utc_now

MAX_METRICS_DAYS = 3 * 366  # a longer period would read more month items than the budget allows


class AnalyticsReader(Protocol):
    def currencies(self) -> list[str]: ...
    def aggregates(self, scope: str, days: Iterable[date]) -> Aggregates: ...
    def open_page(self, currency: str, limit: int, start: Mapping[str, Any] | None
                  ) -> tuple[list[CustomerBalance], dict[str, Any] | None, date]: ...
    def customer_balances(self, as_of: date, currency: str | None = None) -> list[CustomerBalance]: ...
    def balance_at(self, customer_id: str, currency: str, as_of: date) -> CustomerBalance: ...


class CustomerNames(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...


def _money(minor: int, currency: str) -> str:
    return Money.from_minor(minor, currency).to_api()


def _figure(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


class ReportsService:
    def __init__(self, analytics: AnalyticsReader, customers: CustomerNames,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.analytics = analytics
        self.customers = customers
        self.clock = clock or utc_now

    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

    def _as_of(self, as_of: date | None) -> date:
        today = self.today()
        if as_of is None:
            return today
        if as_of > today:
            raise InvalidDocument(f"as_of {as_of} is in the future (today is {today})", field="as_of")
        return as_of

    def _currencies(self, currency: str | None) -> list[str]:
        if currency is None:
            return self.analytics.currencies()
        return [normalise_currency(currency)]

    # ---- aging

    def aging(self, as_of: date | None, currency: str | None, customer_id: str | None = None, limit: int = 50,
              start: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One block per currency (with `currency`: that block alone, paged by `start` / `next_page`)."""
        day = self._as_of(as_of)
        blocks = [self._aging_block(day, code, customer_id, limit, start if currency else None)
                  for code in self._currencies(currency)]
        if currency is not None:
            return blocks[0]
        for block in blocks:
            block.pop("next_page")
        return {"as_of": day.isoformat(), "currencies": blocks}

    def _aging_block(self, day: date, currency: str, customer_id: str | None, limit: int,
                     start: Mapping[str, Any] | None) -> dict[str, Any]:
        next_page: dict[str, Any] | None = None
        if customer_id is not None:
            found = self.analytics.balance_at(customer_id, currency, day)
            balances = [found] if not found.balance.is_zero else []
            totals = {name: found.buckets[name].minor for name in BUCKETS}
        else:
            totals = aging(self.analytics.aggregates(currency_scope(currency), [day]).at(day).by_due, day)
            if day >= self.today():
                balances, last, _ = self.analytics.open_page(currency, limit, start.get("k") if start else None)
                next_page = {"p": 0, "k": last} if last else None
            else:
                everyone = self.analytics.customer_balances(day, currency)
                offset = int(start["k"]["o"]["N"]) if start and start.get("k") else 0
                balances = everyone[offset:offset + limit]
                if offset + limit < len(everyone):
                    next_page = {"p": 0, "k": {"o": {"N": str(offset + limit)}}}
        names = self._names(b.customer_id for b in balances)
        return {
            "as_of": day.isoformat(), "currency": currency,
            "buckets": {name: _money(totals[name], currency) for name in BUCKETS},
            "total": _money(sum(totals.values()), currency),
            "customers": [{"customer_id": b.customer_id, "name": names.get(b.customer_id),
                           "buckets": {name: b.buckets[name].to_api() for name in BUCKETS},
                           "total": b.balance.to_api()} for b in balances],
            "next_page": next_page,
        }

    def aging_rows(self, as_of: date | None, currency: str | None, customer_id: str | None = None
                   ) -> tuple[list[str], list[list[str]]]:
        """The aging report as a table (every customer, then each currency's total)."""
        day = self._as_of(as_of)
        header = ["as_of", "currency", "customer_id", "name", *BUCKETS, "total"]
        rows: list[list[str]] = []
        for code in self._currencies(currency):
            block = self._aging_block(day, code, customer_id, 10**9, None) if customer_id else None
            if block is None:
                everyone = self.analytics.customer_balances(day, code)
                names = self._names(b.customer_id for b in everyone)
                for b in everyone:
                    rows.append([day.isoformat(), code, b.customer_id, names.get(b.customer_id) or "",
                                 *[b.buckets[name].to_api() for name in BUCKETS], b.balance.to_api()])
                totals = aging(self.analytics.aggregates(currency_scope(code), [day]).at(day).by_due, day)
                rows.append([day.isoformat(), code, "", "Total", *[_money(totals[n], code) for n in BUCKETS],
                             _money(sum(totals.values()), code)])
            else:
                for c in block["customers"]:
                    rows.append([day.isoformat(), code, c["customer_id"], c["name"] or "",
                                 *[c["buckets"][n] for n in BUCKETS], c["total"]])
        return header, rows

    def _names(self, customer_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(customer_ids))
        if not ids:
            return {}
        return {cid: stored.customer.name for cid, stored in self.customers.get_customers(ids).items()}

    # ---- metrics

    def metrics(self, start: date | None, end: date | None, currency: str | None) -> dict[str, Any]:
        last = self._as_of(end)
        if start is not None:
            first = start
        else:  # twelve months: the eleven before `to`'s month, and that month up to `to`
            year, month = (last.year, last.month - 11) if last.month > 11 else (last.year - 1, last.month + 1)
            first = date(year, month, 1)
        if first > last:
            raise InvalidDocument(f"from {first} is after to {last}", field="from")
        if (last - first).days + 1 > MAX_METRICS_DAYS:
            raise InvalidDocument(f"a metrics period is at most {MAX_METRICS_DAYS} days", field="from")
        code = self._metrics_currency(currency)
        aggregates = self.analytics.aggregates(currency_scope(code), needed_days(first, last))
        return metrics_view(metrics(aggregates, first, last), code)

    def _metrics_currency(self, currency: str | None) -> str:
        if currency is not None:
            return normalise_currency(currency)
        known = self.analytics.currencies()
        if len(known) == 1:
            return known[0]
        raise InvalidDocument("name the currency (currency=EUR): the ledger has "
                              f"{', '.join(known) if known else 'no invoices yet'}", field="currency")


def _period_view(p: PeriodFigures, currency: str) -> dict[str, Any]:
    return {"sales": _money(p.sales, currency), "collected": _money(p.collected, currency),
            "ending_ar": _money(p.ending_ar, currency), "ending_current_ar": _money(p.ending_current_ar, currency),
            "dso": _figure(p.dso), "best_possible_dso": _figure(p.best_possible_dso), "add": _figure(p.add),
            "cei": _figure(p.cei)}


def metrics_view(m: Metrics, currency: str) -> dict[str, Any]:
    whole = m.period
    return {
        "from": whole.start.isoformat(), "to": whole.end.isoformat(), "currency": currency,
        **_period_view(whole, currency),
        "dso_countback": _figure(m.dso_countback),
        "bad_debt_ratio": _figure(m.bad_debt_ratio), "average_days_late": _figure(m.average_days_late),
        "on_time_rate": _figure(m.on_time_rate), "promise_kept_rate": _figure(m.promise_kept_rate),
        "days_deduction_outstanding": _figure(m.days_deduction_outstanding),
        "months": [{"month": p.start.strftime("%Y-%m"), "from": p.start.isoformat(), "to": p.end.isoformat(),
                    **_period_view(p, currency)} for p in m.months],
    }


def balances_view(balances: Sequence[CustomerBalance]) -> list[dict[str, Any]]:
    return [{"customer_id": b.customer_id, "currency": b.currency, "balance": b.balance.to_api(),
             "overdue": b.overdue.to_api(), "buckets": {k: v.to_api() for k, v in b.buckets.items()}}
            for b in balances]
