"""HTTP concerns shared by every route: authentication and roles, one map from errors to status
codes, JSON bodies, query parameters and opaque cursors."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.domain.errors import DomainError
from chalicelib.observability import logger
from chalicelib.services.api_keys import Principal, Role
from chalicelib.services.ports import VersionConflict

MAX_PAGE = 200
DEFAULT_PAGE = 50
ROLE_ATTRIBUTE = "dunwell_role"  # set by `endpoint` on each view it wraps: the role the route needs

F = TypeVar("F", bound=Callable[..., Any])


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


class NotFound(ApiError):
    def __init__(self, what: str) -> None:
        super().__init__(404, "not_found", f"{what} not found")


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="dunwell"'
    return Response(body={"error": error}, status_code=status, headers=headers)


def _principal(blueprint: Blueprint) -> Principal:
    header = str(blueprint.current_request.headers.get("authorization") or "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "send an API key as 'Authorization: Bearer <key>'")
    principal: Principal | None = bootstrap.api_keys().authenticate(token.strip())
    if principal is None:
        raise ApiError(401, "unauthenticated", "the API key is unknown or revoked")
    return principal


def endpoint(blueprint: Blueprint, role: Role | None) -> Callable[[F], F]:
    """Wraps a view: checks the bearer key's role (None = public) and maps every error to one shape."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                if role is not None:
                    principal = _principal(blueprint)
                    if principal.role < role:
                        raise ApiError(403, "forbidden", f"this needs the {role.label} role; the key "
                                       f"'{principal.name}' is {principal.role.label}")
                    blueprint.current_request.context["dunwell_principal"] = principal.name
                return view(*args, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message, exc.field)
            except DomainError as exc:
                return error_response(404 if exc.code == "not_found" else 422, exc.code, exc.message, exc.field)
            except VersionConflict as exc:
                return error_response(409, "conflict", f"{exc}; read it again and retry")
            except Exception:
                logger.exception("unhandled error in API view")
                return error_response(500, "internal", "internal error; it has been logged")

        setattr(wrapper, ROLE_ATTRIBUTE, role)
        return wrapper  # type: ignore[return-value]

    return decorate


def required_role(view: Callable[..., Any]) -> Role | None:
    """The role an `endpoint` view needs (None: public). LookupError for a view `endpoint` did not wrap."""
    if not hasattr(view, ROLE_ATTRIBUTE):
        raise LookupError(f"{getattr(view, '__name__', view)!r} is not wrapped by endpoint()")
    role: Role | None = getattr(view, ROLE_ATTRIBUTE)
    return role


def actor(blueprint: Blueprint) -> str:
    """Who is calling, as audit events name them: `key:<API key name>`."""
    return f"key:{blueprint.current_request.context.get('dunwell_principal', 'unknown')}"


def query_params(blueprint: Blueprint) -> dict[str, str]:
    return dict(blueprint.current_request.query_params or {})


# Dates the API takes lie in this range: outside it they are typos, and date arithmetic near year 1 or 9999
# would overflow.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def parse_date(params: dict[str, str], name: str) -> date | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be a date as YYYY-MM-DD", name) from None
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise ApiError(400, "invalid_parameter", f"{name} must be a date from {EARLIEST_DATE} to {LATEST_DATE}", name)
    return parsed


def parse_bool(params: dict[str, str], name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise ApiError(400, "invalid_parameter", f"{name} must be true or false", name)


def page_limit(params: dict[str, str]) -> int:
    raw = params.get("limit", str(DEFAULT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(400, "invalid_parameter", f"limit must be a whole number from 1 to {MAX_PAGE}", "limit")
    return int(raw)


def decode_cursor(params: dict[str, str]) -> dict[str, Any] | None:
    raw = params.get("cursor")
    if not raw:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        raise ApiError(400, "invalid_cursor", "cursor is not one this API returned", "cursor") from None
    valid = isinstance(decoded, dict) and isinstance(decoded.get("p"), int) and decoded["p"] >= 0 \
        and isinstance(decoded.get("k"), dict | None)
    if not valid:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API returned", "cursor")
    cursor: dict[str, Any] = decoded
    return cursor


def encode_cursor(cursor: dict[str, Any] | None) -> str | None:
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode().rstrip("=")


def page(items: list[dict[str, Any]], cursor: dict[str, Any] | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": encode_cursor(cursor)}


def json_body(blueprint: Blueprint) -> dict[str, Any]:
    try:
        body = blueprint.current_request.json_body
    except Exception:  # chalice raises BadRequestError with its own shape; keep ours
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body
