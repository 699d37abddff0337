"""Staff routes of the personal portal links (services/portal_links.py): mail a fresh link to a customer's contacts,
or revoke every link of a customer (which also ends the portal sessions opened from them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import actor, endpoint, error_response, known_id
from chalicelib.services.portal_links import TooManyRequests
from chalicelib.services.ports import Role

blueprint = Blueprint(__name__)


@blueprint.route("/customers/{customer_id}/portal-links", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
def send_portal_links(customer_id: str) -> dict[str, Any] | Response:
    """Mail each contact of the customer (with an address that has not bounced) a fresh personal link."""
    known_id("customer", customer_id)
    try:
        sent = bootstrap.portal_links().send_fresh(customer_id, actor(blueprint), datetime.now(UTC))
    except TooManyRequests as exc:
        return _too_many(exc)
    return {"customer_id": customer_id, "sent": sent}


@blueprint.route("/customers/{customer_id}/portal-links", methods=["DELETE"])
@endpoint(blueprint, role=Role.COLLECTOR)
def revoke_portal_links(customer_id: str) -> dict[str, Any]:
    """Revoke every link of the customer at once; the portal sessions opened from them end with them."""
    known_id("customer", customer_id)
    revoked = bootstrap.portal_links().revoke_all(customer_id, actor(blueprint), datetime.now(UTC))
    return {"customer_id": customer_id, "revoked": revoked}


def _too_many(exc: TooManyRequests) -> Response:
    response = error_response(429, exc.code, exc.message)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response
