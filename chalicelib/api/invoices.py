from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import (
    PAGING,
    ApiError,
    decode_cursor,
    endpoint,
    page,
    page_limit,
    parse_bool,
    parse_date,
    query_params,
    query_values,
)
from chalicelib.api.views import invoice_view
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import is_valid_id
from chalicelib.domain.invoice import OUTSTANDING_STATUSES, InvoiceStatus
from chalicelib.services.ports import InvoiceFilter, Role

blueprint = Blueprint(__name__)


def _statuses(values: list[str]) -> tuple[InvoiceStatus, ...]:
    """`status`, comma-separated or repeated: at most one entry per known status (more can only repeat one or
    name an unknown one), each once, in the order given."""
    allowed = ", ".join(s.value for s in InvoiceStatus)
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if len(names) > len(InvoiceStatus):
        raise ApiError(400, "invalid_parameter", f"status lists at most {len(InvoiceStatus)} statuses, of: {allowed}",
                       "status")
    try:
        return tuple(dict.fromkeys(InvoiceStatus(name) for name in names))
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"status must be one or more of: {allowed}", "status") from None


@blueprint.route("/invoices", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("status", "customer_id", "overdue", "due_before", "due_after", *PAGING))
def list_invoices() -> dict[str, Any]:
    params = query_params(blueprint)
    today = datetime.now(UTC).date()
    statuses = _statuses(query_values(blueprint, "status"))
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
        raise NotFound("invoice", invoice_id)
    return invoice_view(invoice, datetime.now(UTC).date())


# Binary answers: app.py lists these content types in binary_types, so API Gateway (and the local gateway) pass the
# bytes through; a client must accept them (`Accept: application/pdf` or `*/*`, as browsers and curl send).
PDF, XML = "application/pdf", "application/xml"


def _document(body: bytes, content_type: str, filename: str, source: str) -> Response:
    return Response(body=body, status_code=200, headers={
        "Content-Type": content_type, "Content-Disposition": f'inline; filename="{filename}"',
        "X-Dunwell-Document": source, "Cache-Control": "private, no-store"})


@blueprint.route("/invoices/{invoice_id}/pdf", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def invoice_pdf(invoice_id: str) -> Response:
    """The ERP's own PDF when it dropped one (the document of record), else Dunwell's rendering."""
    if not is_valid_id(invoice_id):
        raise NotFound("invoice", invoice_id)
    document = bootstrap.invoice_documents().pdf(invoice_id)
    return _document(document.body, PDF, document.filename, document.source)


@blueprint.route("/invoices/{invoice_id}/ubl", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def invoice_ubl(invoice_id: str) -> Response:
    """The UBL XML of an invoice that came as UBL, as received (the latest version)."""
    if not is_valid_id(invoice_id):
        raise NotFound("invoice", invoice_id)
    document = bootstrap.invoice_documents().ubl(invoice_id)
    return _document(document.body, XML, document.filename, document.source)
