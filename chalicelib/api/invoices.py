from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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
from chalicelib.api.worklists import (
    EXPORT_PAGE,
    MAX_SEARCH,
    choice,
    collect,
    csv_response,
    currency_param,
    is_csv,
    refuse,
)
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import is_valid_id
from chalicelib.domain.invoice import OUTSTANDING_STATUSES, Invoice, InvoiceStatus
from chalicelib.services.ports import InvoiceFilter, Page, Role

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


SORTS = ("due_date", "-days_overdue", "-balance")
CSV_HEADER = ("number", "customer_id", "currency", "total", "balance", "issue_date", "due_date", "days_overdue",
              "status", "disputed_amount", "promised_until", "id")


def _filter(params: dict[str, str], statuses: tuple[InvoiceStatus, ...], today: date) -> InvoiceFilter | None:
    """The list asked for; None when it is empty by its own terms. Combinations that no index answers (they would
    need a Scan, or a filter over every open invoice) are 400 naming the parameter."""
    sort = choice(params, "sort", SORTS)
    currency = currency_param(params)
    search = params.get("q")
    if search is not None:
        search = search.strip()
        if not 1 <= len(search) <= MAX_SEARCH or not search.isprintable():
            raise ApiError(400, "invalid_parameter", f"q is 1 to {MAX_SEARCH} characters (an invoice number or "
                           "customer name prefix), printable text", "q")
        refuse(params, ("sort", "customer_id", "overdue", "due_before", "due_after", "currency"),
               "q (a search lists number matches, then the invoices of customers whose name matches)")
    if currency is not None and sort != "-balance":
        raise ApiError(400, "invalid_parameter", "currency goes with sort=-balance only", "currency")
    if sort != "due_date" and statuses:
        raise ApiError(400, "invalid_parameter", f"sort={sort} lists every open invoice; filter by status with "
                       "sort=due_date", "status")
    if sort == "-balance":
        refuse(params, ("overdue", "due_before", "due_after"), "sort=-balance (open invoices by balance)")
    due_before, due_after = parse_date(params, "due_before"), parse_date(params, "due_after")
    if parse_bool(params, "overdue"):
        # Overdue = outstanding and due before today; combined with any due_before given.
        if sort == "due_date":
            statuses = tuple(s for s in (statuses or OUTSTANDING_STATUSES) if s in OUTSTANDING_STATUSES)
            if not statuses:
                return None
        due_before = min(due_before, today) if due_before else today
    customer_id = params.get("customer_id")
    if customer_id is not None and not is_valid_id(customer_id):
        raise ApiError(400, "invalid_parameter", "customer_id is not a valid id", "customer_id")
    if due_before and due_after and due_after >= due_before - timedelta(days=1):
        return None
    return InvoiceFilter(statuses, customer_id, due_before, due_after, sort, currency, search)


@blueprint.route("/invoices", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("status", "customer_id", "overdue", "due_before", "due_after", "sort",
                                              "q", "currency", "format", *PAGING))
def list_invoices() -> dict[str, Any] | Response:
    params = query_params(blueprint)
    today = datetime.now(UTC).date()
    export = is_csv(params)
    wanted = _filter(params, _statuses(query_values(blueprint, "status")), today)
    queries = bootstrap.queries()
    if export:
        invoices: list[Invoice] = [] if wanted is None else collect(
            lambda cursor: _page(queries.invoices(wanted, EXPORT_PAGE, cursor)))
        return csv_response("invoices", today, CSV_HEADER, [_csv_row(i, today) for i in invoices])
    if wanted is None:
        return page([], None)
    result = queries.invoices(wanted, page_limit(params), decode_cursor(params))
    return page([invoice_view(i, today) for i in result.items], result.cursor)


def _page(result: Page) -> tuple[list[Any], dict[str, Any] | None]:
    return result.items, result.cursor


def _csv_row(invoice: Invoice, today: date) -> list[object]:
    view = invoice_view(invoice, today)
    return [view[name] if name != "id" else invoice.invoice_id for name in CSV_HEADER]


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
