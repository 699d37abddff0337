"""Payment plan requests in DynamoDB: the request (conditional on its version: a new one only when none exists
under its id) and its audit events in one TransactWriteItems; listed by status and by customer, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.dynamo import at_version, get_mapped, save_with_invoices, time_key
from chalicelib.adapters.models import PlanRequestModel
from chalicelib.domain.money import Money
from chalicelib.domain.plan_requests import PlanRequest, PlanRequestStatus
from chalicelib.domain.plans import Instalment
from chalicelib.services.ports import AuditEvent


def request_to_model(request: PlanRequest) -> PlanRequestModel:
    model = PlanRequestModel(
        request_id=request.request_id,
        customer_id=request.customer_id,
        status=request.status.value,
        requested_key=time_key(request.requested_at, request.request_id),
        contact_email=request.contact_email,
        invoice_ids=list(request.invoice_ids),
        invoice_numbers=list(request.invoice_numbers),
        currency=request.currency,
        total_minor=request.total.minor,
        instalments=request.instalments,
        first_date=request.first_date.isoformat(),
        proposal=[{"number": i.number, "due_date": i.due_date.isoformat(), "amount_minor": i.amount.minor}
                  for i in request.proposal],
        requested_at=request.requested_at,
        requested_by=request.requested_by,
        decided_at=request.decided_at,
        decided_by=request.decided_by,
        decline_reason=request.decline_reason,
        plan_id=request.plan_id,
    )
    return at_version(model, request.version)


def model_to_request(m: PlanRequestModel) -> PlanRequest:
    return PlanRequest(
        request_id=m.request_id,
        customer_id=m.customer_id,
        contact_email=m.contact_email,
        invoice_ids=tuple(m.invoice_ids),
        invoice_numbers=tuple(m.invoice_numbers),
        currency=m.currency,
        total=Money.from_minor(int(m.total_minor), m.currency),
        instalments=int(m.instalments),
        first_date=date.fromisoformat(m.first_date),
        proposal=tuple(Instalment(int(row["number"]), date.fromisoformat(row["due_date"]),
                                  Money.from_minor(int(row["amount_minor"]), m.currency)) for row in m.proposal),
        requested_at=m.requested_at,
        requested_by=m.requested_by,
        status=PlanRequestStatus(m.status),
        decided_at=m.decided_at,
        decided_by=m.decided_by,
        decline_reason=m.decline_reason,
        plan_id=m.plan_id,
        version=int(m.version or 0),
    )


class DynamoPlanRequests:
    def get(self, request_id: str) -> PlanRequest | None:
        return get_mapped(PlanRequestModel, request_id, model_to_request)

    def save(self, request: PlanRequest, events: Sequence[AuditEvent], now: datetime) -> PlanRequest:
        """New when its version is 0 (VersionConflict when one exists under its id), else at that version."""
        model = request_to_model(request)
        save_with_invoices(model, [], events, now, f"plan request {request.request_id}")
        return model_to_request(model)

    def by_status(self, status: str, limit: int, cursor: dict[str, Any] | None
                  ) -> tuple[list[PlanRequest], dict[str, Any] | None]:
        result = PlanRequestModel.by_status.query(status, scan_index_forward=False, limit=limit,
                                                  last_evaluated_key=cursor)
        return [model_to_request(m) for m in result], result.last_evaluated_key

    def for_customer(self, customer_id: str, limit: int, cursor: dict[str, Any] | None
                     ) -> tuple[list[PlanRequest], dict[str, Any] | None]:
        result = PlanRequestModel.by_customer.query(customer_id, scan_index_forward=False, limit=limit,
                                                    last_evaluated_key=cursor)
        return [model_to_request(m) for m in result], result.last_evaluated_key
