"""Letters for the post: the print queue, each letter's PDF, and marking a letter posted (services/letters.py); the
statement of account as a PDF (services/statement_mail.py)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.http import PAGING, ApiError, actor, endpoint, index_page, parse_date, query_params
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import is_valid_id
from chalicelib.domain.letters import LETTER_STATUSES, Letter
from chalicelib.services.ports import Role

blueprint = Blueprint(__name__)
LETTER_ID = re.compile(r"^ltr-[0-9a-f]{20}$")


def _letter_id(letter_id: str) -> str:
    if not LETTER_ID.match(letter_id):
        raise NotFound("letter", letter_id[:40], field="letter_id")
    return letter_id


def _view(letter: Letter) -> dict[str, Any]:
    return letter.to_dict()


@blueprint.route("/letters", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("status", *PAGING))
def list_letters() -> dict[str, Any]:
    """The print queue (`status=to_print`, the default) or the letters posted, oldest first."""
    status = query_params(blueprint).get("status", "to_print")
    if status not in LETTER_STATUSES:
        raise ApiError(400, "invalid_parameter", f"status must be one of: {', '.join(LETTER_STATUSES)}", "status")
    return index_page(query_params(blueprint), functools.partial(bootstrap.letters().to_print, status), _view)


@blueprint.route("/letters/{letter_id}", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def get_letter(letter_id: str) -> dict[str, Any]:
    return _view(bootstrap.letters().get(_letter_id(letter_id)))


@blueprint.route("/letters/{letter_id}/pdf", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER)
def letter_pdf(letter_id: str) -> Response:
    letter, body = bootstrap.letters().pdf(_letter_id(letter_id))
    return Response(body=body, status_code=200, headers={
        "Content-Type": "application/pdf", "Content-Disposition": f'inline; filename="{letter.letter_id}.pdf"',
        "Cache-Control": "private, no-store"})


@blueprint.route("/letters/{letter_id}/posted", methods=["POST"])
@endpoint(blueprint, role=Role.COLLECTOR)
def mark_posted(letter_id: str) -> dict[str, Any]:
    """The letter went into the post; marking it again answers the letter as it is."""
    return _view(bootstrap.letters().mark_posted(_letter_id(letter_id), actor(blueprint)))


@blueprint.route("/customers/{customer_id}/statement.pdf", methods=["GET"])
@endpoint(blueprint, role=Role.VIEWER, query=("as_of",))
def statement_pdf(customer_id: str) -> Response:
    """The statement of account as of `as_of` (default: today, UTC), in the customer's language."""
    if not is_valid_id(customer_id):
        raise NotFound("customer", customer_id[:40], field="customer_id")
    as_of = parse_date(query_params(blueprint), "as_of") or datetime.now(UTC).date()
    document = bootstrap.statement_papers().pdf(customer_id, as_of)
    return Response(body=document.body, status_code=200, headers={
        "Content-Type": "application/pdf", "Content-Disposition": f'inline; filename="{document.filename}"',
        "Cache-Control": "private, no-store"})
