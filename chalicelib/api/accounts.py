"""Timelines, notes, and credit control for staff."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import ApiError, actor, amount_field, endpoint, json_body, known_id
from chalicelib.api.views import customer_view
from chalicelib.domain.money import Money
from chalicelib.services.ports import Role

blueprint = Blueprint(__name__)
MAX_REASON = 500
MAX_CURRENCY = 16  # a longer code is no typo of an ISO 4217 one; shorter unknown ones are the domain's 422


@blueprint.route("/invoices/{invoice_id}/timeline", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def invoice_timeline(invoice_id: str) -> dict[str, Any]:
    known_id("invoice", invoice_id)
    return {"items": bootstrap.timeline().invoice(invoice_id)}


@blueprint.route("/customers/{customer_id}/timeline", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def customer_timeline(customer_id: str) -> dict[str, Any]:
    known_id("customer", customer_id)
    return {"items": bootstrap.timeline().customer(customer_id)}


@blueprint.route("/invoices/{invoice_id}/notes", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=("text",))
def note_on_invoice(invoice_id: str) -> Any:
    return _add_note("invoice", invoice_id)


@blueprint.route("/customers/{customer_id}/notes", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=("text",))
def note_on_customer(customer_id: str) -> Any:
    return _add_note("customer", customer_id)


def _add_note(entity: str, entity_id: str) -> Response:
    note = bootstrap.timeline().add_note(entity, known_id(entity, entity_id), json_body(blueprint).get("text"),
                                         actor(blueprint))
    return Response(body=note, status_code=201)


def _credit_view(customer: Any) -> dict[str, Any]:
    usage = bootstrap.credit_control().utilisation(customer)
    return {**customer_view(customer), "credit": usage.to_dict() if usage else None}


@blueprint.route("/customers/{customer_id}/credit-hold", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=("reason",))
def hold_credit(customer_id: str) -> dict[str, Any]:
    known_id("customer", customer_id)
    reason = _reason(json_body(blueprint))
    return _credit_view(bootstrap.credit_control().set_hold(customer_id, True, reason, actor(blueprint)))


@blueprint.route("/customers/{customer_id}/credit-hold", methods=["DELETE"])
@endpoint(blueprint, role=Role.COLLECTOR, body=("reason",))
def release_credit(customer_id: str) -> dict[str, Any]:
    known_id("customer", customer_id)
    body = json_body(blueprint) if blueprint.current_request.raw_body else {}
    reason = _reason(body) or "released by staff"
    return _credit_view(bootstrap.credit_control().set_hold(customer_id, False, reason, actor(blueprint)))


@blueprint.route("/customers/{customer_id}/credit-limit", methods=["PUT"])
@endpoint(blueprint, role=Role.ADMIN, body=("amount", "currency"))
def set_credit_limit(customer_id: str) -> dict[str, Any]:
    """`{"amount": "50000.00", "currency": "EUR"}`, or `{"amount": null}` for no limit."""
    known_id("customer", customer_id)
    body = json_body(blueprint)
    limit = None
    amount = amount_field(body, "amount", required=False)
    if amount is not None:
        currency = body.get("currency")
        if not isinstance(currency, str) or len(currency) > MAX_CURRENCY:
            raise ApiError(400, "invalid_parameter", "currency is required with an amount, as an ISO 4217 code such "
                           "as 'EUR'", "currency")
        limit = Money.of(amount, currency)
    return _credit_view(bootstrap.credit_control().set_limit(customer_id, limit, actor(blueprint)))


def _reason(body: dict[str, Any]) -> Any:
    """The hold's reason as sent (the service requires one to set a hold), bounded here."""
    reason = body.get("reason")
    if isinstance(reason, str) and len(reason) > MAX_REASON:
        raise ApiError(400, "invalid_parameter", f"reason is at most {MAX_REASON} characters", "reason")
    return reason
