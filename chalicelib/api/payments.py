from __future__ import annotations

import functools
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import (
    EARLIEST_DATE,
    PAGING,
    ApiError,
    amount_field,
    cursor_page,
    endpoint,
    idempotency_key,
    json_body,
    known_id,
    parse_bool,
    parse_date,
    query_params,
    request_fingerprint,
)
from chalicelib.api.views import payment_view
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import invoice_id, is_valid_id, reference_key
from chalicelib.domain.money import Money
from chalicelib.services.ports import PaymentFilter, Role

blueprint = Blueprint(__name__)
_PAYMENT_ID = re.compile(r"(pay|rfd|chb)_[0-9a-f]{24}")
MAX_INVOICE_NUMBERS = 40  # the references one payment is matched by (services/payments.py MAX_REFERENCES)
MAX_INVOICE_NUMBER = 100
MAX_PAYER_NAME = 200
MAX_CURRENCY = 16  # a longer code is no typo of an ISO 4217 one; shorter unknown ones are the domain's 422
PAYMENT_FIELDS = ("amount", "currency", "customer_id", "invoice_numbers", "received_on", "initiated_on", "method",
                  "payer_name")
METHODS = ("wire", "cheque", "cash", "card", "direct_debit", "other")


def _payment_id(value: str) -> str:
    if not _PAYMENT_ID.fullmatch(value):
        raise NotFound("payment", value)
    return value


@blueprint.route("/payments", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("unapplied", "customer_id", "from", "to", *PAGING))
def list_payments() -> dict[str, Any]:
    params = query_params(blueprint)
    customer_id = params.get("customer_id")
    if customer_id is not None and not is_valid_id(customer_id):
        raise ApiError(400, "invalid_parameter", "customer_id is not a valid id", "customer_id")
    filters = PaymentFilter(unapplied=bool(parse_bool(params, "unapplied")), customer_id=customer_id,
                            received_from=parse_date(params, "from"), received_to=parse_date(params, "to"))
    return cursor_page(params, functools.partial(bootstrap.queries().payments, filters), payment_view)


