"""Use cases: admins keep dunning policies; collectors adjust how a customer is chased.

Every change is written with an optimistic version check and leaves an audit event naming who made it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from time import monotonic
from typing import Any, Protocol

from chalicelib.domain.customer import (
    ADDRESS_FIELDS,
    INVOICE_DELIVERY,
    STATEMENT_DELIVERY,
    Address,
    Contact,
    Customer,
)
from chalicelib.domain.dunning.policy import DEFAULT_POLICY, Policy, PolicyError
from chalicelib.domain.errors import InvalidDocument, NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.services.ports import AuditEvent, StoredCustomer, VersionConflict, utc_now


class PolicyStore(Protocol):
    def get(self, policy_id: str) -> tuple[Policy, int] | None: ...
    def all(self) -> list[Policy]: ...
    def save(self, policy: Policy, version: int, event: AuditEvent, actor: str, now: datetime) -> None: ...


class CustomerEditor(Protocol):
    def get_stored(self, customer_id: str) -> StoredCustomer | None: ...
    def update_customer(self, stored: StoredCustomer, customer: Customer, events: Sequence[AuditEvent],
                        now: datetime) -> None: ...


CUSTOMER_FIELDS = {"policy_id", "dunning_paused", "contacts", "language", "timezone", "payment_receipts", "address",
                   "invoice_delivery", "statement_delivery"}


class InvoiceReviewer(Protocol):
    def open_invoices(self, customer_id: str) -> list[Invoice]: ...
    def save_invoice(self, invoice: Invoice, events: Sequence[AuditEvent], now: datetime) -> Invoice: ...


POLICY_CACHE_SECONDS = 60.0


class SettingsAdmin:
    def __init__(self, policies: PolicyStore, customers: CustomerEditor,
                 clock: Callable[[], datetime] | None = None, invoices: InvoiceReviewer | None = None) -> None:
        self.policies = policies
        self.customers = customers
        self.clock = clock or utc_now
        self.invoices = invoices
        self._cache: dict[str, tuple[float, Policy]] = {}
        self._all_cache: tuple[float, list[Policy]] | None = None

    def policy_cached(self, policy_id: str | None) -> Policy:
        """The customer's policy for the sweep (cached a minute); an unknown id falls back to the default."""
        key = policy_id or DEFAULT_POLICY.policy_id
        hit = self._cache.get(key)
        if hit is not None and monotonic() - hit[0] < POLICY_CACHE_SECONDS:
            return hit[1]
        try:
            policy = self.policy(key)
        except NotFound:
            policy = self.policy(DEFAULT_POLICY.policy_id)
        self._cache[key] = (monotonic(), policy)
        return policy

    def earliest_step_offset(self) -> int:
        """The earliest step of any policy, in days from the due date: when new invoices first need the sweep."""
        if self._all_cache is None or monotonic() - self._all_cache[0] >= POLICY_CACHE_SECONDS:
            self._all_cache = (monotonic(), self.all_policies())
        return min(p.steps[0].offset_days for p in self._all_cache[1])

    def policy(self, policy_id: str) -> Policy:
        stored = self.policies.get(policy_id)
        if stored is not None:
            return stored[0]
        if policy_id == DEFAULT_POLICY.policy_id:
            return DEFAULT_POLICY  # the shipped ladder, until an admin saves their own "default"
        raise NotFound("policy", policy_id, field="policy_id")

    def all_policies(self) -> list[Policy]:
        saved = {p.policy_id: p for p in self.policies.all()}
        saved.setdefault(DEFAULT_POLICY.policy_id, DEFAULT_POLICY)
        return [saved[k] for k in sorted(saved)]

    def put_policy(self, policy_id: str, document: Mapping[str, Any], actor: str) -> Policy:
        if document.get("policy_id", policy_id) != policy_id:
            raise PolicyError("policy_id", f"the body names {document.get('policy_id')!r}, the path {policy_id!r}")
        policy = Policy.from_dict({**document, "policy_id": policy_id})
        now = self.clock()
        stored = self.policies.get(policy_id)
        event = AuditEvent(f"policy#{policy_id}", "policy.saved", actor, now, str(stored[1] + 1 if stored else 1),
                           {"policy": policy.to_dict()})
        self.policies.save(policy, stored[1] if stored else 0, event, actor, now)
        self._cache.pop(policy_id, None)
        self._all_cache = None
        return policy

    def update_customer(self, customer_id: str, changes: Mapping[str, Any], actor: str) -> Customer:
        unknown = set(changes) - CUSTOMER_FIELDS
        if unknown:
            raise InvalidDocument(f"cannot change {', '.join(sorted(unknown))}; allowed: "
                                  f"{', '.join(sorted(CUSTOMER_FIELDS))}", field=sorted(unknown)[0])
        if not changes:
            raise InvalidDocument("nothing to change", field=None)
        stored = self.customers.get_stored(customer_id)
        if stored is None:
            raise NotFound("customer", customer_id, field="customer_id")
        fields: dict[str, Any] = {}
        if "policy_id" in changes:
            policy_id = changes["policy_id"]
            if policy_id is not None:
                if not isinstance(policy_id, str):
                    raise InvalidDocument("policy_id must be a string or null", field="policy_id")
                self.policy(policy_id)  # must exist
            fields["policy_id"] = policy_id
        for flag in ("dunning_paused", "payment_receipts"):
            if flag in changes:
                if not isinstance(changes[flag], bool):
                    raise InvalidDocument(f"{flag} must be true or false", field=flag)
                fields[flag] = changes[flag]
        for name in ("language", "timezone"):
            if name in changes:
                value = changes[name]
                if value is not None and not isinstance(value, str):
                    raise InvalidDocument(f"{name} must be a string or null", field=name)
                fields[name] = value
        if "contacts" in changes:
            fields["contacts"] = _contacts(changes["contacts"])
        if "invoice_delivery" in changes:
            if changes["invoice_delivery"] not in INVOICE_DELIVERY:
                raise InvalidDocument(f"invoice_delivery must be one of {', '.join(INVOICE_DELIVERY)}",
                                      field="invoice_delivery")
            fields["invoice_delivery"] = changes["invoice_delivery"]
        if "statement_delivery" in changes:
            if changes["statement_delivery"] not in STATEMENT_DELIVERY:
                raise InvalidDocument(f"statement_delivery must be one of {', '.join(STATEMENT_DELIVERY)}",
                                      field="statement_delivery")
            fields["statement_delivery"] = changes["statement_delivery"]
        if "address" in changes:
            # Staff's address is kept: a later file no longer changes it (null clears it, and keeps it cleared).
            fields["address"], fields["address_edited"] = _address(changes["address"]), True
        updated = replace(stored.customer, **fields)  # validates language, timezone, contacts
        before, after = stored.customer.to_dict(), updated.to_dict()
        diff = [{"field": k, "before": before[k], "after": after[k]} for k in sorted(after) if before[k] != after[k]]
        if not diff:
            return stored.customer
        now = self.clock()
        event = AuditEvent(f"customer#{customer_id}", "customer.updated", actor, now,
                           f"{stored.version + 1}", {"changes": diff})
        self.customers.update_customer(stored, updated, [event], now)
        changed = {d["field"] for d in diff}
        resumed = stored.customer.dunning_paused and not updated.dunning_paused
        if resumed or changed & {"policy_id", "timezone", "contacts"}:
            self._review_invoices(customer_id, now)
        return updated

    def _review_invoices(self, customer_id: str, now: datetime) -> None:
        """A new policy, time zone, contact or the end of a pause changes what dunning owes: decide again now."""
        if self.invoices is None:
            return
        for invoice in self.invoices.open_invoices(customer_id):
            if invoice.next_action_at is None or invoice.next_action_at > now:
                with suppress(VersionConflict):  # changed meanwhile: its writer scheduled it afresh
                    self.invoices.save_invoice(invoice.needs_review(now), [], now)


