"""Payment predictions for staff: GET /reports/predictions (README: "Payment prediction and cash forecast")."""

from __future__ import annotations

from datetime import UTC, datetime
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
