"""Timelines, notes, and credit control for staff."""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import ApiError, NotFound, actor, endpoint, json_body
from chalicelib.api.views import customer_view
from chalicelib.domain.ids import is_valid_id
from chalicelib.domain.money import Money
from chalicelib.services.api_keys import Role

blueprint = Blueprint(__name__)
_AMOUNT = re.compile(r"[0-9]{1,15}(\.[0-9]{1,4})?")



def _valid(entity: str, entity_id: str) -> None:
    if not is_valid_id(entity_id):
        raise NotFound(f"{entity} {entity_id}")


@blueprint.route("/invoices/{invoice_id}/timeline", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def invoice_timeline(invoice_id: str) -> dict[str, Any]:
    _valid("invoice", invoice_id)
    return {"items": bootstrap.timeline().invoice(invoice_id)}


@blueprint.route("/customers/{customer_id}/timeline", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def customer_timeline(customer_id: str) -> dict[str, Any]:
    _valid("customer", customer_id)
    return {"items": bootstrap.timeline().customer(customer_id)}


@blueprint.route("/invoices/{invoice_id}/notes", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
def note_on_invoice(invoice_id: str) -> Any:
    _valid("invoice", invoice_id)
    note = bootstrap.timeline().add_note("invoice", invoice_id, json_body(blueprint).get("text"), actor(blueprint))
    return Response(body=note, status_code=201)


@blueprint.route("/customers/{customer_id}/notes", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
def note_on_customer(customer_id: str) -> Any:
    _valid("customer", customer_id)
    note = bootstrap.timeline().add_note("customer", customer_id, json_body(blueprint).get("text"), actor(blueprint))
    return Response(body=note, status_code=201)


def _credit_view(customer: Any) -> dict[str, Any]:
    usage = bootstrap.credit_control().utilisation(customer)
    return {**customer_view(customer), "credit": usage.to_dict() if usage else None}


@blueprint.route("/customers/{customer_id}/credit-hold", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
def hold_credit(customer_id: str) -> dict[str, Any]:
    _valid("customer", customer_id)
    reason = json_body(blueprint).get("reason")
    return _credit_view(bootstrap.credit_control().set_hold(customer_id, True, reason, actor(blueprint)))


@blueprint.route("/customers/{customer_id}/credit-hold", methods=["DELETE"])
@endpoint(blueprint, role=Role.COLLECTOR)
def release_credit(customer_id: str) -> dict[str, Any]:
    _valid("customer", customer_id)
    body = json_body(blueprint) if blueprint.current_request.raw_body else {}
    reason = body.get("reason") or "released by staff"
    return _credit_view(bootstrap.credit_control().set_hold(customer_id, False, reason, actor(blueprint)))


@blueprint.route("/customers/{customer_id}/credit-limit", methods=["PUT"])
@endpoint(blueprint, role=Role.ADMIN)
def set_credit_limit(customer_id: str) -> dict[str, Any]:
    """`{"amount": "50000.00", "currency": "EUR"}`, or `{"amount": null}` for no limit."""
    _valid("customer", customer_id)
    body = json_body(blueprint)
    limit = None
    if body.get("amount") is not None:
        amount, currency = body.get("amount"), body.get("currency")
        if not isinstance(amount, str) or not _AMOUNT.fullmatch(amount.strip()) or not isinstance(currency, str):
            raise ApiError(400, "invalid_amount", "amount must be a decimal string such as '50000.00', with a "
                           "currency such as 'EUR'", "amount")
        limit = Money.of(amount.strip(), currency)
    return _credit_view(bootstrap.credit_control().set_limit(customer_id, limit, actor(blueprint)))
