"""Every route takes exactly what it declares: an unknown query parameter or body field is 400 naming it (a typo
never runs a real sweep or returns an unfiltered list), bodies and ids are bounded, and the errors Chalice answers
itself (405, 415) have the documented shape."""

from __future__ import annotations

import json
import re

import pytest

from app import app
from chalicelib.api.http import MAX_TEXT, route_input
from chalicelib.api.openapi import document
from chalicelib.api.pages import is_page
from chalicelib.api.portal import is_portal
from chalicelib.domain.invoice import InvoiceStatus
from chalicelib.services.ports import Task
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row

UNKNOWN = "zz_not_a_parameter"


def routes() -> list[tuple[str, str, object]]:
    return sorted((path, method, entry.view_function)  # type: ignore[attr-defined]
                  for path, methods in app.routes.items() for method, entry in methods.items())


def concrete(path: str, value: str = "x1") -> str:
    return re.sub(r"{\w+}", value, path)


def request(client, method, path, headers, body=None, content_type="application/json"):
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    response = client.http.request(method, path, body=raw, headers={**headers, "Content-Type": content_type})
    return response.status_code, json.loads(response.body) if response.body else None, response.headers


def is_error(body, code=None, field=None) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return (isinstance(error, dict) and isinstance(error.get("message"), str)
            and (code is None or error.get("code") == code) and (field is None or error.get("field") == field))


def test_every_route_refuses_an_unknown_query_parameter_naming_it(client, admin_headers):
    checked = []
    for path, method, view in routes():
        if is_page(view):  # an HTML page answers with a page (tests/integration/test_pages.py)
            checked.append((method, path))
            continue
        status, body, _ = request(client, method, f"{concrete(path)}?{UNKNOWN}=1", admin_headers)
        assert status == 400 and is_error(body, "invalid_parameter", UNKNOWN), (method, path, status, body)
        checked.append((method, path))
    assert len(checked) == sum(len(m) for m in app.routes.values())


def test_every_route_with_a_body_refuses_an_unknown_field_naming_it(client, admin_headers):
    with_body = [(path, method) for path, method, view in routes()
                 if not path.startswith("/webhooks/") and route_input(view).body is not None]
    documented = {(path, method.upper()) for path, item in document()["paths"].items()
                  for method, op in item.items() if "requestBody" in op and not path.startswith("/webhooks/")}
    assert set(with_body) == documented  # every route the document gives a body declares its fields
    for path, method in with_body:
        if is_page(app.routes[path][method].view_function):  # a form: tests/integration/test_pages.py
            continue
        status, body, _ = request(client, method, concrete(path), admin_headers, {UNKNOWN: 1})
        assert status == 400 and is_error(body, "invalid_parameter", UNKNOWN), (method, path, status, body)


