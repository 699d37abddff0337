"""The staff's HTML pages: sign-in, sign-out and the dashboard (server-rendered, no JavaScript).

These routes, and only these, read the session cookie (chalicelib/services/sessions.py has the design); every
JSON route authenticates by `Authorization: Bearer` alone, so a browser's cookie never opens the API to a
cross-site request. A page also takes a bearer key (a script, a test): a header no other site can make a
browser send. Every answer is HTML with `Cache-Control: no-store`, `Referrer-Policy: no-referrer`,
`X-Content-Type-Options: nosniff` and a Content-Security-Policy that allows no script, no external asset and no
framing (chalicelib/formats/dashboard.py `content_security_policy`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.errors import error_answer
from chalicelib.api.http import (
    INPUT_ATTRIBUTE,
    PAGE_ERRORS,
    ROLE_ATTRIBUTE,
    ApiError,
    RouteInput,
    parse_date,
    query_params,
)
from chalicelib.services.api_keys import Principal
from chalicelib.services.ports import Role
from chalicelib.services.sessions import SESSION_COOKIE, SESSION_TTL, SIGNIN_COOKIE, SIGNIN_TTL, Session

blueprint = Blueprint(__name__)
log = logging.getLogger("dunwell")
F = TypeVar("F", bound=Callable[..., Any])

PAGE_ATTRIBUTE = "dunwell_page"  # set on every view `page` wraps: an HTML page that may read the session cookie
FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 4096
SIGNIN_FIELDS = frozenset({"api_key", "csrf_token"})
SIGNOUT_FIELDS = frozenset({"csrf_token"})
DASHBOARD = "/reports/dashboard"
RETRY_AFTER = "retry_after"


class Redirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def security_headers() -> dict[str, str]:
    from chalicelib.formats.dashboard import content_security_policy

    return {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Content-Security-Policy": content_security_policy(),
    }


def html(body: str, status: int = 200, cookies: list[str] | None = None,
         headers: dict[str, str] | None = None) -> Response:
    all_headers: dict[str, str | list[str]] = {**security_headers(), **(headers or {})}
    if cookies:
        all_headers["Set-Cookie"] = cookies
    return Response(body=body, status_code=status, headers=all_headers)


def cookie(name: str, value: str, max_age: int) -> str:
    """A cookie only this origin's pages get, over HTTPS, never to a script, never on a cross-site request."""
    return f"{name}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Strict"


def expired(name: str) -> str:
    return cookie(name, "", 0)


def base_path() -> str:
    """Where the API is mounted (API Gateway's stage, e.g. `/api`; "" locally): links and redirects start here."""
    context = blueprint.current_request.context or {}
    path, resource = str(context.get("path") or ""), str(context.get("resourcePath") or "")
    return path[: -len(resource)] if resource and path.endswith(resource) else ""


def request_cookie(name: str) -> str | None:
    header = str(blueprint.current_request.headers.get("cookie") or "")
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip()
    return None


def client_address() -> str:
    context = blueprint.current_request.context or {}
    identity = context.get("identity") or {}
    return str(identity.get("sourceIp") or "unknown") if isinstance(identity, dict) else "unknown"


def current_session() -> Session | None:
    return bootstrap.sessions().resume(request_cookie(SESSION_COOKIE))


