from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice import Blueprint

from chalicelib import bootstrap
from chalicelib.api.http import (
    PAGING,
    actor,
    decode_cursor,
    endpoint,
    json_body,
    page,
    page_limit,
    query_params,
)
from chalicelib.api.views import customer_view, money_map
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import is_valid_id
from chalicelib.services.ports import Role
from chalicelib.services.settings_admin import CUSTOMER_FIELDS

blueprint = Blueprint(__name__)


@blueprint.route("/customers", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=PAGING)
def list_customers() -> dict[str, Any]:
    params = query_params(blueprint)
    result = bootstrap.queries().customers(page_limit(params), decode_cursor(params))
    return page([customer_view(c) for c in result.items], result.cursor)


@blueprint.route("/customers/{customer_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_customer(customer_id: str) -> dict[str, Any]:
    queries = bootstrap.queries()
    customer = queries.customer(customer_id) if is_valid_id(customer_id) else None
    if customer is None:
        raise NotFound("customer", customer_id)
    today = datetime.now(UTC).date()
    summary = queries.balance_summary(customer_id, today)
    view = customer_view(customer)
    view["balance"] = {
        "outstanding": money_map(summary.outstanding),
        "overdue": money_map(summary.overdue),
        "unapplied_credit": money_map(summary.unapplied_credit),
        "open_invoices": summary.open_invoices,
        "overdue_invoices": summary.overdue_invoices,
        "oldest_overdue_due_date": summary.oldest_due_date.isoformat() if summary.oldest_due_date else None,
        "as_of": today.isoformat(),
    }
    behaviour, risk = bootstrap.settlement_log().profile(customer_id, today)
    view["behaviour"] = behaviour.to_dict()
    view["risk"] = risk.to_dict()
    return view


@blueprint.route("/customers/{customer_id}", methods=["PATCH"])
@endpoint(blueprint, role=Role.COLLECTOR, body=CUSTOMER_FIELDS)
def update_customer(customer_id: str) -> dict[str, Any]:
    """Change how a customer is chased: policy_id, dunning_paused, contacts, language, timezone."""
    if not is_valid_id(customer_id):
        raise NotFound("customer", customer_id)
    who = actor(blueprint)
    customer = bootstrap.settings_admin().update_customer(customer_id, json_body(blueprint), who)
    return customer_view(customer)
