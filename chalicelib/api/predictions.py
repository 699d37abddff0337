"""Payment predictions and the cash forecast for staff: GET /reports/predictions, /reports/forecast and
/reports/forecast-accuracy (README: "Payment prediction and cash forecast")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalice import Blueprint

from chalicelib import bootstrap
from chalicelib.api.http import PAGING, ApiError, decode_cursor, endpoint, page, page_limit, parse_date, query_params
from chalicelib.domain.ids import is_valid_id
from chalicelib.services.ports import Role

blueprint = Blueprint(__name__)


@blueprint.route("/reports/predictions", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("as_of", "customer_id", *PAGING))
def list_predictions() -> dict[str, Any]:
    """Every invoice open at the end of as_of (default today) with its predicted pay date, late probability,
    expected days late and reasons, learnt only from what was known at as_of."""
    params = query_params(blueprint)
    as_of = parse_date(params, "as_of") or datetime.now(UTC).date()
    customer_id = params.get("customer_id")
    if customer_id is not None and not is_valid_id(customer_id):
        raise ApiError(400, "invalid_parameter", "customer_id is not an id", "customer_id")
    predicted, cursor = bootstrap.predictions().page(as_of, customer_id, page_limit(params), decode_cursor(params))
    return {"as_of": as_of.isoformat(), **page([p.to_dict() for p in predicted], cursor)}


def _currency(params: dict[str, str]) -> str | None:
    currency = params.get("currency")
    if currency is not None and (len(currency) != 3 or not currency.isalpha() or not currency.isupper()):
        raise ApiError(400, "invalid_parameter", "currency is an ISO 4217 code such as EUR", "currency")
    return currency


@blueprint.route("/reports/forecast", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("as_of", "weeks", "currency"))
def cash_forecast() -> dict[str, Any]:
    """Money expected per week from the invoices open at as_of: one block for `currency`, else one per currency."""
    from chalicelib.services.forecast import forecast_view

    params = query_params(blueprint)
    as_of = parse_date(params, "as_of") or datetime.now(UTC).date()
    raw_weeks = params.get("weeks", "13")
    if not raw_weeks.isdigit():
        raise ApiError(400, "invalid_parameter", "weeks must be a whole number", "weeks")
    currency = _currency(params)
    results = bootstrap.cash_forecast().forecast(as_of, int(raw_weeks), currency)
    if currency is not None:
        return forecast_view(currency, results[currency])
    return {"as_of": as_of.isoformat(), "currencies": [forecast_view(c, r) for c, r in results.items()]}


@blueprint.route("/reports/forecast-accuracy", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("from", "to", "currency"))
def forecast_accuracy() -> dict[str, Any]:
    """Each week from `from` against the forecasts made 1, 4 and 13 weeks before it: WAPE and bias."""
    params = query_params(blueprint)
    today = datetime.now(UTC).date()
    end = parse_date(params, "to") or today
    start = parse_date(params, "from") or end - timedelta(days=7 * 13 - 1)
    result: dict[str, Any] = bootstrap.cash_forecast().accuracy(start, end, _currency(params))
    return result
