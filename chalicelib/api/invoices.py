from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalice import Blueprint

from chalicelib import bootstrap
from chalicelib.api.http import (
    ApiError,
    NotFound,
    decode_cursor,
    endpoint,
    page,
    page_limit,
    parse_bool,
    parse_date,
    query_params,
)
from chalicelib.api.views import invoice_view
from chalicelib.domain.ids import is_valid_id
from chalicelib.domain.invoice import OUTSTANDING_STATUSES, InvoiceStatus
from chalicelib.services.api_keys import Role
from chalicelib.services.read_models import InvoiceFilter

blueprint = Blueprint(__name__)


def _statuses(raw: str | None) -> tuple[InvoiceStatus, ...]:
    if not raw:
        return ()
    try:
        return tuple(InvoiceStatus(s.strip()) for s in raw.split(",") if s.strip())
    except ValueError:
        allowed = ", ".join(s.value for s in InvoiceStatus)
        raise ApiError(400, "invalid_parameter", f"status must be one or more of: {allowed}", "status") from None


@blueprint.route("/invoices", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def list_invoices() -> dict[str, Any]:
    params = query_params(blueprint)
    today = datetime.now(UTC).date()
    statuses = _statuses(params.get("status"))
    due_before, due_after = parse_date(params, "due_before"), parse_date(params, "due_after")
    if parse_bool(params, "overdue"):
        # Overdue = outstanding and due before today; combined with any due_before given.
        statuses = tuple(s for s in (statuses or OUTSTANDING_STATUSES) if s in OUTSTANDING_STATUSES)
        due_before = min(due_before, today) if due_before else today
        if not statuses:
            return page([], None)
    customer_id = params.get("customer_id")
    if customer_id is not None and not is_valid_id(customer_id):
        raise ApiError(400, "invalid_parameter", "customer_id is not a valid id", "customer_id")
    if due_before and due_after and due_after >= due_before - timedelta(days=1):
        return page([], None)
    result = bootstrap.queries().invoices(
        InvoiceFilter(statuses, customer_id, due_before, due_after), page_limit(params), decode_cursor(params))
    return page([invoice_view(i, today) for i in result.items], result.cursor)


@blueprint.route("/invoices/{invoice_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_invoice(invoice_id: str) -> dict[str, Any]:
    invoice = bootstrap.queries().invoice(invoice_id) if is_valid_id(invoice_id) else None
    if invoice is None:
        raise NotFound(f"invoice {invoice_id}")
    return invoice_view(invoice, datetime.now(UTC).date())