def _principal(role: Role | None) -> tuple[Principal | None, Session | None]:
    """A bearer key if the request carries one, else the session cookie. None, None: nobody signed in."""
    header = str(blueprint.current_request.headers.get("authorization") or "")
    if header:
        scheme, _, token = header.partition(" ")
        principal = bootstrap.api_keys().authenticate(token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise ApiError(401, "unauthenticated", "The API key is unknown or revoked.")
        return principal, None
    session = current_session()
    return (session.principal, session) if session is not None else (None, None)


def page(role: Role | None, *, query: Collection[str] = (), form: Collection[str] | None = None
         ) -> Callable[[F], F]:
    """Wraps an HTML page view: the viewer's role (None: anyone; a page that needs one sends a browser that is not
    signed in to the sign-in page), the query parameters it takes (anything else is 400), and errors as pages.
    The view gets the Principal and the Session (None for a bearer key) as keyword arguments `who`, `session`."""
    accepts = RouteInput(frozenset(query), None if form is None else frozenset(form))

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            signed_in = False
            try:
                principal, session = _principal(role)
                signed_in = principal is not None
                if role is not None:
                    if principal is None:
                        if blueprint.current_request.method == "GET":
                            raise Redirect(f"{base_path()}/signin")
                        raise ApiError(403, "forbidden", "You are not signed in (or your session ended). "
                                                         "Sign in again.")
                    if principal.role < role:
                        raise ApiError(403, "forbidden", f"This page needs the {role.label} role; the key "
                                                         f"'{principal.name}' is {principal.role.label}.")
                    blueprint.current_request.context["dunwell_principal"] = principal.name
                unknown = sorted(set(blueprint.current_request.query_params or ()) - accepts.query)
                if unknown:
                    raise ApiError(400, "invalid_parameter", f"This page takes no parameter {unknown[0]!r}.",
                                   unknown[0])
                result: Response = view(*args, who=principal, session=session, **kwargs)
                return result
            except Redirect as redirect:
                return html("", 303, headers={"Location": redirect.location})
            except ApiError as exc:
                wait = getattr(exc, RETRY_AFTER, None)
                return _error_page(exc.status, exc.message, signed_in,
                                   {"Retry-After": str(wait)} if wait is not None else None)
            except Exception as exc:
                known = error_answer(exc)
                if known is not None:
                    return _error_page(known.status, known.message, signed_in)
                log.exception("unhandled error in a page")
                return _error_page(500, "Something went wrong on our side; it has been logged.", signed_in)

        setattr(wrapper, ROLE_ATTRIBUTE, role)
        setattr(wrapper, INPUT_ATTRIBUTE, accepts)
        setattr(wrapper, PAGE_ATTRIBUTE, True)
        return wrapper  # type: ignore[return-value]

    return decorate


TITLES = {400: "That request was not understood", 401: "Sign-in needed", 403: "Not allowed",
          404: "Not found", 409: "Changed meanwhile", 422: "Not possible", 429: "Too many attempts",
          500: "Something went wrong"}


def _error_page(status: int, message: str, signed_in: bool, headers: dict[str, str] | None = None) -> Response:
    from chalicelib.formats.dashboard import render_error

    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", 'Bearer realm="dunwell"')
    return html(render_error(base=base_path(), title=TITLES.get(status, "Error"), message=message,
                             signed_in=signed_in), status, headers=extra)


def _throttled(wait: int) -> ApiError:
    error = ApiError(429, "too_many_attempts", f"Too many failed sign-ins. Try again in {wait} seconds.")
    setattr(error, RETRY_AFTER, wait)  # read back by `page`, which sends it as Retry-After
    return error


def _chalice_error(status: int, message: str) -> Response:
    """A page's answer to an error Chalice gives before the view (415 for a body that is not a form, 405)."""
    return _error_page(status, message, False)


for _path in ("/signin", "/signout", DASHBOARD):
    PAGE_ERRORS[_path] = _chalice_error


def is_page(view: Callable[..., Any]) -> bool:
    return bool(getattr(view, PAGE_ATTRIBUTE, False))


# ------------------------------------------------------------------------------------------------ sign-in

def _signin_form(status: int = 200, error: str | None = None, signed_out: bool = False,
                 headers: dict[str, str] | None = None) -> Response:
    """The form, with a fresh pre-session cookie and the CSRF token bound to it."""
    from chalicelib.formats.dashboard import render_signin

    sessions = bootstrap.sessions()
    nonce = sessions.signin_nonce()
    body = render_signin(base=base_path(), token=sessions.signin_token(nonce), error=error, signed_out=signed_out)
    return html(body, status, cookies=[cookie(SIGNIN_COOKIE, nonce, int(SIGNIN_TTL.total_seconds()))],
                headers=headers)


@blueprint.route("/signin", methods=["GET"])
@page(None, query=("signed_out",))
def signin_page(who: Principal | None, session: Session | None) -> Response:
    """The sign-in form; a browser signed in already goes on to the dashboard."""
    if session is not None:
        raise Redirect(f"{base_path()}{DASHBOARD}")
    return _signin_form(signed_out=query_params(blueprint).get("signed_out") == "1")


def same_origin() -> bool:
    """Fetch metadata, where the browser sends it, says the form came from this site; else an Origin header that
    names a host must name this one. (Under `Referrer-Policy: no-referrer` a browser sends `Origin: null` on a
    form post, so "null" and no header leave the decision to the CSRF token, which is checked in every case.)"""
    headers = blueprint.current_request.headers
    fetch_site = str(headers.get("sec-fetch-site") or "").lower()
    if fetch_site:
        return fetch_site in ("same-origin", "none")
    origin = str(headers.get("origin") or "")
    if not origin or origin == "null":
        return True
    return urlsplit(origin).netloc.lower() == str(headers.get("host") or "").lower() != ""


def _form(allowed: Collection[str]) -> dict[str, str]:
    """The form's fields (the first value of each); a field the form does not have is 400, like a JSON body's."""
    raw = blueprint.current_request.raw_body or b""
    if len(raw) > MAX_FORM_BYTES:
        raise ApiError(413, "body_too_large", f"The form is at most {MAX_FORM_BYTES} bytes.")
    try:
        fields = parse_qs(raw.decode("utf-8") if isinstance(raw, bytes) else raw, keep_blank_values=True,
                          strict_parsing=False, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_request", "The form could not be read.") from None
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ApiError(400, "invalid_parameter", f"The form has no field {unknown[0]!r}.", unknown[0])
    return {name: values[0] for name, values in fields.items() if values}


@blueprint.route("/signin", methods=["POST"], content_types=[FORM])
@page(None, form=SIGNIN_FIELDS)
def signin(who: Principal | None, session: Session | None) -> Response:
    """Checks the key like the API does (same keys, same roles) and starts a 30-minute session."""
    throttle = bootstrap.signin_throttle()
    client = client_address()
    wait = throttle.retry_after(client)
    if wait is not None:
        log.warning("sign-in throttled", extra={"client": client})
        raise _throttled(wait)
    if not same_origin():
        log.warning("cross-site sign-in refused", extra={"client": client})
        return _signin_form(403, "This sign-in did not come from this site's own form. Sign in here.")
    fields = _form(SIGNIN_FIELDS)
    sessions = bootstrap.sessions()
    if not sessions.check_signin_token(request_cookie(SIGNIN_COOKIE), fields.get("csrf_token")):
        return _signin_form(403, "The sign-in form had expired (or cookies are off). Enter your key again.")
    api_key = fields.get("api_key", "").strip()
    signed = sessions.sign_in(api_key) if 0 < len(api_key) <= 200 else None
    if signed is None:
        throttle.failed(client)
        log.warning("sign-in failed: unknown or revoked key", extra={"client": client})
        return _signin_form(401, "That API key is unknown or revoked. Check it and try again.",
                            headers={"WWW-Authenticate": 'Bearer realm="dunwell"'})
    log.info("signed in", extra={"key": signed.session.principal.name})
    cookies = [cookie(SESSION_COOKIE, signed.cookie_value, int(SESSION_TTL.total_seconds())), expired(SIGNIN_COOKIE)]
    return html("", 303, cookies=cookies, headers={"Location": f"{base_path()}{DASHBOARD}"})


@blueprint.route("/signout", methods=["POST"], content_types=[FORM])
@page(None, form=SIGNOUT_FIELDS)
def signout(who: Principal | None, session: Session | None) -> Response:
    """Ends the browser's session (its cookie); needs the page's CSRF token. Revoking the key ends them all."""
    location = {"Location": f"{base_path()}/signin?signed_out=1"}
    if session is None:
        return html("", 303, cookies=[expired(SESSION_COOKIE)], headers=location)
    if not same_origin() or not bootstrap.sessions().check_csrf(session, _form(SIGNOUT_FIELDS).get("csrf_token")):
        raise ApiError(403, "forbidden", "This sign-out did not come from this site's own page.")
    return html("", 303, cookies=[expired(SESSION_COOKIE)], headers=location)


# ------------------------------------------------------------------------------------------------ dashboard

@blueprint.route(DASHBOARD, methods=["GET"])
@page(Role.VIEWER, query=("as_of", "currency"))
def dashboard(who: Principal | None, session: Session | None) -> Response:
    from chalicelib.domain.currencies import is_known_currency
    from chalicelib.formats.dashboard import render_dashboard

    assert who is not None
    params = query_params(blueprint)
    settings = bootstrap.container().settings
    as_of = parse_date(params, "as_of") or bootstrap.container().seller_today()
    currency = (params.get("currency") or settings.reporting_currency).strip().upper()
    if not is_known_currency(currency):
        raise ApiError(400, "invalid_parameter", f"{currency!r} is not an ISO 4217 currency code.", "currency")
    figures = bootstrap.dashboard().figures(as_of, currency)
    token = bootstrap.sessions().csrf_token(session) if session is not None else ""
    return html(render_dashboard(figures, base=base_path(), signed_in_as=who.name, role=who.role.label,
                                 csrf_token=token, currencies=[settings.reporting_currency]))
