"""HTTP concerns shared by every route: authentication and roles, one map from errors to status
codes, JSON bodies, query parameters and opaque, signed cursors."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.domain.errors import DomainError, InvalidMoney
from chalicelib.domain.money import parse_plain_amount
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
            scope = _CURSOR_SCOPE.set(lambda: _cursor_scope(view, kwargs, blueprint))
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
            except Exception as exc:
                if query_params(blueprint).get("cursor") and refused_start_key(exc):
                    # A cursor we signed whose key no longer fits the index (e.g. one issued before a deployment
                    # changed it): the client's cursor is stale, not our fault.
                    logger.warning("DynamoDB refused the start key of a signed cursor", exc_info=True)
                    return error_response(400, INVALID_CURSOR, INVALID_CURSOR_MESSAGE, "cursor")
                logger.exception("unhandled error in API view")
                return error_response(500, "internal", "internal error; it has been logged")
            finally:
                _CURSOR_SCOPE.reset(scope)

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


# ---------------------------------------------------------------------------------------------- cursors
#
# A cursor is `<payload>.<tag>`, both unpadded base64url: the payload is JSON {"p": partition index, "k": DynamoDB's
# LastEvaluatedKey or null}; the tag is HMAC-SHA256, cut to 16 bytes, over the payload and the list it pages (the
# view, its path parameters and every query parameter but `cursor` and `limit`), with a key only the API holds
# (bootstrap.cursor_signing_secret). So a cursor the API did not issue, or issued for another list or other filters,
# never reaches DynamoDB: it is 400 invalid_cursor. The payload is checked strictly as well, both ways.

INVALID_CURSOR = "invalid_cursor"
INVALID_CURSOR_MESSAGE = "cursor is not a next_cursor this API returned for this list and these filters"
MAX_CURSOR_CHARS = 8192
MAX_CURSOR_PARTITION = 100  # "p": the index of a partition a listing walks (invoices by status: one per status)
MAX_KEY_ATTRIBUTES = 6  # a GSI's LastEvaluatedKey holds the table's key and the index's: 4 at most today
MAX_KEY_STRING_BYTES = 2048  # DynamoDB's limit for a partition key value (a sort key's is 1024)
_TAG_BYTES = 16
_TAG_CONTEXT = b"dunwell-cursor-v1"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,254}")
_NUMBER = re.compile(r"-?[0-9]{1,38}(\.[0-9]{1,38})?([eE][+-]?[0-9]{1,3})?")
# The list the running view pages, computed on demand; set by `endpoint` for each request.
_CURSOR_SCOPE: ContextVar[Callable[[], str] | None] = ContextVar("dunwell_cursor_scope", default=None)


class InvalidCursor(ValueError):
    pass


def _cursor_scope(view: Callable[..., Any], path_params: dict[str, Any], blueprint: Blueprint) -> str:
    filters = {k: v for k, v in query_params(blueprint).items() if k not in ("cursor", "limit")}
    return json.dumps([f"{view.__module__}.{view.__qualname__}", {k: str(v) for k, v in path_params.items()},
                       filters], sort_keys=True, separators=(",", ":"))


def _current_scope() -> str:
    scope = _CURSOR_SCOPE.get()
    return scope() if scope is not None else ""


@functools.lru_cache(maxsize=4)
def _derived_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"dunwell cursor signing key", hashlib.sha256).digest()


def _signing_key() -> bytes:
    return _derived_key(bootstrap.cursor_signing_secret())


def _tag(key: bytes, scope: str, payload: bytes) -> bytes:
    message = b"\n".join((_TAG_CONTEXT, scope.encode(), payload))  # the scope is JSON: no raw newline in it
    return hmac.new(key, message, hashlib.sha256).digest()[:_TAG_BYTES]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    if not _BASE64URL.fullmatch(text):  # urlsafe_b64decode would silently drop stray characters
        raise InvalidCursor("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        raise InvalidCursor("not base64url") from None
    if _b64encode(data) != text:  # stray bits in the last character: one spelling per cursor only
        raise InvalidCursor("not canonical base64url")
    return data


def _is_key_value(value: Any) -> bool:
    """One DynamoDB key attribute value, as LastEvaluatedKey carries it: {"S": "..."} or {"N": "..."}."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, scalar),) = value.items()
    if not isinstance(scalar, str):
        return False
    if kind == "S":
        try:
            return 0 < len(scalar.encode()) <= MAX_KEY_STRING_BYTES
        except UnicodeEncodeError:  # a lone surrogate, which JSON can spell but DynamoDB never returns
            return False
    return kind == "N" and _NUMBER.fullmatch(scalar) is not None


def is_cursor_payload(payload: Any) -> bool:
    """{"p": partition index, "k": null or a key of at most MAX_KEY_ATTRIBUTES attributes}, nothing else."""
    if not isinstance(payload, dict) or set(payload) != {"p", "k"}:
        return False
    position, key = payload["p"], payload["k"]
    if type(position) is not int or not 0 <= position <= MAX_CURSOR_PARTITION:
        return False
    if key is None:
        return True
    return isinstance(key, dict) and 0 < len(key) <= MAX_KEY_ATTRIBUTES and all(
        isinstance(name, str) and _ATTRIBUTE_NAME.fullmatch(name) and _is_key_value(value)
        for name, value in key.items())


