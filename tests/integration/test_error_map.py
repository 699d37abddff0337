"""One map from errors to HTTP (chalicelib/api/errors.py): every error class that declares what it is maps to one
status through it, there is one NotFound, and every status a route can be seen to answer is documented for it."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import sys
import textwrap
from collections.abc import Iterator
from types import FunctionType, ModuleType

import pytest

import chalicelib
from app import app
from chalicelib import bootstrap
from chalicelib.api.errors import ANSWERS, error_answer, kind_of
from chalicelib.api.openapi import document
from chalicelib.domain.errors import DomainError, Kind, NotFound
from chalicelib.formats.processors import MalformedWebhook, SignatureError
from chalicelib.services.ports import ConflictRetriesExhausted, VersionConflict

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
# The status each processor expects for a bad signature (its documentation's, not ours to choose).
BAD_SIGNATURE_STATUS = {"/webhooks/stripe": 400, "/webhooks/gocardless": 498, "/webhooks/adyen": 401}


def modules() -> Iterator[ModuleType]:
    for info in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
        if not info.name.endswith("__main__"):  # running the local stack's CLI is no import
            yield importlib.import_module(info.name)


def error_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in modules():
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__.startswith(
                    "chalicelib."):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def test_every_error_that_declares_a_kind_maps_to_one_status():
    classes = error_classes()
    assert DomainError in classes and VersionConflict in classes and SignatureError in classes
    problems = []
    for cls in classes:
        kind = kind_of(cls)
        if issubclass(cls, DomainError) and kind is None:
            problems.append(f"{cls.__module__}.{cls.__qualname__}: a DomainError without a Kind")
        if kind is not None and kind not in ANSWERS:
            problems.append(f"{cls.__module__}.{cls.__qualname__}: {kind} has no row in chalicelib/api/errors.py")
        # The code "not_found" was what made a DomainError 404 before kinds: the two must still agree.
        if issubclass(cls, DomainError) and (cls.code == "not_found") != (kind is Kind.NOT_FOUND):
            problems.append(f"{cls.__module__}.{cls.__qualname__}: code {cls.code!r} but kind {kind}")
    assert not problems, "\n".join(problems)
    assert {kind for kind in Kind} == set(ANSWERS), "every kind has exactly one row"


def test_there_is_one_not_found():
    named = [f"{c.__module__}.{c.__qualname__}" for c in error_classes() if c.__name__.endswith("NotFound")]
    assert named == ["chalicelib.domain.errors.NotFound"]
    error = NotFound("invoice", "INV-1", field="invoice_id")
    assert (error.code, error.message, error.field) == ("not_found", "invoice INV-1 not found", "invoice_id")


@pytest.mark.parametrize(("error", "status", "code", "message"), [
    (NotFound("payment plan", "pln_1"), 404, "not_found", "payment plan pln_1 not found"),
    (VersionConflict("INV-1"), 409, "conflict", "INV-1; read it again and retry"),
    (ConflictRetriesExhausted("INV-1"), 409, "conflict", "INV-1; read it again and retry"),
    (DomainError("no"), 422, "invalid", "no"),
    (SignatureError("bad"), 401, "invalid_signature", "bad"),
    (MalformedWebhook("not JSON"), 400, "malformed_webhook", "not JSON"),
])
def test_answers_keep_each_errors_own_code_and_message(error, status, code, message):
    answer = error_answer(error)
    assert answer is not None and (answer.status, answer.code, answer.message) == (status, code, message)


def test_an_error_without_a_kind_is_no_answer_of_the_table():
    assert error_answer(KeyError("bug")) is None
    assert error_answer(SignatureError("bad"), {Kind.UNAUTHENTICATED: 498}).status == 498  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------- routes

def documented() -> dict[tuple[str, str], set[int]]:
    return {(path, method.upper()): {int(s) for s in op["responses"] if s[0] in "45"}
            for path, item in document()["paths"].items() for method, op in item.items() if method in HTTP_METHODS}


def _resolve(node: ast.expr, module: ModuleType) -> object:
    if isinstance(node, ast.Name):
        return vars(module).get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, module)
        return getattr(owner, node.attr, None) if isinstance(owner, ModuleType) else None
    return None


def statuses_raised(view: FunctionType) -> dict[int, str]:
    """The statuses a view, and the functions of the API layer it calls (transitively), raise or answer in their own
    code: a raised error's kind through the table, a literal status given to ApiError or error_response. What the
    services raise behind bootstrap is not followed."""
    found: dict[int, str] = {}
    seen: set[FunctionType] = set()
    pending = [inspect.unwrap(view)]
    while pending:
        function = pending.pop()
        if function in seen:
            continue
        seen.add(function)
        module = sys.modules[function.__module__]
        definition = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
        assert isinstance(definition, ast.FunctionDef)
        # The body only: a decorator line (`endpoint(...)`) is the wrapper's doing, documented by operation().
        for node in (inner for statement in definition.body for inner in ast.walk(statement)):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                raised = _resolve(node.exc.func, module)
                if isinstance(raised, type) and issubclass(raised, BaseException):
                    kind = kind_of(raised)
                    if kind is not None:
                        found[ANSWERS[kind].status] = f"{function.__name__} raises {raised.__name__}"
            if not isinstance(node, ast.Call):
                continue
            target = _resolve(node.func, module)
            name = getattr(target, "__name__", "")
            if name in ("ApiError", "error_response") and node.args and isinstance(node.args[0], ast.Constant):
                found[int(node.args[0].value)] = f"{function.__name__} answers {name}({node.args[0].value})"
            elif isinstance(target, FunctionType) and target.__module__.startswith("chalicelib.api."):
                pending.append(target)
    return found


def test_every_status_a_view_raises_is_documented_for_its_route():
    docs = documented()
    problems = []
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            for status, why in sorted(statuses_raised(entry.view_function).items()):
                if status not in docs[(path, method)]:
                    problems.append(f"{method} {path}: {status} not documented ({why})")
    assert not problems, "\n".join(problems)


def test_every_documented_error_status_is_one_the_api_answers():
    answered = {row.status for row in ANSWERS.values()} | set(BAD_SIGNATURE_STATUS.values())
    for methods in app.routes.values():
        for entry in methods.values():
            answered |= set(statuses_raised(entry.view_function))
    answered |= {401, 403, 404, 413, 415}  # `endpoint`'s own (key, role, path id, body size) and Chalice's 415
    for (path, method), statuses in documented().items():
        assert statuses <= answered, f"{method} {path} documents {sorted(statuses - answered)}, which nothing answers"


@pytest.mark.parametrize("path", sorted(BAD_SIGNATURE_STATUS))
def test_webhook_refusals_are_answered_through_the_table_and_documented(client, monkeypatch, path):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test")
    monkeypatch.setenv("GOCARDLESS_WEBHOOK_SECRET", "gc_test")
    monkeypatch.setenv("ADYEN_HMAC_KEY", "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056")
    bootstrap.reset()
    headers = {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00", "Webhook-Signature": "00"}
    unsigned = {"notificationItems": [{"NotificationRequestItem": {"pspReference": "psp_1"}}]}
    response = client.http.post(path, headers=headers, body=json.dumps(unsigned).encode())
    assert response.status_code == BAD_SIGNATURE_STATUS[path], response.body
    assert json.loads(response.body)["error"]["code"] == "invalid_signature"
    assert response.status_code in documented()[(path, "POST")]
    if path == "/webhooks/adyen":  # the one processor whose signatures are inside the body, read before them
        response = client.http.post(path, headers=headers, body=json.dumps({"notificationItems": []}).encode())
        assert response.status_code == ANSWERS[Kind.MALFORMED].status == 400
        assert json.loads(response.body)["error"]["code"] == "malformed_webhook"
        assert response.status_code in documented()[(path, "POST")]
