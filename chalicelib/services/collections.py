"""Use cases of the collector workflows: open and resolve disputes, record promises to pay, write off bad debt.

Each reads the invoice, applies a pure domain change (domain/collections.py, domain/invoice.py) and writes the
invoice with its audit events at the version read; on a conflict (a payment, the sweep) it reads again and
re-applies, so no update is lost. What each change does to dunning is in domain/collections.py; the sweep settles
promises whose date and grace have passed (services/dunning.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.collections import (
    Dispute,
    DisputeStatus,
    Outcome,
    make_promise,
    open_dispute,
    resolve_dispute,
)
from chalicelib.domain.errors import DomainError, Kind, NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.services.ports import AuditEvent, Metrics, Role, VersionConflict, conflict_retries, utc_now


class NeedsApproval(DomainError):
    """The actor's role may not do this alone (a write-off above the collector limit)."""

    code = "needs_approval"
    kind = Kind.FORBIDDEN


# ---- ports -----------------------------------------------------------------------------------------

class Invoices(Protocol):
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]: ...
    def save_invoice(self, invoice: Invoice, events: Sequence[AuditEvent], now: datetime) -> Invoice:
        """Conditional on the invoice's version; raises VersionConflict."""


class Disputes(Protocol):
    def get(self, dispute_id: str) -> Dispute | None: ...
    def save(self, dispute: Dispute, invoice: Invoice, events: Sequence[AuditEvent],
             now: datetime) -> tuple[Dispute, Invoice]:
        """The dispute (new when its version is 0, else at that version), the invoice at its version and the
        events, in one transaction; raises VersionConflict."""
    def list(self, status: str, limit: int, cursor: dict[str, Any] | None
             ) -> tuple[list[Dispute], dict[str, Any] | None]: ...


@dataclass(frozen=True)
class DisputeChange:
    dispute: Dispute
    invoice: Invoice


# ---- the service -----------------------------------------------------------------------------------