def sign_cursor(payload: dict[str, Any], key: bytes, scope: str = "") -> str:
    """The cursor for `payload` on the list `scope`. ValueError for a payload decode would refuse: a bug here."""
    if not is_cursor_payload(payload):
        raise ValueError(f"not a cursor payload: {payload!r}"[:500])
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    cursor = f"{_b64encode(body)}.{_b64encode(_tag(key, scope, body))}"
    if len(cursor) > MAX_CURSOR_CHARS:
        raise ValueError(f"a cursor of {len(cursor)} characters; at most {MAX_CURSOR_CHARS} are accepted back")
    return cursor


def open_cursor(cursor: str, key: bytes, scope: str = "") -> dict[str, Any]:
    """The payload of a cursor `sign_cursor` made with this key for this scope; InvalidCursor for anything else."""
    if len(cursor) > MAX_CURSOR_CHARS or cursor.count(".") != 1:
        raise InvalidCursor("not a signed cursor")
    body_text, tag_text = cursor.split(".")
    body, tag = _b64decode(body_text), _b64decode(tag_text)
    if len(tag) != _TAG_BYTES or not hmac.compare_digest(tag, _tag(key, scope, body)):
        raise InvalidCursor("bad signature")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidCursor("not JSON") from None
    if not is_cursor_payload(payload):
        raise InvalidCursor("not a cursor payload")
    opened: dict[str, Any] = payload
    return opened


def decode_cursor(params: dict[str, str]) -> dict[str, Any] | None:
    """The `cursor` query parameter, verified for the list the running view pages; None when absent."""
    raw = params.get("cursor")
    if not raw:
        return None
    try:
        return open_cursor(raw, _signing_key(), _current_scope())
    except InvalidCursor:
        raise ApiError(400, INVALID_CURSOR, INVALID_CURSOR_MESSAGE, "cursor") from None


def encode_cursor(cursor: dict[str, Any] | None) -> str | None:
    """The `next_cursor` for the list the running view pages."""
    if cursor is None:
        return None
    return sign_cursor(cursor, _signing_key(), _current_scope())


def refused_start_key(exc: BaseException) -> bool:
    """Whether DynamoDB (or botocore, before sending) refused a query's ExclusiveStartKey: the error or its cause
    is a ValidationException about the start key, or a parameter validation error on ExclusiveStartKey."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        response = getattr(error, "response", None)
        details = response.get("Error") if isinstance(response, dict) else None
        if isinstance(details, dict) and details.get("Code") == "ValidationException" and re.search(
                r"start(ing)? key|ExclusiveStartKey", str(details.get("Message", "")), re.IGNORECASE):
            return True
        if type(error).__name__ == "ParamValidationError" and "ExclusiveStartKey" in str(error):
            return True
        cause = getattr(error, "cause", None)  # PynamoDB keeps botocore's error here
        pending += [cause if isinstance(cause, BaseException) else None, error.__cause__, error.__context__]
    return False


def page(items: list[dict[str, Any]], cursor: dict[str, Any] | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": encode_cursor(cursor)}


def start_key(params: dict[str, str]) -> dict[str, Any] | None:
    """The DynamoDB start key a list of one index was paged to (`cursor`), or None for the first page."""
    cursor = decode_cursor(params)
    return cursor.get("k") if cursor else None


def key_page(items: list[dict[str, Any]], last_key: dict[str, Any] | None) -> dict[str, Any]:
    """A page of one index's query: its items and, when there is more, the cursor to the next page."""
    return page(items, {"p": 0, "k": last_key} if last_key else None)


def reject_unknown(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "invalid_parameter", f"unknown fields {unknown}", unknown[0])


def text_field(body: dict[str, Any], name: str, *, required: bool, limit: int = 2000) -> str | None:
    """A non-empty string of at most `limit` characters, stripped; None when absent and not required."""
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_parameter", f"{name} is required, as a non-empty string", name)
    if len(value) > limit:
        raise ApiError(400, "invalid_parameter", f"{name} is at most {limit} characters", name)
    return value.strip()


def amount_field(body: dict[str, Any], name: str, *, required: bool) -> Decimal | None:
    """Money crosses the API as a string ("120.00"), read by the one strict amount grammar."""
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, "invalid_parameter", f"{name} is required, as a string such as \"120.00\"", name)
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_parameter", f"{name} must be a string such as \"120.00\"", name)
    try:
        return parse_plain_amount(value)
    except InvalidMoney as error:
        raise ApiError(400, "invalid_parameter", f"{name}: {error.message}", name) from None


def idempotency_key(blueprint: Blueprint) -> str | None:
    """The request's Idempotency-Key header (at most 200 characters), or None."""
    key = (blueprint.current_request.headers.get("idempotency-key") or "").strip() or None
    if key is not None and len(key) > 200:
        raise ApiError(400, "invalid_parameter", "Idempotency-Key is at most 200 characters", "Idempotency-Key")
    return key


def json_body(blueprint: Blueprint) -> dict[str, Any]:
    try:
        body = blueprint.current_request.json_body
    except Exception:  # chalice raises BadRequestError with its own shape; keep ours
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body
