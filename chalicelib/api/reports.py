"""Reports: aging and collection metrics as of any day (chalicelib/services/reports.py)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import (
    PAGING,
    ApiError,
    decode_cursor,
    encode_cursor,
    endpoint,
    page_limit,
    parse_date,
    query_params,
)
from chalicelib.domain.currencies import is_known_currency
from chalicelib.domain.ids import is_valid_id
from chalicelib.services.ports import Role

blueprint = Blueprint(__name__)

FORMATS = ("json", "csv")


def _currency(params: dict[str, str]) -> str | None:
    value = params.get("currency")
    if value is None:
        return None
    if not is_known_currency(value.upper()):
        raise ApiError(400, "invalid_parameter", "currency must be an ISO 4217 code such as EUR", "currency")
    return value.upper()


def _not_future(params: dict[str, str], name: str) -> Any:
    day = parse_date(params, name)
    today = bootstrap.reports().today()
    if day is not None and day > today:
        raise ApiError(400, "invalid_parameter", f"{name} is in the future (today is {today})", name)
    return day


@blueprint.route("/reports/aging", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("as_of", "currency", "customer_id", "format", *PAGING))
def aging_report() -> Any:
    params = query_params(blueprint)
    as_of = _not_future(params, "as_of")
    currency = _currency(params)
    customer_id = params.get("customer_id")
    if customer_id is not None and not is_valid_id(customer_id):
        raise ApiError(400, "invalid_parameter", "customer_id is not a customer id", "customer_id")
    shape = params.get("format", "json")
    if shape not in FORMATS:
        raise ApiError(400, "invalid_parameter", "format must be json or csv", "format")
    service = bootstrap.reports()
    if shape == "csv":
        # Here, not at import: the formats package loads its parsers (cold start).
        from chalicelib.formats.csv_export import CONTENT_TYPE, to_csv

        header, rows = service.aging_rows(as_of, currency, customer_id)
        day = (as_of or service.today()).isoformat()
        name = f"aging-{day}{'-' + currency if currency else ''}.csv"
        return Response(body=to_csv(header, rows), status_code=200,
                        headers={"Content-Type": CONTENT_TYPE, "Content-Disposition": f'attachment; filename="{name}"'})
    report = service.aging(as_of, currency, customer_id, page_limit(params), decode_cursor(params))
    if "next_page" in report:
        report["next_cursor"] = encode_cursor(report.pop("next_page"))
    return report


@blueprint.route("/reports/metrics", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("from", "to", "currency"))
def metrics_report() -> dict[str, Any]:
    params = query_params(blueprint)
    start = parse_date(params, "from")
    end = _not_future(params, "to")
    if start is not None and end is not None and start > end:
        raise ApiError(400, "invalid_parameter", "from is after to", "from")
    return bootstrap.reports().metrics(start, end, _currency(params))
