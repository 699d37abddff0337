from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import (
    EARLIEST_DATE,
    ApiError,
    NotFound,
    decode_cursor,
    endpoint,
    idempotency_key,
    json_body,
    page,
    page_limit,
    parse_bool,
    parse_date,
    query_params,
)
from chalicelib.api.views import payment_view
from chalicelib.domain.ids import invoice_id, is_valid_id, reference_key
from chalicelib.domain.money import Money
from chalicelib.services.api_keys import Role
from chalicelib.services.read_models import PaymentFilter

blueprint = Blueprint(__name__)
_PAYMENT_ID = re.compile(r"(pay|rfd|chb)_[0-9a-f]{24}")
_AMOUNT = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")  # a positive decimal; the currency then checks the decimals
METHODS = ("wire", "cheque", "cash", "card", "direct_debit", "other")


def _payment_id(value: str) -> str:
    if not _PAYMENT_ID.fullmatch(value):
        raise NotFound(f"payment {value}")
    return value


@blueprint.route("/payments", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def list_payments() -> dict[str, Any]:
    params = query_params(blueprint)
    customer_id = params.get("customer_id")
    if customer_id is not None and not is_valid_id(customer_id):
        raise ApiError(400, "invalid_parameter", "customer_id is not a valid id", "customer_id")
    filters = PaymentFilter(unapplied=bool(parse_bool(params, "unapplied")), customer_id=customer_id,
                            received_from=parse_date(params, "from"), received_to=parse_date(params, "to"))
    result = bootstrap.queries().payments(filters, page_limit(params), decode_cursor(params))
    return page([payment_view(p) for p in result.items], result.cursor)


@blueprint.route("/payments/{payment_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_payment(payment_id: str) -> dict[str, Any]:
    payment = bootstrap.payment_store().get(_payment_id(payment_id))
    if payment is None:
        raise NotFound(f"payment {payment_id}")
    return payment_view(payment)


@blueprint.route("/payments", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
def record_payment() -> Response:
    body = json_body(blueprint)
    currency = _text(body, "currency")
    amount = _amount(body, currency)
    method = body.get("method", "wire")
    if method not in METHODS:
        raise ApiError(400, "invalid_parameter", f"method must be one of {', '.join(METHODS)}", "method")
    numbers = body.get("invoice_numbers", [])
    # Each number must keep a letter or digit: matching compares numbers without case, blanks and separators.
    if not isinstance(numbers, list) or not all(isinstance(n, str) and reference_key(n) for n in numbers):
        raise ApiError(400, "invalid_parameter", "invoice_numbers must be a list of invoice numbers",
                       "invoice_numbers")
    payer_name = body.get("payer_name")
    if payer_name is not None and not isinstance(payer_name, str):
        raise ApiError(400, "invalid_parameter", "payer_name must be a string", "payer_name")
    received_on = _date(body.get("received_on"))
    key = idempotency_key(blueprint) or uuid.uuid4().hex
    customer_id = body.get("customer_id")
    if customer_id is not None and (not isinstance(customer_id, str) or not is_valid_id(customer_id)):
        raise ApiError(400, "invalid_parameter", "customer_id is not a valid id", "customer_id")
    principal_actor = f"key:{_actor()}"
    payment = bootstrap.payment_service().record_manual(
        amount=amount, customer_id=customer_id, references=numbers,
        received_on=datetime.combine(received_on, time(12, tzinfo=UTC)), payer_name=payer_name,
        method=method, idempotency_key=key, actor=principal_actor)
    return Response(body=payment_view(payment), status_code=201)


@blueprint.route("/payments/{payment_id}/allocations", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
def allocate(payment_id: str) -> dict[str, Any]:
    body = json_body(blueprint)
    service = bootstrap.payment_service()
    if body.get("strategy") == "oldest_first":
        return payment_view(service.apply_oldest_first(_payment_id(payment_id), f"key:{_actor()}"))
    number = body.get("invoice_number")
    if number is not None and not isinstance(number, str):
        raise ApiError(400, "invalid_parameter", "invoice_number must be a string", "invoice_number")
    target = body.get("invoice_id") or (invoice_id(number) if number else None)
    if not isinstance(target, str) or not is_valid_id(target):
        raise ApiError(400, "invalid_parameter", "give invoice_id (or invoice_number), or strategy=oldest_first",
                       "invoice_id")
    payment = bootstrap.payment_store().get(_payment_id(payment_id))
    if payment is None:
        raise NotFound(f"payment {payment_id}")
    amount = _amount(body, payment.amount.currency) if body.get("amount") is not None else None
    return payment_view(service.allocate(payment_id, target, amount, f"key:{_actor()}"))


@blueprint.route("/payments/{payment_id}/allocations/{invoice_ref}", methods=["DELETE"])
@endpoint(blueprint, role=Role.COLLECTOR)
def unallocate(payment_id: str, invoice_ref: str) -> dict[str, Any]:
    if not is_valid_id(invoice_ref):
        raise NotFound(f"invoice {invoice_ref}")
    return payment_view(bootstrap.payment_service().unallocate(_payment_id(payment_id), invoice_ref,
                                                               f"key:{_actor()}"))


def _actor() -> str:
    context = blueprint.current_request.context or {}
    return str(context.get("dunwell_principal", "unknown"))


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_parameter", f"{name} is required, as a string", name)
    return value


def _amount(body: dict[str, Any], currency: str) -> Money:
    """A positive amount as a decimal string; more decimals than the currency has is the domain's 422."""
    text = _text(body, "amount").strip()
    if not _AMOUNT.fullmatch(text) or not any(c in "123456789" for c in text):
        raise ApiError(400, "invalid_amount", "amount must be a positive decimal string such as '1250.00'", "amount")
    return Money.of(text, currency)


def _date(value: Any) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        parsed = date.fromisoformat(str(value))
    except ValueError:
        raise ApiError(400, "invalid_parameter", "received_on must be a date as YYYY-MM-DD", "received_on") from None
    if parsed < EARLIEST_DATE:
        raise ApiError(400, "invalid_parameter", f"received_on cannot be before {EARLIEST_DATE}", "received_on")
    if parsed > datetime.now(UTC).date() + timedelta(days=1):
        raise ApiError(400, "invalid_parameter", "received_on cannot be in the future", "received_on")
    return parsed
