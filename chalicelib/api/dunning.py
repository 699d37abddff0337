"""Dunning for staff: the dry run, running the sweep now, the kill switch and reference rates, collector tasks
and the agency hand-off export."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap, config
from chalicelib.api.http import (
    PAGING,
    ApiError,
    actor,
    endpoint,
    index_page,
    json_body,
    key_page,
    known_id,
    page_limit,
    parse_date,
    query_params,
    start_key,
    text_field,
)
from chalicelib.domain.dunning.policy import MAX_OFFSET_DAYS
from chalicelib.domain.errors import DomainError, Kind, NotFound, StaleVersion
from chalicelib.domain.ids import is_valid_id
from chalicelib.services.ports import Role

blueprint = Blueprint(__name__)
TASK_FIELDS = ("title", "customer_id", "invoice_id", "note")
MAX_TASK_ID = 1024  # task ids are built from other ids; longer is no task (and past DynamoDB's key size)


class SimulatedClockDisabled(DomainError):
    """A run as of another day than today, where the deployment does not allow one (production)."""

    code = "simulated_clock_disabled"
    kind = Kind.FORBIDDEN


class InvalidSettings(DomainError):
    code = "invalid_settings"



@blueprint.route("/dunning/preview", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("as_of",))
def preview() -> dict[str, Any]:
    as_of = parse_date(query_params(blueprint), "as_of") or datetime.now(UTC).date()
    items = bootstrap.dunning_service().preview(as_of)
    counts: dict[str, int] = {}
    for item in items:
        counts[item["action"]] = counts.get(item["action"], 0) + 1
    return {"as_of": as_of.isoformat(), "counts": counts, "items": items}


@blueprint.route("/dunning/runs", methods=["POST"])
@endpoint(blueprint, role=Role.ADMIN, body=("as_of",))
def run_now() -> dict[str, Any]:
    body = json_body(blueprint) if blueprint.current_request.raw_body else {}
    as_of: date | None = None
    if body.get("as_of") is not None:
        if not config.settings().allow_simulated_clock:
            raise SimulatedClockDisabled(
                "as_of (a simulated clock) is allowed only where DUNWELL_ALLOW_SIMULATED_CLOCK=true, never in "
                "production; omit it to run as of now", "as_of")
        as_of = parse_date({"as_of": str(body["as_of"])}, "as_of")
    # The API's Lambda has 29 s: stop with `more_due` when 5 s are left rather than time out mid-customer.
    context = getattr(blueprint.current_request, "lambda_context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    # Plans first: a plan that breaks puts its invoices back on the ladder for the invoice sweep that follows.
    plans: Any = bootstrap.plan_service().sweep(as_of=as_of, time_left_ms=remaining, reserve_ms=10_000)
    summary: Any = bootstrap.dunning_service().run(as_of=as_of, time_left_ms=remaining, reserve_ms=5_000)
    return {**summary.to_dict(), "plans": plans.to_dict()}


@blueprint.route("/dunning/settings", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_settings() -> dict[str, Any]:
    settings: Any = bootstrap.dunning_settings_admin().current()
    return {**settings.to_dict(), "version": settings.version}


@blueprint.route("/dunning/settings", methods=["PUT"])
@endpoint(blueprint, role=Role.ADMIN, body=("kill_switch", "reference_rates", "version", "max_catch_up_days",
                                           "policy_by_risk"))
def put_settings() -> dict[str, Any]:
    from chalicelib.domain.dunning.charges import RateTable

    body = json_body(blueprint)
    admin = bootstrap.dunning_settings_admin()
    current = admin.current()
    if "version" in body and body["version"] != current.version:
        raise StaleVersion(f"settings are at version {current.version}; read them again and retry")
    updated = current
    if "kill_switch" in body:
        if not isinstance(body["kill_switch"], bool):
            raise InvalidSettings("kill_switch must be true or false", "kill_switch")
        updated = replace(updated, kill_switch=body["kill_switch"])
    if "max_catch_up_days" in body:
        days = body["max_catch_up_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_OFFSET_DAYS:
            raise InvalidSettings(f"max_catch_up_days must be a whole number from 0 to {MAX_OFFSET_DAYS}",
                                  "max_catch_up_days")
        updated = replace(updated, max_catch_up_days=days)
    if "reference_rates" in body:
        if not isinstance(body["reference_rates"], list):
            raise InvalidSettings("reference_rates must be a list of rows", "reference_rates")
        for index, row in enumerate(body["reference_rates"]):
            _check_rate_row(row, f"reference_rates[{index}]")
        updated = replace(updated, rate_table=RateTable.from_rows(body["reference_rates"]))
    if "policy_by_risk" in body:
        updated = replace(updated, policy_by_risk=_policy_by_risk(body["policy_by_risk"]))
    saved = admin.save(current, updated, actor(blueprint))
    return {**saved.to_dict(), "version": saved.version}


def _policy_by_risk(raw: Any) -> dict[str, str]:
    """{band: policy_id}: bands low, medium, high; each policy must exist (README: policies by risk band)."""
    from chalicelib.domain.analytics.behaviour import validate_policy_by_risk

    try:
        by_risk = validate_policy_by_risk(raw)
    except ValueError as exc:
        raise InvalidSettings(str(exc), "policy_by_risk") from None
    admin = bootstrap.settings_admin()
    for band, policy_id in by_risk.items():
        try:
            admin.policy(policy_id)
        except NotFound:
            raise InvalidSettings(f"policy_by_risk.{band}: no policy {policy_id!r}",
                                  f"policy_by_risk.{band}") from None
    return by_risk


def _check_rate_row(row: Any, path: str) -> None:
    """The shape of one reference-rate row; RateTable then checks the values (scheme, half-year, duplicates)."""
    if not isinstance(row, dict):
        raise InvalidSettings(f"{path} must be an object {{scheme, valid_from, rate, source}}", path)
    kinds = {"scheme": (str,), "valid_from": (str,), "rate": (str, int), "source": (str,)}
    for name, allowed in kinds.items():
        value = row.get(name)
        if (value is None and name == "source") or (isinstance(value, allowed) and not isinstance(value, bool)):
            continue
        what = "a string" if allowed == (str,) else "a decimal string"
        raise InvalidSettings(f"{path}.{name} must be {what}", f"{path}.{name}")
    unknown = sorted(set(row) - set(kinds))
    if unknown:
        raise InvalidSettings(f"{path} has unknown fields {unknown}", f"{path}.{unknown[0]}")


def _task_view(task: Any) -> dict[str, Any]:
    return {"id": task.task_id, "kind": task.kind, "title": task.title, "status": task.status,
            "customer_id": task.customer_id, "invoice_id": task.invoice_id, "detail": task.detail,
            "created_at": task.created_at.isoformat(), "created_by": task.created_by,
            "completed_at": task.completed_at.isoformat() if task.completed_at else None,
            "completed_by": task.completed_by}


@blueprint.route("/tasks", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("status", *PAGING))
def list_tasks() -> dict[str, Any]:
    params = query_params(blueprint)
    status = params.get("status", "open")
    if status not in ("open", "done"):
        raise ApiError(400, "invalid_parameter", "status must be open or done", "status")
    return index_page(params, functools.partial(bootstrap.tasks().list, status), _task_view)


@blueprint.route("/tasks", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR, body=TASK_FIELDS)
def create_task() -> Response:
    """A task opened by hand: a call to make, a document to chase."""
    body = json_body(blueprint)
    title = text_field(body, "title", required=True, limit=500)
    note = text_field(body, "note", required=False)
    assert title is not None
    subjects: dict[str, str | None] = {}
    for name in ("customer_id", "invoice_id"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or not is_valid_id(value)):
            raise ApiError(400, "invalid_parameter", f"{name} is not an id", name)
        subjects[name] = value
    task = bootstrap.task_desk().open_by_hand(title, note, subjects["customer_id"], subjects["invoice_id"],
                                              actor(blueprint))
    return Response(body=_task_view(task), status_code=201)


@blueprint.route("/tasks/{task_id}/complete", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
def complete_task(task_id: str) -> dict[str, Any]:
    task = None
    if len(task_id) <= MAX_TASK_ID:
        task = bootstrap.task_desk().complete(task_id, actor(blueprint))
    if task is None:
        raise NotFound("task", task_id)
    return _task_view(task)


@blueprint.route("/dunning/review", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=PAGING)
def list_held_for_review() -> dict[str, Any]:
    """Invoices Dunwell will not chase until a collector releases them (too old at import, or a ladder that
    cannot reach its next step honestly), with why, newest first."""
    from chalicelib.api.views import invoice_view

    params = query_params(blueprint)
    tasks, last_key = bootstrap.tasks().list_open_of_kind("dunning_review", page_limit(params), start_key(params))
    invoices = bootstrap.ledger().get_invoices([t.invoice_id for t in tasks if t.invoice_id])
    today = datetime.now(UTC).date()
    items = [{"task_id": t.task_id, "reason": t.detail.get("reason"), "held_at": t.created_at.isoformat(),
              "invoice": invoice_view(invoices[t.invoice_id], today)}
             for t in tasks if t.invoice_id in invoices]
    return key_page(items, last_key)


@blueprint.route("/invoices/{invoice_id}/release", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
def release_for_dunning(invoice_id: str) -> dict[str, Any]:
    """Lets the sweep chase an invoice held for review, starting with the neutral first notice."""
    from chalicelib.api.views import invoice_view

    known_id("invoice", invoice_id)
    invoice = bootstrap.dunning_service().release_for_review(invoice_id, actor(blueprint))
    return invoice_view(invoice, datetime.now(UTC).date())


@blueprint.route("/invoices/{invoice_id}/agency-export", methods=["GET"])
@endpoint(blueprint, role=Role.COLLECTOR)
def agency_export(invoice_id: str) -> dict[str, Any]:
    known_id("invoice", invoice_id)
    export: dict[str, Any] = bootstrap.dunning_service().agency_export(invoice_id)
    return export