def _contacts(raw: Any) -> tuple[Contact, ...]:
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        raise InvalidDocument("contacts must be a list of objects", field="contacts")
    allowed = {"name", "email", "phone", "language", "timezone", "email_suppressed"}
    contacts = []
    for index, item in enumerate(raw):
        extra = set(item) - allowed
        if extra:
            raise InvalidDocument(f"contacts[{index}] has unknown fields {sorted(extra)}", field=f"contacts[{index}]")
        if not item.get("email") and not item.get("phone"):
            raise InvalidDocument(f"contacts[{index}] needs an email or a phone", field=f"contacts[{index}]")
        if any(v is not None and not isinstance(v, str) for k, v in item.items() if k != "email_suppressed"):
            raise InvalidDocument(f"contacts[{index}] values must be strings", field=f"contacts[{index}]")
        if not isinstance(item.get("email_suppressed", False), bool):
            raise InvalidDocument(f"contacts[{index}].email_suppressed must be true or false",
                                  field=f"contacts[{index}].email_suppressed")
        contacts.append(Contact(**item))
    return tuple(contacts)


def _address(raw: Any) -> Address | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidDocument("address must be an object or null", field="address")
    extra = set(raw) - set(ADDRESS_FIELDS)
    if extra:
        raise InvalidDocument(f"address has unknown fields {sorted(extra)}; allowed: {', '.join(ADDRESS_FIELDS)}",
                              field=f"address.{sorted(extra)[0]}")
    for name, value in raw.items():
        if value is not None and not isinstance(value, str):
            raise InvalidDocument(f"address.{name} must be a string or null", field=f"address.{name}")
    for name in ("line1", "city", "country"):
        if not (raw.get(name) or "").strip():
            raise InvalidDocument(f"address.{name} is required (a letter needs a street, a city and a country)",
                                  field=f"address.{name}")
    return Address.from_dict(raw)
