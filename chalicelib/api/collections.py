"""Collector workflows over HTTP: disputes (open, resolve, list), promises to pay and write-offs."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import (
    ApiError,
    NotFound,
    _principal,
    actor,
    decode_cursor,
    encode_cursor,
    endpoint,
    json_body,
    page_limit,
    query_params,
)
from chalicelib.api.views import invoice_view
from chalicelib.domain.collections import DISPUTE_REASONS, Dispute, DisputeStatus, Outcome
from chalicelib.domain.errors import StateConflict
from chalicelib.domain.ids import is_valid_id
from chalicelib.services.api_keys import Role
from chalicelib.services.collections import NeedsApproval

blueprint = Blueprint(__name__)
_DISPUTE_ID = re.compile(r"dsp_[0-9a-f]{24}")
MAX_NOTE = 2000
F = TypeVar("F", bound=Callable[..., Any])


def _statuses(view: F) -> F:
    """409 for a state conflict (a second open dispute, a dispute resolved twice), 403 for a write-off that needs
    an admin; everything else maps as on every route (`endpoint`)."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except StateConflict as exc:
            raise ApiError(409, exc.code, exc.message, exc.field) from exc
        except NeedsApproval as exc:
            raise ApiError(403, exc.code, exc.message, exc.field) from exc

    return wrapper  # type: ignore[return-value]



def _invoice_id(value: str) -> str:
    if not is_valid_id(value):
        raise NotFound(f"invoice {value}")
    return value


def _dispute_id(value: str) -> str:
    if not _DISPUTE_ID.fullmatch(value):
        raise NotFound(f"dispute {value}")
    return value


def _amount(body: dict[str, Any], name: str, required: bool) -> Decimal | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, "invalid_parameter", f"{name} is required, as a string such as \"120.00\"", name)
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_parameter", f"{name} must be a string such as \"120.00\"", name)
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise ApiError(400, "invalid_parameter", f"{name} is not an amount", name) from None
    if not amount.is_finite():
        raise ApiError(400, "invalid_parameter", f"{name} is not an amount", name)
    return amount


def _text(body: dict[str, Any], name: str, *, required: bool, limit: int = MAX_NOTE) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_parameter", f"{name} is required, as a non-empty string", name)
    if len(value) > limit:
        raise ApiError(400, "invalid_parameter", f"{name} is at most {limit} characters", name)
    return value.strip()


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in allowed:
        raise ApiError(400, "invalid_parameter", f"{name} must be one of: {', '.join(allowed)}", name)
    return str(value)


def _unknown(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "invalid_parameter", f"unknown fields {unknown}", unknown[0])


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
@endpoint(blueprint, role=Role.COLLECTOR)
@_statuses
def open_dispute(invoice_id: str) -> Response:
    body = json_body(blueprint)
    _unknown(body, {"reason", "amount", "note"})
    change = bootstrap.collections_service().open_dispute(
        _invoice_id(invoice_id), _choice(body, "reason", DISPUTE_REASONS), _amount(body, "amount", required=False),
        _text(body, "note", required=False), actor(blueprint))
    return Response(body={**dispute_view(change.dispute, _today()), "invoice": invoice_view(change.invoice, _today())},
                    status_code=201)


@blueprint.route("/disputes/{dispute_id}/resolve", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
@_statuses
def resolve_dispute(dispute_id: str) -> dict[str, Any]:
    body = json_body(blueprint)
    _unknown(body, {"outcome", "credit_amount", "note"})
    outcome = Outcome(_choice(body, "outcome", tuple(o.value for o in Outcome)))
    change = bootstrap.collections_service().resolve_dispute(
        _dispute_id(dispute_id), outcome, _amount(body, "credit_amount", required=False),
        _text(body, "note", required=False), actor(blueprint))
    return {**dispute_view(change.dispute, _today()), "invoice": invoice_view(change.invoice, _today())}


@blueprint.route("/disputes", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def list_disputes() -> dict[str, Any]:
    params = query_params(blueprint)
    raw = params.get("status", "open")
    if raw not in tuple(s.value for s in DisputeStatus):
        raise ApiError(400, "invalid_parameter", "status must be open or resolved", "status")
    cursor = decode_cursor(params)
    items, last_key = bootstrap.collections_service().list_disputes(
        DisputeStatus(raw), page_limit(params), cursor.get("k") if cursor else None)
    today = _today()
    return {"items": [dispute_view(d, today) for d in items],
            "next_cursor": encode_cursor({"p": 0, "k": last_key} if last_key else None)}


@blueprint.route("/disputes/{dispute_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_dispute(dispute_id: str) -> dict[str, Any]:
    return dispute_view(bootstrap.collections_service().get_dispute(_dispute_id(dispute_id)), _today())


# ---- promises and write-offs -----------------------------------------------------------------------------

@blueprint.route("/invoices/{invoice_id}/promises", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
@_statuses
def promise(invoice_id: str) -> Response:
    body = json_body(blueprint)
    _unknown(body, {"date", "amount"})
    raw_date = body.get("date")
    try:
        until = date.fromisoformat(raw_date) if isinstance(raw_date, str) else None
    except ValueError:
        until = None
    if until is None:
        raise ApiError(400, "invalid_parameter", "date is required, as YYYY-MM-DD", "date")
    amount = _amount(body, "amount", required=True)
    assert amount is not None
    invoice = bootstrap.collections_service().promise(_invoice_id(invoice_id), until, amount, actor(blueprint))
    return Response(body=invoice_view(invoice, _today()), status_code=201)


@blueprint.route("/invoices/{invoice_id}/write-off", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
@_statuses
def write_off(invoice_id: str) -> dict[str, Any]:
    body = json_body(blueprint)
    _unknown(body, {"amount", "reason"})
    amount = _amount(body, "amount", required=True)
    reason = _text(body, "reason", required=True, limit=500)
    assert amount is not None and reason is not None
    role = _principal(blueprint).role  # remembered for 60 s by the key check `endpoint` just made
    invoice = bootstrap.collections_service().write_off(_invoice_id(invoice_id), amount, reason, actor(blueprint), role)
    return invoice_view(invoice, _today())