def test_the_declared_query_parameters_are_the_documented_ones():
    documented = {(path, method.upper()): {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
                  for path, item in document()["paths"].items() for method, op in item.items()}
    for path, method, view in routes():
        if path.startswith("/webhooks/"):
            continue
        accepts = route_input(view)
        assert set(accepts.query) == documented[(path, method)], (method, path)
        op = document()["paths"][path][method.lower()]
        if accepts.body is not None:
            assert "requestBody" in op, (method, path)


def test_the_closed_documented_bodies_are_the_declared_fields():
    components = document()["components"]["schemas"]
    for path, method, view in routes():
        accepts = route_input(view) if not path.startswith("/webhooks/") else None
        op = document()["paths"][path][method.lower()]
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        name = schema.get("$ref", "").rsplit("/", 1)[-1]
        if accepts is None or not name or components[name].get("additionalProperties") is not False:
            continue
        assert accepts.body is not None and set(components[name]["properties"]) == set(accepts.body), (method, path)


def test_a_typo_in_a_sweep_runs_nothing(client, admin_headers, dunning):
    status, body, _ = request(client, "POST", "/dunning/runs", admin_headers, {"asof": "2026-12-24"})
    assert status == 400 and is_error(body, "invalid_parameter", "asof")
    status, body, _ = request(client, "POST", "/dunning/runs?asof=2026-12-24", admin_headers)
    assert status == 400 and is_error(body, "invalid_parameter", "asof")


def test_a_misspelt_filter_is_400_not_the_unfiltered_list(client, s3, bucket, admin_headers):
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1"), invoice_row("INV-2", paid="100.00")))
    status, body = get_json(client, "/invoices?statuss=open", admin_headers)
    assert status == 400 and is_error(body, "invalid_parameter", "statuss")
    status, body = get_json(client, "/invoices?status=open", admin_headers)
    assert status == 200 and [i["id"] for i in body["items"]] == ["INV-1"]


def test_status_lists_are_deduplicated_and_bounded(client, s3, bucket, admin_headers):
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1"), invoice_row("INV-2", paid="100.00")))
    for query in ("status=open,open,open", "status=open&status=open", "status=open,paid&status=paid"):
        status, body = get_json(client, f"/invoices?{query}", admin_headers)
        assert status == 200, (query, body)
        ids = [i["id"] for i in body["items"]]
        assert len(ids) == len(set(ids)), query
    _, both = get_json(client, "/invoices?status=open&status=paid", admin_headers)
    assert sorted(i["id"] for i in both["items"]) == ["INV-1", "INV-2"]
    too_many = ",".join(["open"] * (len(InvoiceStatus) + 1))
    status, body = get_json(client, f"/invoices?status={too_many}", admin_headers)
    assert status == 400 and is_error(body, "invalid_parameter", "status")


def test_405_and_415_have_the_documented_shape(client, admin_headers):
    response = client.http.request("PATCH", "/invoices", headers=admin_headers, body=b"")
    body = json.loads(response.body)
    assert response.status_code == 405 and is_error(body, "method_not_allowed"), body
    assert response.headers.get("Allow") == "GET"
    status, body, _ = request(client, "POST", "/tasks", admin_headers, b"title=x", content_type="text/plain")
    assert status == 415 and is_error(body, "unsupported_media_type", "Content-Type"), body
    status, body, _ = request(client, "POST", "/webhooks/stripe", {}, b"<xml/>", content_type="application/xml")
    assert status == 415 and is_error(body, "unsupported_media_type"), body


def test_long_path_ids_are_404_and_long_strings_400_never_500(client, admin_headers):
    for path, method, _view in routes():
        if "{" not in path or path.startswith("/webhooks/") or is_portal(_view):
            continue  # the portal's pages: tests/integration/test_portal.py (a long id there is 404 too)
        for value in ("a" * 3000, "\u00e9" * 600):
            status, body, _ = request(client, method, concrete(path, value), admin_headers, {})
            assert status == 404 and is_error(body, "not_found"), (method, path, status, body)
    long_text = "x" * (MAX_TEXT + 1)
    cases = [("POST", "/tasks", {"title": "call", "note": long_text}, "note"),
             ("POST", "/payments", {"amount": "1.00", "currency": "EUR", "payer_name": "p" * 201}, "payer_name"),
             ("POST", "/payments", {"amount": "1.00", "currency": "EUR", "invoice_numbers": ["N" * 101]},
              "invoice_numbers"),
             ("POST", "/payments", {"amount": "1.00", "currency": "E" * 300}, "currency"),
             ("PATCH", "/customers/acme", {"contacts": [{"name": long_text, "email": "a@b.example"}]},
              "contacts[0].name"),
             ("POST", "/customers/acme/credit-hold", {"reason": "r" * 501}, "reason"),
             ("PUT", "/policies/p1", {"name": long_text, "steps": []}, "name"),
             ("POST", "/api-keys", {"name": "n" * 500, "role": "viewer"}, "name")]
    for method, path, body_in, field in cases:
        status, body, _ = request(client, method, path, admin_headers, body_in)
        assert status == 400 and is_error(body, field=field), (method, path, status, body)
    status, body, _ = request(client, "GET", "/invoices?customer_id=" + "c" * 9000, admin_headers)
    assert status == 400 and is_error(body, field="customer_id")


def test_bodies_too_large_or_too_deep_are_refused_before_parsing(client, admin_headers):
    status, body, _ = request(client, "POST", "/tasks", admin_headers, b"[" * 10_000 + b"]" * 10_000)
    assert status == 400 and is_error(body, "invalid_json"), body
    status, body, _ = request(client, "POST", "/tasks", admin_headers,
                              json.dumps({"title": "x", "note": "y" * 300_000}).encode())
    assert status == 413 and is_error(body, "body_too_large"), body


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/invoices/INV-1/disputes", {"reason": "pricing", "amount": "1e30"}, "amount"),
    ("/invoices/INV-1/write-off", {"reason": "gone", "amount": "9" * 40 + ".00"}, "amount"),
    ("/invoices/INV-1/promises", {"date": "2026-12-01", "amount": "1E5"}, "amount"),
    ("/payments", {"amount": "1e30", "currency": "EUR"}, "amount"),
    ("/payments", {"amount": "9" * 40, "currency": "EUR"}, "amount"),
    ("/customers/acme/credit-limit", {"amount": "1e30", "currency": "EUR"}, "amount"),
    ("/customers/acme/credit-limit", {"amount": "9" * 40, "currency": "EUR"}, "amount"),
    ("/customers/acme/payment-plans", {"invoice_ids": ["INV-1"],
                                       "instalments": [{"due_date": "2026-12-01", "amount": "1e30"}]}, "amount"),
    ("/disputes/dsp_000000000000000000000000/resolve", {"outcome": "partial", "credit_amount": "1e30"},
     "credit_amount"),
])
def test_amounts_outside_the_grammar_are_400_naming_the_field(client, admin_headers, path, body, field):
    method = "PUT" if path.endswith("credit-limit") else "POST"
    status, answer, _ = request(client, method, path, admin_headers, body)
    assert status == 400 and is_error(answer, field=field), answer


def test_a_manual_payment_for_an_unknown_customer_is_422(client, s3, bucket, admin_headers):
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1")))
    status, body, _ = request(client, "POST", "/payments", admin_headers,
                              {"amount": "10.00", "currency": "EUR", "customer_id": "nobody"})
    assert status == 422 and is_error(body, "unknown_customer", "customer_id"), body
    assert get_json(client, "/payments", admin_headers)[1]["items"] == []
    status, body, _ = request(client, "POST", "/payments", admin_headers,
                              {"amount": "10.00", "currency": "EUR", "customer_id": "acme"})
    assert status == 201 and body["customer_id"] == "acme"


def test_a_page_of_tasks_still_works_with_its_declared_parameters(client, admin_headers):
    from datetime import UTC, datetime

    from chalicelib import bootstrap

    bootstrap.tasks().open(Task("t1", "escalation", "task", "acme", None, {}, datetime(2026, 11, 1, tzinfo=UTC),
                                "system:test"))
    status, body = get_json(client, "/tasks?status=open&limit=5", admin_headers)
    assert status == 200 and [t["id"] for t in body["items"]] == ["t1"]
