"""Every route with every role: no key is 401 (except the public routes and the webhooks, which a
processor's signature authenticates), a key below the route's role is 403, and a key at or above it is never
401, 403 or 5xx. The role each route needs is read from its view (`endpoint` records it), not listed here."""

from __future__ import annotations

import json

import pytest

from app import app
from chalicelib.api.http import required_role
from chalicelib.api.pages import is_page
from chalicelib.api.portal import is_portal
from chalicelib.formats.processors.registry import processors
from chalicelib.services.ports import Role
from tests.integration.conftest import issue_key

PUBLIC = {"/health", "/openapi.json"}
ALLOWED = {400, 404, 409, 422}
# Dummy ids in the shape each route expects, so the request reaches the store (and finds nothing);
# any other parameter gets a generic id.
DUMMY_IDS = {"key_id": "0123456789abcdef", "payment_id": "pay_" + "0" * 24, "import_id": "imp_" + "0" * 24}


@pytest.fixture(autouse=True)
def webhook_secrets(monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_roles")
    monkeypatch.setenv("GOCARDLESS_WEBHOOK_SECRET", "gc_roles")
    monkeypatch.setenv("ADYEN_HMAC_KEY", "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056")


def concrete(path: str) -> str:
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            path = path.replace(segment, DUMMY_IDS.get(segment[1:-1], "dummy-1"))
    return path


def call(client, method: str, path: str, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = b"{}" if method in ("POST", "PUT", "PATCH") else b""
    response = client.http.request(method, path, headers=headers, body=body)
    try:
        parsed = json.loads(response.body) if response.body else {}
    except ValueError:
        parsed = {}
    return response.status_code, parsed if isinstance(parsed, dict) else {}


def routes() -> list[tuple[str, str]]:
    return sorted((path, method) for path, methods in app.routes.items() for method in methods)


def test_there_are_routes_of_every_kind():
    roles = set()
    for path, method in routes():
        try:
            roles.add(required_role(app.routes[path][method].view_function))
        except LookupError:
            assert path.startswith("/webhooks/"), f"{method} {path} is not wrapped by endpoint()"
    assert roles == {None, *Role}


def test_every_route_answers_every_role_as_its_view_requires(client, aws):
    tokens = {role: issue_key(role.label) for role in Role}
    problems = []
    for path, method in routes():
        url = concrete(path)
        view = app.routes[path][method].view_function
        if path.startswith("/webhooks/"):
            # Signed by the processor: an API key changes nothing; an unsigned body is refused, never a 5xx.
            for url in (f"/webhooks/{name}" for name in processors()):  # one route, each processor's URL
                answers = [call(client, method, url, token) for token in (None, *tokens.values())]
                statuses = {status for status, _ in answers}
                codes = {body.get("error", {}).get("code") for _, body in answers}
                if len(statuses) != 1 or not statuses <= {400, 401, 498} or not codes <= {"invalid_signature",
                                                                                             "malformed_webhook"}:
                    problems.append(f"{method} {url}: unsigned answers {sorted(statuses)} {sorted(map(str, codes))}")
            continue
        if is_portal(view):
            problems += portal_problems(client, method, path, tokens)
            continue
        if is_page(view):
            problems += page_problems(client, method, path, required_role(view), tokens)
            continue
        needed = required_role(view)
        status, body = call(client, method, url, None)
        if path in PUBLIC:
            if needed is not None or status != 200:
                problems.append(f"{method} {path}: public, but needs {needed} and answered {status} without a key")
            continue
        if needed is None:
            problems.append(f"{method} {path}: no role needed, but it is not a public route")
            continue
        if status != 401 or body.get("error", {}).get("code") != "unauthenticated":
            problems.append(f"{method} {path}: {status} without a key (expected 401)")
        for role, token in tokens.items():
            status, body = call(client, method, url, token)
            if role < needed:
                if status != 403 or body.get("error", {}).get("code") != "forbidden":
                    problems.append(f"{method} {path}: {status} for {role.label} (expected 403, needs {needed.label})")
            elif not (200 <= status < 300 or status in ALLOWED):
                problems.append(f"{method} {path}: {status} {body} for {role.label} (needs {needed.label})")
    assert not problems, "\n".join(problems)


def page_problems(client, method: str, path: str, needed, tokens) -> list[str]:
    """An HTML page (chalicelib/api/pages.py): a browser that is not signed in is sent to the sign-in page (GET) or
    refused (a form needs its CSRF token, a JSON body is no form); a bearer key at or above its role sees it."""
    problems = []
    status, _ = call(client, method, path, None)
    response = client.http.request(method, path, headers={}, body=b"")
    if method == "GET" and needed is not None:
        if status != 303 or response.headers.get("Location") != "/signin":
            problems.append(f"{method} {path}: {status} without a session (expected 303 to /signin)")
    elif method == "GET":
        if status != 200:
            problems.append(f"{method} {path}: public page answered {status}")
    elif status not in (403, 415):
        problems.append(f"{method} {path}: a JSON body without a session answered {status} (expected 403 or 415)")
    if method == "GET":
        for role, token in tokens.items():
            status, _ = call(client, method, path, token)
            expected = 200 if needed is None or role >= needed else 403
            if status != expected:
                problems.append(f"{method} {path}: {status} for {role.label} (expected {expected})")
    if response.headers.get("Content-Type") != "text/html; charset=utf-8":
        problems.append(f"{method} {path}: not answered as HTML")
    return problems


# The customer portal (chalicelib/api/portal.py) signs in by its own session cookie, never by an API key: without
# a session a GET is sent to the expired-link page (a link: that page itself, 404; the SMS form: on to the link),
# a POST is refused; a staff key changes nothing.
PORTAL_OPEN = {"/portal/expired": 200, "/portal/open/{token}": 404, "/p/{token}": 303}


def portal_problems(client, method: str, path: str, tokens) -> list[str]:
    problems = []
    for token in (None, *tokens.values()):
        status, _ = call(client, method, concrete(path), token)
        response = client.http.request(method, concrete(path), headers={
            "Authorization": f"Bearer {token}"} if token else {}, body=b"")
        if method == "GET":
            expected = PORTAL_OPEN.get(path, 303)
            if status != expected or (expected == 303 and path not in PORTAL_OPEN
                                      and response.headers.get("Location") != "/portal/expired"):
                problems.append(f"{method} {path}: {status} without a portal session (expected {expected})")
        elif status not in (403, 415):
            problems.append(f"{method} {path}: {status} without a portal session (expected 403 or 415)")
        if response.headers.get("Content-Type") != "text/html; charset=utf-8":
            problems.append(f"{method} {path}: not answered as HTML")
    return problems
