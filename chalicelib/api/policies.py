from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint

from chalicelib import bootstrap
from chalicelib.api.http import actor, endpoint, json_body
from chalicelib.domain.dunning.policy import POLICY_FIELDS
from chalicelib.domain.errors import NotFound
from chalicelib.services.ports import Role

blueprint = Blueprint(__name__)
POLICY_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@blueprint.route("/policies", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def list_policies() -> dict[str, Any]:
    return {"items": [p.to_dict() for p in bootstrap.settings_admin().all_policies()], "next_cursor": None}


@blueprint.route("/policies/{policy_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_policy(policy_id: str) -> dict[str, Any]:
    if not POLICY_ID.fullmatch(policy_id):  # what a saved policy's id must be: no other id can exist
        raise NotFound("policy", policy_id)
    policy: Any = bootstrap.settings_admin().policy(policy_id)
    return dict(policy.to_dict())


@blueprint.route("/policies/{policy_id}", methods=["PUT"])
@endpoint(blueprint, role=Role.ADMIN, body=POLICY_FIELDS)
def put_policy(policy_id: str) -> dict[str, Any]:
    who = actor(blueprint)
    policy: Any = bootstrap.settings_admin().put_policy(policy_id, json_body(blueprint), who)
    return dict(policy.to_dict())
