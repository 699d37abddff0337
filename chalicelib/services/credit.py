"""Credit management: limits, utilisation and credit holds, each change audited (and so published as an event,
which is how an ERP learns to block new orders).

A hold is set by hand (`POST /customers/{id}/credit-hold`), by an escalation step of the dunning policy, or
automatically when the customer's open balance in the limit's currency goes over its credit limit (checked when
the limit changes and after every import that touches the customer). An automatic hold is never lifted
automatically: releasing a hold is a human decision."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.customer import Customer
from chalicelib.domain.errors import InvalidDocument, NotFound
from chalicelib.domain.money import Money
from chalicelib.services.ports import AuditEvent, Metrics, StoredCustomer, VersionConflict, conflict_retries, utc_now


class CustomerStore(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...
    def update_customer(self, stored: StoredCustomer, customer: Customer, events: Sequence[AuditEvent],
                        now: datetime) -> None: ...


class Balances(Protocol):
    def balance_summary(self, customer_id: str, today: date) -> Any: ...


@dataclass(frozen=True)
class Utilisation:
    limit: Money
    outstanding: Money

    @property
    def ratio(self) -> Decimal | None:
        """outstanding / limit; None for a zero limit (no credit at all)."""
        return None if self.limit.amount == 0 else self.outstanding.amount / self.limit.amount

    @property
    def over_limit(self) -> bool:
        return self.outstanding > self.limit

    def to_dict(self) -> dict[str, str | None]:
        ratio = self.ratio
        return {"credit_limit": self.limit.to_api(), "outstanding": self.outstanding.to_api(),
                "currency": self.limit.currency,
                "utilisation": None if ratio is None else str(ratio.quantize(Decimal("0.0001")))}


class CreditControl:
    def __init__(self, customers: CustomerStore, balances: Balances,
                 clock: Callable[[], datetime] | None = None, metrics: Metrics | None = None) -> None:
        self.customers = customers
        self.balances = balances
        self.clock = clock or utc_now
        self.metrics = metrics

    def utilisation(self, customer: Customer) -> Utilisation | None:
        limit = customer.credit_limit
        if limit is None:
            return None
        summary = self.balances.balance_summary(customer.customer_id, self.clock().date())
        return Utilisation(limit, summary.outstanding.get(limit.currency, Money.zero(limit.currency)))

    def set_hold(self, customer_id: str, held: bool, reason: str, actor: str) -> Customer:
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidDocument("a reason is required", field="reason")
        return self._change(customer_id, actor, lambda c: replace(c, credit_hold=held),
                            "customer.credit_hold_set" if held else "customer.credit_hold_released",
                            {"reason": reason.strip()[:500]})

    def set_limit(self, customer_id: str, limit: Money | None, actor: str) -> Customer:
        if limit is not None and limit.is_negative:
            raise InvalidDocument("a credit limit cannot be negative", field="amount")
        self._change(customer_id, actor, lambda c: replace(c, credit_limit=limit),
                                "customer.credit_limit_set", {"credit_limit": limit.to_api() if limit else None,
                                                              "currency": limit.currency if limit else None})
        self.check_limits([customer_id])
        return self.customers.get_customers([customer_id])[customer_id].customer

    def check_limits(self, customer_ids: Iterable[str]) -> list[str]:
        """Put customers over their credit limit on hold; returns the ones newly held."""
        held = []
        for customer_id, stored in self.customers.get_customers(customer_ids).items():
            customer = stored.customer
            usage = self.utilisation(customer)
            if usage is None or customer.credit_hold or not usage.over_limit:
                continue
            self._change(customer_id, "system:credit", lambda c: replace(c, credit_hold=True),
                         "customer.credit_hold_set", {"reason": "over the credit limit", **usage.to_dict()})
            held.append(customer_id)
        return held

    def _change(self, customer_id: str, actor: str, change: Callable[[Customer], Customer], event_type: str,
                data: dict[str, Any]) -> Customer:
        for _attempt in conflict_retries(f"changing customer {customer_id} ({event_type})", self.metrics):
            stored = self.customers.get_customers([customer_id]).get(customer_id)
            if stored is None:
                raise NotFound("customer", customer_id, field="customer_id")
            updated = change(stored.customer)
            if updated == stored.customer:
                return updated  # already so: nothing to write, nothing to announce
            now = self.clock()
            event = AuditEvent(f"customer#{customer_id}", event_type, actor, now, f"v{stored.version + 1}", data)
            try:
                self.customers.update_customer(stored, updated, [event], now)
                return updated
            except VersionConflict:
                continue
        raise AssertionError("unreachable: conflict_retries raises when it runs out")
