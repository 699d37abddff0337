"""Disputes in DynamoDB. Opening or resolving one is a single TransactWriteItems: the dispute (new, or at the
version read), its invoice (at the version read) and their audit events, so an invoice is never held by a dispute
that was not recorded, nor a dispute closed while its invoice stays held."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo import at_version, get_mapped, save_with_invoices, time_key
from chalicelib.adapters.models import DisputeModel
from chalicelib.domain.collections import Dispute, DisputeStatus, Outcome
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.services.ports import AuditEvent


def dispute_to_model(dispute: Dispute) -> DisputeModel:
    currency = dispute.currency
    model = DisputeModel(
        dispute_id=dispute.dispute_id,
        status=dispute.status.value,
        opened_key=time_key(dispute.opened_at, dispute.dispute_id),
        invoice_id=dispute.invoice_id,
        invoice_number=dispute.invoice_number,
        customer_id=dispute.customer_id,
        currency=currency,
        reason=dispute.reason,
        amount_minor=None if dispute.amount is None else dispute.amount.minor,
        balance_minor=dispute.balance_at_opening.minor,
        note=dispute.note,
        from_chargeback=dispute.from_chargeback,
        outcome=dispute.outcome.value if dispute.outcome else None,
        credited_minor=None if dispute.credited is None else dispute.credited.minor,
        resolution_note=dispute.resolution_note,
        opened_at=dispute.opened_at,
        opened_by=dispute.opened_by,
        resolved_at=dispute.resolved_at,
        resolved_by=dispute.resolved_by,
    )
    return at_version(model, dispute.version)


def model_to_dispute(m: DisputeModel) -> Dispute:
    def money(minor: Any) -> Money | None:
        return None if minor is None else Money.from_minor(int(minor), m.currency)

    return Dispute(
        dispute_id=m.dispute_id,
        invoice_id=m.invoice_id,
        invoice_number=m.invoice_number,
        customer_id=m.customer_id,
        reason=m.reason,
        amount=money(m.amount_minor),
        balance_at_opening=Money.from_minor(int(m.balance_minor), m.currency),
        opened_at=m.opened_at,
        opened_by=m.opened_by,
        note=m.note,
        from_chargeback=bool(m.from_chargeback),
        status=DisputeStatus(m.status),
        outcome=Outcome(m.outcome) if m.outcome else None,
        credited=money(m.credited_minor),
        resolution_note=m.resolution_note,
        resolved_at=m.resolved_at,
        resolved_by=m.resolved_by,
        version=int(m.version or 0),
    )


class DynamoDisputes:
    def get(self, dispute_id: str) -> Dispute | None:
        return get_mapped(DisputeModel, dispute_id, model_to_dispute)

    def save(self, dispute: Dispute, invoice: Invoice, events: Sequence[AuditEvent],
             now: datetime) -> tuple[Dispute, Invoice]:
        """The dispute (created when its version is 0), the invoice and the events, all or nothing. Raises
        VersionConflict when either record changed since it was read (or the dispute exists already)."""
        dispute_model = dispute_to_model(dispute)
        [saved] = save_with_invoices(dispute_model, [invoice], events, now,
                                     f"dispute {dispute.dispute_id} or invoice {invoice.invoice_id}")
        return model_to_dispute(dispute_model), saved

    def list(self, status: str, limit: int, cursor: dict[str, Any] | None
             ) -> tuple[list[Dispute], dict[str, Any] | None]:
        """Newest first; `cursor` is the last key of the previous page."""
        result = DisputeModel.by_status.query(status, scan_index_forward=False, limit=limit,
                                              last_evaluated_key=cursor)
        items = [model_to_dispute(m) for m in result]
        return items, result.last_evaluated_key
