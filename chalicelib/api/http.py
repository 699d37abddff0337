"""HTTP concerns shared by every route: authentication and roles, errors in one shape (their statuses from
chalicelib/api/errors.py), JSON bodies, query parameters and opaque, signed cursors."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Collection, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib import bootstrap
from chalicelib.api.errors import error_answer
from chalicelib.domain.errors import InvalidMoney, NotFound
from chalicelib.domain.ids import is_valid_id
from chalicelib.domain.money import parse_plain_amount
from chalicelib.observability import logger
from chalicelib.services.api_keys import Principal
from chalicelib.services.ports import Page, Role

MAX_PAGE = 200
DEFAULT_PAGE = 50
ROLE_ATTRIBUTE = "dunwell_role"  # set by `endpoint` on each view it wraps: the role the route needs
INPUT_ATTRIBUTE = "dunwell_input"  # set by `endpoint` too: the query parameters and body fields the route takes
PAGING = ("limit", "cursor")
# Bounds on what a request may carry, checked before a view runs. The largest real body (a policy with many
# steps) is a few KiB; API Gateway would pass up to 10 MiB.
MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
MAX_TEXT = 4000  # any string in a body; fields with a meaning of their own have tighter limits
MAX_QUERY_VALUE = 8192  # a signed cursor is the longest query value the API issues
MAX_PATH_ID_BYTES = 512  # no id the API issues is longer; DynamoDB refuses keys over 2048 bytes

F = TypeVar("F", bound=Callable[..., Any])
_T = TypeVar("_T")


class ApiError(Exception):
    """A request the HTTP layer refuses before the domain sees it (its shape, its key, its size): the status is the
    HTTP layer's own. What the domain refuses is a DomainError, answered by its kind (chalicelib/api/errors.py)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="dunwell"'
    return Response(body={"error": error}, status_code=status, headers=headers)


# Answers Chalice gives before (or instead of) any view, in its own shape {"Code", "Message"}: our codes for them.
_CHALICE_ERRORS = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "invalid_request",
    "BadRequestError": "invalid_request",
    "InternalServerError": "internal",
}


# The HTML pages' resource paths, each with how it answers an error as a page (chalicelib/api/pages.py fills it).
PAGE_ERRORS: dict[str, Callable[[int, str], Response]] = {}


