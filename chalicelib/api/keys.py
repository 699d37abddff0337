"""API keys, managed by admins: issue (the secret is shown once), list (never a secret), revoke."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import (
    PAGING,
    ApiError,
    actor,
    endpoint,
    index_page,
    json_body,
    query_params,
)
from chalicelib.domain.errors import NotFound
from chalicelib.services.api_keys import MAX_NAME
from chalicelib.services.ports import KeyRecord, Role

blueprint = Blueprint(__name__)
ROLES = tuple(r.label for r in Role)


def key_view(record: KeyRecord) -> dict[str, Any]:
    return {
        "id": record.key_id,
        "name": record.name,
        "role": record.role.label,
        "created_at": record.created_at.isoformat(),
        "created_by": record.created_by,
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
        "revoked_by": record.revoked_by,
    }



@blueprint.route("/api-keys", methods=["POST"])
@endpoint(blueprint, role=Role.ADMIN, body=("name", "role"))
def issue_key() -> Response:
    body = json_body(blueprint)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ApiError(400, "invalid_parameter", f"name is required: a string of 1 to {MAX_NAME} characters", "name")
    role = body.get("role")
    if role not in ROLES:
        raise ApiError(400, "invalid_parameter", f"role is required: one of {', '.join(ROLES)}", "role")
    issued: Any = bootstrap.api_keys().issue(name, str(role), actor=actor(blueprint))
    view = {"id": issued.key_id, "name": issued.name, "role": issued.role.label,
            "created_at": issued.created_at.isoformat(), "created_by": issued.created_by,
            "revoked_at": None, "revoked_by": None, "api_key": issued.api_key}
    return Response(body=view, status_code=201, headers={"Cache-Control": "no-store"})


@blueprint.route("/api-keys", methods=["GET"])
@endpoint(blueprint, role=Role.ADMIN, query=PAGING)
def list_keys() -> dict[str, Any]:
    return index_page(query_params(blueprint), bootstrap.api_keys().list, key_view)


@blueprint.route("/api-keys/{key_id}", methods=["DELETE"])
@endpoint(blueprint, role=Role.ADMIN)
def revoke_key(key_id: str) -> dict[str, Any]:
    record: KeyRecord | None = bootstrap.api_keys().revoke(key_id, actor(blueprint))
    if record is None:
        raise NotFound("api key", key_id)
    return key_view(record)
