from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.http import endpoint

blueprint = Blueprint(__name__)


@blueprint.route("/health", methods=["GET"])
@endpoint(blueprint, role=None)
def health() -> dict[str, Any]:
    """Liveness only: it touches no AWS service, so it stays cheap and says nothing about the data."""
    return {"status": "ok", "service": "dunwell"}
