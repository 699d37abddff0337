"""Collector workflows over HTTP: disputes (open, resolve, list), promises to pay, write-offs, payment plans and the
payment plan requests customers send from the portal (accept into a plan, or decline)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import (
    PAGING,
    ApiError,
    _principal,
    actor,
    amount_field,
    endpoint,
    idempotency_key,
    index_page,
    json_body,
    known_id,
    parse_date,
    query_params,
    request_fingerprint,
    text_field,
)
from chalicelib.api.views import invoice_view
from chalicelib.domain.collections import DISPUTE_REASONS, Dispute, DisputeStatus, Outcome
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import is_valid_id
from chalicelib.domain.plan_requests import PlanRequest, PlanRequestStatus
from chalicelib.domain.plans import MAX_PLAN_INVOICES, PaymentPlan, PlanProgress, PlanStatus, instalment_json
from chalicelib.services.ports import Role

blueprint = Blueprint(__name__)
DISPUTE_FIELDS = ("reason", "amount", "note")
RESOLUTION_FIELDS = ("outcome", "credit_amount", "note")
PROMISE_FIELDS = ("date", "amount")
WRITE_OFF_FIELDS = ("amount", "reason")
PLAN_FIELDS = ("invoice_ids", "instalments", "count", "first_due_date", "grace_days", "note")
_DISPUTE_ID = re.compile(r"dsp_[0-9a-f]{24}")


def _invoice_id(value: str) -> str:
    return known_id("invoice", value)


def _dispute_id(value: str) -> str:
    if not _DISPUTE_ID.fullmatch(value):
        raise NotFound("dispute", value)
    return value


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in allowed:
        raise ApiError(400, "invalid_parameter", f"{name} must be one of: {', '.join(allowed)}", name)
    return str(value)


def dispute_view(dispute: Dispute, today: date) -> dict[str, Any]:
    return {
        "id": dispute.dispute_id,
        "invoice_id": dispute.invoice_id,
        "invoice_number": dispute.invoice_number,
        "customer_id": dispute.customer_id,
        "currency": dispute.currency,
        "reason": dispute.reason,
        "whole_invoice": dispute.amount is None,
        "amount": dispute.amount.to_api() if dispute.amount is not None else None,
        "balance_at_opening": dispute.balance_at_opening.to_api(),
        "note": dispute.note,
        "from_chargeback": dispute.from_chargeback,
        "status": dispute.status.value,
        "outcome": dispute.outcome.value if dispute.outcome else None,
        "credited": dispute.credited.to_api() if dispute.credited is not None else None,
        "resolution_note": dispute.resolution_note,
        "opened_at": dispute.opened_at.isoformat(),
        "opened_by": dispute.opened_by,
        "resolved_at": dispute.resolved_at.isoformat() if dispute.resolved_at else None,
        "resolved_by": dispute.resolved_by,
        "age_days": dispute.age_days(today),
        "version": dispute.version,
    }


def _today() -> date:
    return datetime.now(UTC).date()


# ---- disputes ------------------------------------------------------------------------------------------

@blueprint.route("/invoices/{invoice_id}/disputes", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=DISPUTE_FIELDS)
def open_dispute(invoice_id: str) -> Response:
    body = json_body(blueprint)
    change = bootstrap.collections_service().open_dispute(
        _invoice_id(invoice_id), _choice(body, "reason", DISPUTE_REASONS), amount_field(body, "amount", required=False),
        text_field(body, "note", required=False), actor(blueprint))
    return Response(body={**dispute_view(change.dispute, _today()), "invoice": invoice_view(change.invoice, _today())},
                    status_code=201)


@blueprint.route("/disputes/{dispute_id}/resolve", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=RESOLUTION_FIELDS)
def resolve_dispute(dispute_id: str) -> dict[str, Any]:
    body = json_body(blueprint)
    outcome = Outcome(_choice(body, "outcome", tuple(o.value for o in Outcome)))
    change = bootstrap.collections_service().resolve_dispute(
        _dispute_id(dispute_id), outcome, amount_field(body, "credit_amount", required=False),
        text_field(body, "note", required=False), actor(blueprint))
    return {**dispute_view(change.dispute, _today()), "invoice": invoice_view(change.invoice, _today())}


@blueprint.route("/disputes", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("status", *PAGING))
def list_disputes() -> dict[str, Any]:
    params = query_params(blueprint)
    raw = params.get("status", "open")
    if raw not in tuple(s.value for s in DisputeStatus):
        raise ApiError(400, "invalid_parameter", "status must be open or resolved", "status")
    today = _today()
    return index_page(params, functools.partial(bootstrap.collections_service().list_disputes, DisputeStatus(raw)),
                      lambda d: dispute_view(d, today))


@blueprint.route("/disputes/{dispute_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_dispute(dispute_id: str) -> dict[str, Any]:
    return dispute_view(bootstrap.collections_service().get_dispute(_dispute_id(dispute_id)), _today())


# ---- promises and write-offs -----------------------------------------------------------------------------

@blueprint.route("/invoices/{invoice_id}/promises", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=PROMISE_FIELDS)
def promise(invoice_id: str) -> Response:
    body = json_body(blueprint)
    raw_date = body.get("date")
    try:
        until = date.fromisoformat(raw_date) if isinstance(raw_date, str) else None
    except ValueError:
        until = None
    if until is None:
        raise ApiError(400, "invalid_parameter", "date is required, as YYYY-MM-DD", "date")
    amount = amount_field(body, "amount", required=True)
    assert amount is not None
    invoice = bootstrap.collections_service().promise(_invoice_id(invoice_id), until, amount, actor(blueprint))
    return Response(body=invoice_view(invoice, _today()), status_code=201)


@blueprint.route("/invoices/{invoice_id}/write-off", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=WRITE_OFF_FIELDS)
def write_off(invoice_id: str) -> dict[str, Any]:
    body = json_body(blueprint)
    amount = amount_field(body, "amount", required=True)
    reason = text_field(body, "reason", required=True, limit=500)
    assert amount is not None and reason is not None
    role = _principal(blueprint).role  # remembered for 60 s by the key check `endpoint` just made
    invoice = bootstrap.collections_service().write_off(_invoice_id(invoice_id), amount, reason, actor(blueprint), role,
                                                        idempotency_key=idempotency_key(blueprint),
                                                        request=request_fingerprint(blueprint))
    return invoice_view(invoice, _today())


# ---- payment plans ---------------------------------------------------------------------------------------

_PLAN_ID = re.compile(r"pln_[0-9a-f]{24}")
MAX_PLAN_INSTALMENTS_IN = 100  # the domain allows fewer; this only bounds the work of reading the body


def _plan_id(value: str) -> str:
    if not _PLAN_ID.fullmatch(value):
        raise NotFound("payment plan", value)
    return value


def _day(value: Any, name: str) -> date:
    if not isinstance(value, str):
        raise ApiError(400, "invalid_parameter", f"{name} is required, as YYYY-MM-DD", name)
    parsed = parse_date({name: value}, name)
    assert parsed is not None
    return parsed


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1000:
        raise ApiError(400, "invalid_parameter", f"{name} must be a whole number", name)
    return value


def plan_view(plan: PaymentPlan, state: PlanProgress | None = None) -> dict[str, Any]:
    """The plan; with its progress (paid, what is left per instalment) when the invoices were read for it."""
    view: dict[str, Any] = {
        "id": plan.plan_id,
        "customer_id": plan.customer_id,
        "status": plan.status.value,
        "currency": plan.currency,
        "total": plan.total.to_api(),
        "grace_days": plan.grace_days,
        "invoices": [{"invoice_id": i.invoice_id, "number": i.number, "balance_at_start": i.balance.to_api()}
                     for i in plan.invoices],
        "instalments": [{"number": i.number, "due_date": i.due_date.isoformat(), "amount": i.amount.to_api()}
                        for i in plan.instalments],
        "reminders_sent": sorted(plan.reminders_sent),
        "note": plan.note,
        "created_at": plan.created_at.isoformat(),
        "created_by": plan.created_by,
        "ended_at": plan.ended_at.isoformat() if plan.ended_at else None,
        "ended_by": plan.ended_by,
        "end_reason": plan.end_reason,
        "version": plan.version,
    }
    if state is not None:
        next_unpaid = state.next_unpaid
        view.update({
            "paid": state.paid.to_api(), "reduced": state.reduced.to_api(),
            "outstanding": state.outstanding.to_api(), "settled": state.settled,
            "instalments": [instalment_json(row) for row in state.instalments],
            "next_instalment": instalment_json(next_unpaid) if next_unpaid is not None else None,
        })
    return view


@blueprint.route("/customers/{customer_id}/payment-plans", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=PLAN_FIELDS)
def create_plan(customer_id: str) -> Response:
    known_id("customer", customer_id)
    body = json_body(blueprint)
    ids = body.get("invoice_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and is_valid_id(i) for i in ids) \
            or len(ids) > MAX_PLAN_INVOICES:
        raise ApiError(400, "invalid_parameter", f"invoice_ids must list 1 to {MAX_PLAN_INVOICES} invoice ids",
                       "invoice_ids")
    rows: list[tuple[date, Decimal]] | None = None
    raw_rows = body.get("instalments")
    if raw_rows is not None:
        if not isinstance(raw_rows, list) or not raw_rows or len(raw_rows) > MAX_PLAN_INSTALMENTS_IN \
                or not all(isinstance(r, dict) and set(r) <= {"due_date", "amount"} for r in raw_rows):
            raise ApiError(400, "invalid_parameter", "instalments must list objects with due_date and amount",
                           "instalments")
        rows = []
        for row in raw_rows:
            amount = amount_field(row, "amount", required=True)
            assert amount is not None
            rows.append((_day(row.get("due_date"), "due_date"), amount))
    count = _int(body, "count")
    first_due = body.get("first_due_date")
    view = bootstrap.plan_service().create(
        customer_id, ids, instalments=rows, count=count,
        first_due_date=None if first_due is None else _day(first_due, "first_due_date"),
        grace_days=_int(body, "grace_days"), note=text_field(body, "note", required=False), actor=actor(blueprint))
    return Response(body=plan_view(view.plan, view.progress), status_code=201)


@blueprint.route("/customers/{customer_id}/payment-plans", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=PAGING)
def customer_plans(customer_id: str) -> dict[str, Any]:
    known_id("customer", customer_id)
    return index_page(query_params(blueprint), functools.partial(bootstrap.plan_service().for_customer, customer_id),
                      plan_view)


@blueprint.route("/payment-plans", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("status", *PAGING))
def list_plans() -> dict[str, Any]:
    params = query_params(blueprint)
    raw = params.get("status", PlanStatus.ACTIVE.value)
    if raw not in tuple(s.value for s in PlanStatus):
        raise ApiError(400, "invalid_parameter",
                       f"status must be one of: {', '.join(s.value for s in PlanStatus)}", "status")
    return index_page(params, functools.partial(bootstrap.plan_service().by_status, PlanStatus(raw)), plan_view)


@blueprint.route("/payment-plans/{plan_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_plan(plan_id: str) -> dict[str, Any]:
    view = bootstrap.plan_service().view(_plan_id(plan_id))
    return plan_view(view.plan, view.progress)


@blueprint.route("/payment-plans/{plan_id}/cancel", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=("reason",))
def cancel_plan(plan_id: str) -> dict[str, Any]:
    body = json_body(blueprint)
    reason = text_field(body, "reason", required=True, limit=500)
    assert reason is not None
    view = bootstrap.plan_service().cancel(_plan_id(plan_id), reason, actor(blueprint))
    return plan_view(view.plan, view.progress)


# ---- payment plan requests (from the debtor portal) ------------------------------------------------------

_PLAN_REQUEST_ID = re.compile(r"prq_[0-9a-f]{24}")
PLAN_ACCEPT_FIELDS = ("instalments", "first_date", "grace_days")


def _plan_request_id(value: str) -> str:
    if not _PLAN_REQUEST_ID.fullmatch(value):
        raise NotFound("plan request", value)
    return value


def plan_request_view(request: PlanRequest) -> dict[str, Any]:
    return {
        "id": request.request_id,
        "customer_id": request.customer_id,
        "status": request.status.value,
        "contact_email": request.contact_email,
        "invoice_ids": list(request.invoice_ids),
        "invoice_numbers": list(request.invoice_numbers),
        "currency": request.currency,
        "total": request.total.to_api(),
        "instalments": request.instalments,
        "first_date": request.first_date.isoformat(),
        "proposal": [{"number": i.number, "due_date": i.due_date.isoformat(), "amount": i.amount.to_api()}
                     for i in request.proposal],
        "requested_at": request.requested_at.isoformat(),
        "requested_by": request.requested_by,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        "decided_by": request.decided_by,
        "decline_reason": request.decline_reason,
        "plan_id": request.plan_id,
        "version": request.version,
    }


@blueprint.route("/plan-requests", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("status", *PAGING))
def list_plan_requests() -> dict[str, Any]:
    params = query_params(blueprint)
    raw = params.get("status", PlanRequestStatus.PENDING.value)
    if raw not in tuple(s.value for s in PlanRequestStatus):
        raise ApiError(400, "invalid_parameter",
                       f"status must be one of: {', '.join(s.value for s in PlanRequestStatus)}", "status")
    return index_page(params, functools.partial(bootstrap.plan_requests().by_status, PlanRequestStatus(raw)),
                      plan_request_view)


@blueprint.route("/plan-requests/{request_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_plan_request(request_id: str) -> dict[str, Any]:
    return plan_request_view(bootstrap.plan_requests().get(_plan_request_id(request_id)))


@blueprint.route("/plan-requests/{request_id}/accept", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=PLAN_ACCEPT_FIELDS)
def accept_plan_request(request_id: str) -> dict[str, Any]:
    body = json_body(blueprint)
    first = body.get("first_date")
    done = bootstrap.plan_requests().accept(
        _plan_request_id(request_id), actor(blueprint), instalments=_int(body, "instalments"),
        first_date=None if first is None else _day(first, "first_date"), grace_days=_int(body, "grace_days"))
    return {**plan_request_view(done.request), "plan": plan_view(done.plan.plan, done.plan.progress)}


@blueprint.route("/plan-requests/{request_id}/decline", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=("reason",))
def decline_plan_request(request_id: str) -> dict[str, Any]:
    body = json_body(blueprint)
    reason = text_field(body, "reason", required=True, limit=500)
    assert reason is not None
    return plan_request_view(bootstrap.plan_requests().decline(_plan_request_id(request_id), reason,
                                                               actor(blueprint)))
