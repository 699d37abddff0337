"""What the work lists (GET /invoices, GET /customers) share: their `sort`, `currency` and `format` parameters,
and the CSV export of every row a list's filters select."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from chalice import Response

from chalicelib.api.http import ApiError
from chalicelib.domain.currencies import is_known_currency

EXPORT_CAP = 10_000  # rows one CSV export holds; a list that selects more is refused (400), never cut short
EXPORT_PAGE = 200
FORMATS = ("json", "csv")
MAX_SEARCH = 100


def choice(params: dict[str, str], name: str, allowed: Sequence[str]) -> str:
    """The parameter's value, one of `allowed` (the first is the default)."""
    value = params.get(name, allowed[0])
    if value not in allowed:
        raise ApiError(400, "invalid_parameter", f"{name} must be one of: {', '.join(allowed)}", name)
    return value


def currency_param(params: dict[str, str]) -> str | None:
    value = params.get("currency")
    if value is None:
        return None
    if not (len(value) == 3 and value.isascii() and value.isupper() and is_known_currency(value)):
        raise ApiError(400, "invalid_parameter", "currency must be an ISO 4217 code such as \"EUR\"", "currency")
    return value


def is_csv(params: dict[str, str]) -> bool:
    """format=csv exports every row at once: paging parameters make no sense with it."""
    if choice(params, "format", FORMATS) != "csv":
        return False
    for name in ("cursor", "limit"):
        if name in params:
            raise ApiError(400, "invalid_parameter", f"format=csv exports every row (up to {EXPORT_CAP}); it takes "
                           f"no {name}", name)
    return True


def refuse(params: dict[str, str], names: Sequence[str], why: str) -> None:
    """400 for the first of `names` given: a combination no index answers."""
    for name in names:
        if name in params:
            raise ApiError(400, "invalid_parameter", f"{name} cannot be combined with {why}", name)


def collect(fetch: Callable[[dict[str, Any] | None], tuple[list[Any], dict[str, Any] | None]]) -> list[Any]:
    """Every row of a list, page after page (fetch(cursor) -> rows, next cursor), up to EXPORT_CAP: more is 400."""
    rows: list[Any] = []
    cursor: dict[str, Any] | None = None
    while True:
        items, cursor = fetch(cursor)
        rows.extend(items)
        if len(rows) > EXPORT_CAP:
            raise ApiError(400, "invalid_parameter", f"the export would hold more than {EXPORT_CAP} rows; narrow the "
                           "filters (or page through the JSON list)", "format")
        if cursor is None:
            return rows


def csv_response(name: str, today: date, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Response:
    # Imported here: the formats package loads every file parser (and defusedxml), which lists never need.
    from chalicelib.formats.csv_export import CONTENT_TYPE, to_csv

    return Response(body=to_csv(header, rows), status_code=200, headers={
        "Content-Type": CONTENT_TYPE,
        "Content-Disposition": f'attachment; filename="{name}-{today.isoformat()}.csv"',
    })