class CollectionsService:
    def __init__(self, invoices: Invoices, disputes: Disputes, *, write_off_collector_limit: Decimal,
                 clock: Callable[[], datetime] | None = None, new_id: Callable[[], str] | None = None,
                 metrics: Metrics | None = None) -> None:
        self.invoices = invoices
        self.disputes = disputes
        self.write_off_collector_limit = write_off_collector_limit
        self.clock = clock or utc_now
        self.new_id = new_id or (lambda: f"dsp_{uuid.uuid4().hex[:24]}")
        self.metrics = metrics

    # ---- disputes ----------------------------------------------------------------------------------

    def open_dispute(self, invoice_id: str, reason: str, amount: Decimal | None, note: str | None,
                     actor: str) -> DisputeChange:
        dispute_id = self.new_id()
        for _attempt in conflict_retries(f"opening a dispute on invoice {invoice_id}: it kept changing", self.metrics):
            now = self.clock()
            invoice = self._invoice(invoice_id)
            deduction = None if amount is None else Money.of(amount, invoice.currency)
            dispute, disputed = open_dispute(invoice, dispute_id, reason, deduction, note, actor, now)
            event = AuditEvent(f"invoice#{invoice_id}", "invoice.disputed", actor, now, dispute_id, {
                "dispute_id": dispute_id, "reason": reason, "whole_invoice": amount is None,
                "amount": None if deduction is None else deduction.to_api(), "currency": invoice.currency,
                "note": note, "from_chargeback": dispute.from_chargeback, "balance": disputed.balance.to_api(),
                "held": disputed.disputed_open.to_api(), "status": disputed.status.value})
            try:
                saved, saved_invoice = self.disputes.save(dispute, disputed, [event], now)
            except VersionConflict:
                continue  # the invoice changed (a payment, the sweep, another dispute): decide again
            return DisputeChange(saved, saved_invoice)
        raise AssertionError("unreachable: conflict_retries raises when it runs out")

    def resolve_dispute(self, dispute_id: str, outcome: Outcome, credit_amount: Decimal | None, note: str | None,
                        actor: str) -> DisputeChange:
        for _attempt in conflict_retries(f"resolving dispute {dispute_id}: it kept changing", self.metrics):
            now = self.clock()
            dispute = self.get_dispute(dispute_id)
            invoice = self._invoice(dispute.invoice_id)
            credit = None if credit_amount is None else Money.of(credit_amount, invoice.currency)
            closed, resolved = resolve_dispute(dispute, invoice, outcome, credit, note, actor, now)
            assert closed.credited is not None
            event = AuditEvent(f"invoice#{invoice.invoice_id}", "invoice.dispute_resolved", actor, now, dispute_id, {
                "dispute_id": dispute_id, "outcome": outcome.value, "credited": closed.credited.to_api(),
                "currency": invoice.currency, "note": note, "balance": resolved.balance.to_api(),
                "status": resolved.status.value})
            try:
                saved, saved_invoice = self.disputes.save(closed, resolved, [event], now)
            except VersionConflict:
                continue  # resolved meanwhile (the next read says so: 409), or the invoice changed
            return DisputeChange(saved, saved_invoice)
        raise AssertionError("unreachable: conflict_retries raises when it runs out")

    def get_dispute(self, dispute_id: str) -> Dispute:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise NotFound("dispute", dispute_id, field="dispute_id")
        return dispute

    def list_disputes(self, status: DisputeStatus, limit: int, cursor: dict[str, Any] | None
                      ) -> tuple[list[Dispute], dict[str, Any] | None]:
        return self.disputes.list(status.value, limit, cursor)

    # ---- promises ----------------------------------------------------------------------------------

    def promise(self, invoice_id: str, until: date, amount: Decimal, actor: str) -> Invoice:
        for _attempt in conflict_retries(f"a promise on invoice {invoice_id}: it kept changing", self.metrics):
            now = self.clock()
            invoice = self._invoice(invoice_id)
            promised_amount = Money.of(amount, invoice.currency)
            promised = make_promise(invoice, until, promised_amount, now.date())
            event = AuditEvent(f"invoice#{invoice_id}", "invoice.promised", actor, now, until.isoformat(), {
                "promised_until": until.isoformat(), "amount": promised_amount.to_api(),
                "currency": invoice.currency, "balance": invoice.balance.to_api(),
                "replaces": invoice.promised_until.isoformat() if invoice.promised_until else None})
            try:
                return self.invoices.save_invoice(promised, [event], now)
            except VersionConflict:
                continue
        raise AssertionError("unreachable: conflict_retries raises when it runs out")

    # ---- write-offs --------------------------------------------------------------------------------

    def write_off(self, invoice_id: str, amount: Decimal, reason: str, actor: str, role: Role,
                  idempotency_key: str | None = None, request: str = "") -> Invoice:
        """Record `amount` as bad debt. What collectors write off on one invoice, all their write-offs together, stays
        within the limit (so it cannot be split into smaller requests); admins any amount. The same
        `idempotency_key` again with the same `request` (its fingerprint) returns the invoice and writes off nothing
        more; with another request it is IdempotencyKeyReused."""
        collector = role < Role.ADMIN
        for _attempt in conflict_retries(f"a write-off on invoice {invoice_id}: it kept changing", self.metrics):
            now = self.clock()
            invoice = self._invoice(invoice_id)
            written_off = Money.of(amount, invoice.currency)
            written = invoice.with_write_off(written_off, idempotency_key, request, by_collector=collector)
            if written is invoice:
                return invoice  # this request was applied already
            by_collectors = written.collector_written_off_total
            if collector and by_collectors.amount > self.write_off_collector_limit:
                already = invoice.collector_written_off_total
                raise NeedsApproval(
                    f"writing off {written_off} would bring collectors' write-offs on invoice {invoice.number} to "
                    f"{by_collectors} ({already} before), above the collector limit of "
                    f"{self.write_off_collector_limit}: an admin must do it", field="amount")
            event = AuditEvent(f"invoice#{invoice_id}", "invoice.written_off", actor, now,
                               idempotency_key or uuid.uuid4().hex[:12], {
                "amount": written_off.to_api(),
                "currency": invoice.currency, "reason": reason, "actor": actor, "role": role.label,
                "bad_debt": True, "written_off_total": written.written_off.to_api(),
                "collector_written_off_total": by_collectors.to_api(),
                "balance": written.balance.to_api(), "status": written.status.value,
                "note": "recorded as bad debt"})
            try:
                return self.invoices.save_invoice(written, [event], now)
            except VersionConflict:
                continue
        raise AssertionError("unreachable: conflict_retries raises when it runs out")

    def _invoice(self, invoice_id: str) -> Invoice:
        invoice = self.invoices.get_invoices([invoice_id]).get(invoice_id)
        if invoice is None:
            raise NotFound("invoice", invoice_id, field="invoice_id")
        return invoice
