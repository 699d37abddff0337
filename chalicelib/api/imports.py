from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint

from chalicelib import bootstrap
from chalicelib.api.http import PAGING, cursor_page, endpoint, query_params
from chalicelib.api.views import import_view
from chalicelib.domain.errors import NotFound
from chalicelib.services.ports import Role

blueprint = Blueprint(__name__)


@blueprint.route("/imports", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=PAGING)
def list_imports() -> dict[str, Any]:
    return cursor_page(query_params(blueprint), bootstrap.queries().imports, import_view)


@blueprint.route("/imports/{import_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_import(import_id: str) -> dict[str, Any]:
    record = bootstrap.queries().import_record(import_id) if re.fullmatch(r"imp_[0-9a-f]{24}", import_id) else None
    if record is None:
        raise NotFound("import", import_id)
    return import_view(record, detail=True)