def error_shape(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """HTTP middleware: an error Chalice answers itself (405 for a method the path does not route, 415 for a body
    that is not JSON, its catch-all 500) gets the documented shape, like every other error of the API (on an HTML
    page: a page)."""
    response = get_response(event)
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return response
    page_error = PAGE_ERRORS.get(str((event.context or {}).get("resourcePath") or ""))
    if page_error is not None:
        shown = "Send the form as the page does." if response.status_code == 415 else str(body["Message"])
        answer = page_error(response.status_code, shown if response.status_code < 500 else
                            "Something went wrong on our side; it has been logged.")
        allow = response.headers.get("Allow")
        if allow:
            answer.headers["Allow"] = allow
        return answer
    code = _CHALICE_ERRORS.get(str(body["Code"]), "invalid_request" if response.status_code < 500 else "internal")
    field = None
    message = str(body["Message"])
    if code == "method_not_allowed":
        allowed = str(response.headers.get("Allow", ""))
        message = f"{event.method} is not allowed here; this path takes: {allowed}"
    elif code == "unsupported_media_type":
        field = "Content-Type"
        message = f"{message}; send application/json"
    elif code == "internal":
        message = "internal error; it has been logged"
    shaped = error_response(response.status_code, code, message, field)
    for name, value in response.headers.items():
        if name.lower() != "content-type":
            shaped.headers[name] = value
    return shaped


def _principal(blueprint: Blueprint) -> Principal:
    header = str(blueprint.current_request.headers.get("authorization") or "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthenticated", "send an API key as 'Authorization: Bearer <key>'")
    principal: Principal | None = bootstrap.api_keys().authenticate(token.strip())
    if principal is None:
        raise ApiError(401, "unauthenticated", "the API key is unknown or revoked")
    return principal


@dataclass(frozen=True)
class RouteInput:
    """What a route takes besides its path: query parameter names, and the top-level fields of its JSON body
    (None: no body). Declared once per route, on `endpoint`; anything else in a request is 400."""

    query: frozenset[str]
    body: frozenset[str] | None


def endpoint(blueprint: Blueprint, role: Role | None, *, query: Collection[str] = (),
             body: Collection[str] | None = None) -> Callable[[F], F]:
    """Wraps a view: checks the bearer key's role (None = public), the request against what the route takes
    (`query`: its query parameters; `body`: its body's fields, None for a route without a body), and maps every
    error to one shape."""
    accepts = RouteInput(frozenset(query), None if body is None else frozenset(body))

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
                _check_path(kwargs)
                _check_request(blueprint, accepts)
                return view(*args, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message, exc.field)
            except Exception as exc:
                known = error_answer(exc)
                if known is not None:
                    return error_response(known.status, known.code, known.message, known.field)
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
        setattr(wrapper, INPUT_ATTRIBUTE, accepts)
        return wrapper  # type: ignore[return-value]

    return decorate


def route_input(view: Callable[..., Any]) -> RouteInput:
    """What an `endpoint` view takes. LookupError for a view `endpoint` did not wrap."""
    accepts = getattr(view, INPUT_ATTRIBUTE, None)
    if not isinstance(accepts, RouteInput):
        raise LookupError(f"{getattr(view, '__name__', view)!r} is not wrapped by endpoint()")
    return accepts


def _check_path(path_params: dict[str, Any]) -> None:
    """A path id longer than any the API issues names nothing (and would be refused by DynamoDB as a key)."""
    for name, value in path_params.items():
        if isinstance(value, str) and len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_ID_BYTES:
            raise NotFound(name, value, field=name,
                           message=f"{name} is longer than any id ({MAX_PATH_ID_BYTES} bytes at most)")


def _check_request(blueprint: Blueprint, accepts: RouteInput) -> None:
    """The query parameters and the body's top-level fields the route declares, nothing else; bodies bounded in
    size, nesting and string length before the view reads them."""
    request = blueprint.current_request
    given = request.query_params
    unknown = sorted(set(given or ()) - accepts.query)
    if unknown:
        known = ", ".join(sorted(accepts.query)) or "none"
        raise ApiError(400, "invalid_parameter", f"unknown query parameter {unknown[0]!r}; this route takes: {known}",
                       unknown[0])
    for name in sorted(given or ()):
        if any(len(value) > MAX_QUERY_VALUE for value in query_values(blueprint, name)):
            raise ApiError(400, "invalid_parameter", f"{name} is at most {MAX_QUERY_VALUE} characters", name)
    if accepts.body is None:
        return
    raw = request.raw_body or b""
    if not raw:
        return  # the view decides whether it needs a body (json_body answers 400 when it does)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"the body is at most {MAX_BODY_BYTES} bytes")
    # Imported here: the formats package loads every file parser (and defusedxml), which routes never need.
    from chalicelib.formats.json_limits import nesting_depth

    if nesting_depth(raw if isinstance(raw, bytes) else raw.encode(), MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ApiError(400, "invalid_json", f"the body nests more than {MAX_JSON_DEPTH} levels")
    parsed = json_body(blueprint)
    reject_unknown(parsed, set(accepts.body))
    _check_strings(parsed, "")


def _check_strings(value: Any, path: str) -> None:
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            name = path or "body"
            raise ApiError(400, "invalid_parameter", f"{name} is at most {MAX_TEXT} characters", name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{path}[{index}]")


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


def known_id(what: str, value: str) -> str:
    """`value` when it has the shape of a Dunwell id; else NotFound (404) for `what`, as an absent record is."""
    if not is_valid_id(value):
        raise NotFound(what, value)
    return value


def query_values(blueprint: Blueprint, name: str) -> list[str]:
    """Every value of a query parameter given more than once (`status=open&status=paid`)."""
    given = blueprint.current_request.query_params
    return list(given.getlist(name)) if given is not None and name in given else []


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
    # A repeated parameter (`status=open&status=paid`) filters by all its values: the scope names them all.
    filters: dict[str, Any] = {}
    for name in query_params(blueprint):
        if name not in ("cursor", "limit"):
            values = query_values(blueprint, name)
            filters[name] = values[0] if len(values) == 1 else values
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


def cursor_page(params: dict[str, str], fetch: Callable[[int, dict[str, Any] | None], Page],
                view: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """One page of a paged query (`limit`, `cursor`): each item through `view`, and the next cursor."""
    result = fetch(page_limit(params), decode_cursor(params))
    return page([view(item) for item in result.items], result.cursor)


def index_page(params: dict[str, str], fetch: Callable[[int, dict[str, Any] | None],
                                                       tuple[Sequence[_T], dict[str, Any] | None]],
               view: Callable[[_T], dict[str, Any]]) -> dict[str, Any]:
    """One page of one index's query (`limit`, `cursor`): each item through `view`, and the next cursor."""
    items, last_key = fetch(page_limit(params), start_key(params))
    return key_page([view(item) for item in items], last_key)


def reject_unknown(body: dict[str, Any], allowed: Collection[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, "invalid_parameter", f"unknown field {unknown[0]!r}; this body takes: "
                       f"{', '.join(sorted(allowed)) or 'nothing'}", unknown[0])


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


def request_fingerprint(blueprint: Blueprint) -> str:
    """What an Idempotency-Key is kept with: a hash of the request (method, route, path parameters and the body as
    JSON, so key order and spacing do not matter). The same key with another fingerprint is another request."""
    request = blueprint.current_request
    body = json_body(blueprint) if request.raw_body else None
    canonical = json.dumps([request.method, str((request.context or {}).get("resourcePath", "")),
                            dict(request.uri_params or {}), body], sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def json_body(blueprint: Blueprint) -> dict[str, Any]:
    try:
        body = blueprint.current_request.json_body
    except Exception:  # chalice raises BadRequestError with its own shape (RecursionError: see json_limits)
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body