@blueprint.route("/payments/{payment_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_payment(payment_id: str) -> dict[str, Any]:
    payment = bootstrap.payment_store().get(_payment_id(payment_id))
    if payment is None:
        raise NotFound("payment", payment_id)
    return payment_view(payment)


@blueprint.route("/payments", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=PAYMENT_FIELDS)
def record_payment() -> Response:
    body = json_body(blueprint)
    currency = _currency(body)
    amount = _amount(body, currency)
    method = body.get("method", "wire")
    if method not in METHODS:
        raise ApiError(400, "invalid_parameter", f"method must be one of {', '.join(METHODS)}", "method")
    numbers = body.get("invoice_numbers", [])
    # Each number must keep a letter or digit: matching compares numbers without case, blanks and separators.
    if not isinstance(numbers, list) or len(numbers) > MAX_INVOICE_NUMBERS or not all(
            isinstance(n, str) and reference_key(n) and len(n) <= MAX_INVOICE_NUMBER for n in numbers):
        raise ApiError(400, "invalid_parameter", f"invoice_numbers must be a list of at most {MAX_INVOICE_NUMBERS} "
                       f"invoice numbers of at most {MAX_INVOICE_NUMBER} characters", "invoice_numbers")
    payer_name = body.get("payer_name")
    if payer_name is not None and (not isinstance(payer_name, str) or len(payer_name) > MAX_PAYER_NAME):
        raise ApiError(400, "invalid_parameter", f"payer_name must be a string of at most {MAX_PAYER_NAME} characters",
                       "payer_name")
    received_on = _date(body.get("received_on"))
    # The day the payer gave the order (a cheque's date, a transfer's execution day), where staff know it: an
    # early-payment discount is judged by it (domain/discounts.py `judged_on`); the cash day stays `received_on`.
    initiated_on = None if body.get("initiated_on") is None else _date(body["initiated_on"], "initiated_on")
    if initiated_on is not None and initiated_on > received_on:
        raise ApiError(400, "invalid_parameter", "initiated_on cannot be after received_on", "initiated_on")
    key = idempotency_key(blueprint) or uuid.uuid4().hex
    customer_id = body.get("customer_id")
    if customer_id is not None and (not isinstance(customer_id, str) or not is_valid_id(customer_id)):
        raise ApiError(400, "invalid_parameter", "customer_id is not a valid id", "customer_id")
    principal_actor = f"key:{_actor()}"
    payment = bootstrap.payment_service().record_manual(
        amount=amount, customer_id=customer_id, references=numbers,
        received_on=datetime.combine(received_on, time(12, tzinfo=UTC)), payer_name=payer_name,
        method=method, idempotency_key=key, actor=principal_actor, request=request_fingerprint(blueprint),
        initiated_on=initiated_on)
    return Response(body=payment_view(payment), status_code=201)


@blueprint.route("/payments/{payment_id}/allocations", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=("invoice_id", "invoice_number", "amount", "strategy"))
def allocate(payment_id: str) -> dict[str, Any]:
    body = json_body(blueprint)
    service = bootstrap.payment_service()
    if body.get("strategy") == "oldest_first":
        return payment_view(service.apply_oldest_first(_payment_id(payment_id), f"key:{_actor()}"))
    number = body.get("invoice_number")
    if number is not None and (not isinstance(number, str) or len(number) > MAX_INVOICE_NUMBER):
        raise ApiError(400, "invalid_parameter", f"invoice_number must be a string of at most {MAX_INVOICE_NUMBER} "
                       "characters", "invoice_number")
    target = body.get("invoice_id") or (invoice_id(number) if number else None)
    if not isinstance(target, str) or not is_valid_id(target):
        raise ApiError(400, "invalid_parameter", "give invoice_id (or invoice_number), or strategy=oldest_first",
                       "invoice_id")
    payment = bootstrap.payment_store().get(_payment_id(payment_id))
    if payment is None:
        raise NotFound("payment", payment_id)
    amount = _amount(body, payment.amount.currency) if body.get("amount") is not None else None
    return payment_view(service.allocate(payment_id, target, amount, f"key:{_actor()}"))


@blueprint.route("/payments/{payment_id}/allocations/{invoice_ref}", methods=["DELETE"])
@endpoint(blueprint, role=Role.COLLECTOR)
def unallocate(payment_id: str, invoice_ref: str) -> dict[str, Any]:
    known_id("invoice", invoice_ref)
    return payment_view(bootstrap.payment_service().unallocate(_payment_id(payment_id), invoice_ref,
                                                               f"key:{_actor()}"))


def _actor() -> str:
    context = blueprint.current_request.context or {}
    return str(context.get("dunwell_principal", "unknown"))


def _currency(body: dict[str, Any]) -> str:
    value = body.get("currency")
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CURRENCY:
        raise ApiError(400, "invalid_parameter", "currency is required, as an ISO 4217 code such as \"EUR\"",
                       "currency")
    return value


def _amount(body: dict[str, Any], currency: str) -> Money:
    """A positive amount, read by the one amount grammar; more decimals than the currency has is the domain's 422."""
    amount = amount_field(body, "amount", required=True)
    if amount is None or amount <= 0:
        raise ApiError(400, "invalid_amount", "amount must be a positive decimal string such as '1250.00'", "amount")
    return Money.of(amount, currency)


def _date(value: Any, field: str = "received_on") -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        parsed = date.fromisoformat(str(value))
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{field} must be a date as YYYY-MM-DD", field) from None
    if parsed < EARLIEST_DATE:
        raise ApiError(400, "invalid_parameter", f"{field} cannot be before {EARLIEST_DATE}", field)
    if parsed > datetime.now(UTC).date() + timedelta(days=1):
        raise ApiError(400, "invalid_parameter", f"{field} cannot be in the future", field)
    return parsed
