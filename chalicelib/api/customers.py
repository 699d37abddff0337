from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import (
    PAGING,
    ApiError,
    actor,
    decode_cursor,
    endpoint,
    json_body,
    page,
    page_limit,
    query_params,
)
from chalicelib.api.views import customer_view, money_map
from chalicelib.api.worklists import EXPORT_PAGE, choice, collect, csv_response, currency_param, is_csv
from chalicelib.domain.customer import Customer
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import is_valid_id
from chalicelib.services.ports import CustomerBalance, Role
from chalicelib.services.settings_admin import CUSTOMER_FIELDS

blueprint = Blueprint(__name__)


SORTS = ("name", "-balance", "-overdue")
CSV_HEADER = ("id", "name", "currency", "balance", "overdue", "credit_hold", "dunning_paused")


@blueprint.route("/customers", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("sort", "currency", "format", *PAGING))
def list_customers() -> dict[str, Any] | Response:
    """Customers with their open balance and the part of it overdue today, per currency. By name (every customer),
    or by balance / overdue amount in one currency, largest first (the customers with an open balance in it)."""
    params = query_params(blueprint)
    today = datetime.now(UTC).date()
    sort = choice(params, "sort", SORTS)
    currency = currency_param(params)
    export = is_csv(params)
    if sort == "name":
        if currency is not None:
            raise ApiError(400, "invalid_parameter", "currency goes with sort=-balance or sort=-overdue", "currency")
        fetch = _by_name(today)
    else:
        fetch = _by_amount(today, sort, currency)
    if export:
        rows = collect(lambda cursor: fetch(cursor, EXPORT_PAGE))
        return csv_response("customers", today, CSV_HEADER, [line for row in rows for line in _csv_lines(row)])
    items, cursor = fetch(decode_cursor(params), page_limit(params))
    return page(items, cursor)


Fetch = Callable[[dict[str, Any] | None, int], tuple[list[dict[str, Any]], dict[str, Any] | None]]


def _view(customer: Customer, balances: list[CustomerBalance]) -> dict[str, Any]:
    view = customer_view(customer)
    view["balance"] = money_map({b.currency: b.balance for b in balances})
    view["overdue"] = money_map({b.currency: b.overdue for b in balances})
    return view


def _by_name(today: date) -> Fetch:
    def fetch(cursor: dict[str, Any] | None, limit: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        result = bootstrap.queries().customers(limit, cursor)
        customers: list[Customer] = result.items
        balances: dict[str, list[CustomerBalance]] = {}
        for b in bootstrap.open_balances().balances_of([c.customer_id for c in customers], today):
            balances.setdefault(b.customer_id, []).append(b)
        return [_view(c, balances.get(c.customer_id, [])) for c in customers], result.cursor
    return fetch


def _by_amount(today: date, sort: str, currency: str | None) -> Fetch:
    """From the open balances (largest first), in one currency: amounts in two currencies do not compare. Pages
    are offsets into that order (ties by customer id), so a page is stable while the balances do not move."""
    rows = bootstrap.open_balances().customer_balances(today, currency)
    currencies = sorted({r.currency for r in rows})
    if currency is None and len(currencies) > 1:
        raise ApiError(400, "invalid_parameter", f"sort={sort} compares amounts in one currency: add currency= one "
                       f"of {', '.join(currencies)}", "currency")
    rows = [r for r in rows if currency is None or r.currency == currency]
    if sort == "-overdue":
        rows.sort(key=lambda r: (-r.overdue.minor, -r.balance.minor, r.customer_id))
    else:
        rows.sort(key=lambda r: (-r.balance.minor, r.customer_id))

    def fetch(cursor: dict[str, Any] | None, limit: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        offset = int(cursor["k"]["o"]["N"]) if cursor and cursor.get("k") else 0
        chosen = rows[offset:offset + limit]
        found = bootstrap.customers().get_customers([r.customer_id for r in chosen])
        items = [_view(found[r.customer_id].customer, [r]) for r in chosen if r.customer_id in found]
        more = offset + limit < len(rows)
        return items, {"p": 0, "k": {"o": {"N": str(offset + limit)}}} if more else None
    return fetch


def _csv_lines(view: dict[str, Any]) -> list[list[object]]:
    """One line per currency the customer owes in (one line with empty amounts when it owes nothing)."""
    overdue = {m["currency"]: m["amount"] for m in view["overdue"]}
    common = (view["id"], view["name"])
    tail = (view["credit_hold"], view["dunning_paused"])
    if not view["balance"]:
        return [[*common, "", "", "", *tail]]
    return [[*common, m["currency"], m["amount"], overdue.get(m["currency"], ""), *tail] for m in view["balance"]]


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
