"""GET /openapi.json: the document describes exactly the routes Chalice registers, with the role each view
is wrapped with, and real answers of the API conform to its schemas."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import schemathesis

from app import app
from chalicelib.api.http import required_role
from chalicelib.api.openapi import ROLE_EXTENSION, document
from chalicelib.api.pages import is_page
from chalicelib.formats.processors.registry import processors
from tests.integration.conftest import issue_key
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def documented() -> dict[tuple[str, str], dict]:
    return {(path, method.upper()): op for path, item in document()["paths"].items()
            for method, op in item.items() if method in HTTP_METHODS}


def routed() -> dict[tuple[str, str], object]:
    routes = {(path, method): entry for path, methods in app.routes.items() for method, entry in methods.items()}
    # One route serves every registered processor, each documented at its own URL as well.
    for name in processors():
        routes[(f"/webhooks/{name}", "POST")] = routes[("/webhooks/{provider}", "POST")]
    return routes


def test_every_route_is_documented_and_every_documented_operation_is_routed():
    missing = sorted(set(routed()) - set(documented()))
    extra = sorted(set(documented()) - set(routed()))
    assert not missing, ("routes missing from chalicelib/api/openapi.py (add them to _paths()): "
                         + ", ".join(f"{method} {path}" for path, method in missing))
    assert not extra, ("documented in chalicelib/api/openapi.py but not routed: "
                       + ", ".join(f"{method} {path}" for path, method in extra))


def test_documented_roles_and_path_parameters_match_the_views():
    problems = []
    ops = documented()
    for (path, method), entry in sorted(routed().items()):
        op = ops.get((path, method))
        if op is None:
            continue  # reported by the test above
        view = entry.view_function  # type: ignore[attr-defined]
        try:
            role = required_role(view)
        except LookupError:
            # Only the webhooks are outside endpoint(): a processor's signature authenticates them.
            if not path.startswith("/webhooks/") or op.get("x-dunwell-auth") != "signature":
                problems.append(f"{method} {path}: the view is not wrapped by endpoint()")
            role = None
        expected = role.label if role else None
        if op.get(ROLE_EXTENSION, "missing") != expected:
            problems.append(f"{method} {path}: documented role {op.get(ROLE_EXTENSION, 'missing')!r}, "
                            f"the view needs {expected!r}")
        if (op.get("security") == []) != (role is None):
            problems.append(f"{method} {path}: security does not say whether a key is needed")
        in_path = set(re.findall(r"{(\w+)}", path))
        params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        if in_path != params:
            problems.append(f"{method} {path}: path parameters documented {sorted(params)}, routed {sorted(in_path)}")
        statuses = set(op["responses"])
        if role is not None and "401" not in statuses:
            problems.append(f"{method} {path}: 401 not documented")
        if role is not None and role.label != "viewer" and "403" not in statuses:
            problems.append(f"{method} {path}: 403 not documented")
        if op.get("x-dunwell-page"):  # an HTML page (chalicelib/api/pages.py): its errors are pages too
            if not is_page(view):
                problems.append(f"{method} {path}: documented as a page, but the view is not wrapped by page()")
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")) and set(response["content"]) != {"text/html"}:
                    problems.append(f"{method} {path}: {status} of a page is not text/html")
            continue
        if is_page(view):
            problems.append(f"{method} {path}: an HTML page not documented with x-dunwell-page")
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and not path.startswith("/webhooks/"):
                schema = response["content"]["application/json"]["schema"]
                if schema != {"$ref": "#/components/schemas/Error"}:
                    problems.append(f"{method} {path}: {status} is not the Error schema")
    assert not problems, "\n".join(problems)


def test_the_document_is_served_without_a_key_and_is_valid_openapi_3_1(client, aws):
    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    served = json.loads(response.body)
    assert served == document()
    assert served["openapi"] == "3.1.0"
    for schema in served["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    # schemathesis resolves every operation (references, parameters, bodies) or says which one is broken.
    operations = [result.ok() for result in schemathesis.openapi.from_dict(served).get_all_operations()]
    assert {(op.path, op.method.upper()) for op in operations} == set(documented())


def test_the_server_url_follows_the_stage_the_document_is_served_under():
    assert document("/api")["servers"] == [{"url": "/api"}]
    assert document()["servers"] == [{"url": "/"}]


# ---------------------------------------------------------------------------------------- real answers

def validator(schema_name: str) -> jsonschema.Draft202012Validator:
    doc = document()
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def conforms(schema_name: str, body) -> None:
    errors = sorted(validator(schema_name).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{schema_name}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.fixture
def ledger(client, s3, bucket):
    rows = [invoice_row("INV-001", "120.00", due="2026-11-15"), invoice_row("INV-002", "80.50", paid="10.00"),
            invoice_row("INV-003", "5000", currency="JPY", customer="globex"), invoice_row("INV-BAD", "12.345")]
    drop(client, s3, bucket, "incoming/ledger.csv", dunwell_csv(*rows))


def post_json(client, path, body, headers):
    response = client.http.post(path, body=json.dumps(body), headers={**headers, "Content-Type": "application/json"})
    return response.status_code, json.loads(response.body)


def test_answers_conform_to_the_documented_schemas(client, ledger, admin_headers):
    checks = [
        ("/health", "Health"), ("/invoices", "Page"), ("/invoices/INV-001", "Invoice"),
        ("/customers/acme", "CustomerDetail"), ("/policies/default", "Policy"),
        ("/dunning/settings", "DunningSettings"), ("/dunning/preview?as_of=2026-12-31", "DunningPreview"),
        ("/invoices/INV-001/agency-export", "AgencyExport"), ("/tasks", "Page"), ("/api-keys", "Page"),
    ]
    for path, schema_name in checks:
        status, body = get_json(client, path, admin_headers)
        assert status == 200, (path, body)
        conforms(schema_name, body)
    pages = {"/invoices": "Invoice", "/customers": "Customer", "/imports": "Import", "/payments": "Payment",
             "/api-keys": "ApiKey", "/policies": "Policy"}
    status, payment = post_json(client, "/payments", {"amount": "50.00", "currency": "EUR", "customer_id": "acme",
                                                      "invoice_numbers": ["INV-002"]}, admin_headers)
    assert status == 201
    conforms("Payment", payment)
    for path, item in pages.items():
        status, body = get_json(client, path, admin_headers)
        assert status == 200 and body["items"], path
        for entry in body["items"]:
            conforms(item, entry)
    _, imports = get_json(client, "/imports", admin_headers)
    status, detail = get_json(client, f"/imports/{imports['items'][0]['id']}", admin_headers)
    assert status == 200 and detail["rejected_rows"]
    conforms("ImportDetail", detail)
    status, issued = post_json(client, "/api-keys", {"name": "schema", "role": "viewer"}, admin_headers)
    assert status == 201
    conforms("IssuedApiKey", issued)
    status, run = post_json(client, "/dunning/runs", {}, admin_headers)
    assert status == 200
    conforms("DunningRun", run)
    status, note = post_json(client, "/customers/acme/notes", {"text": "called, promised Friday"}, admin_headers)
    assert status == 201
    conforms("TimelineEntry", note)
    for path in ("/invoices/INV-001/timeline", "/customers/acme/timeline"):
        status, timeline = get_json(client, path, admin_headers)
        assert status == 200 and timeline["items"], path
        conforms("Timeline", timeline)
    status, held = post_json(client, "/customers/acme/credit-hold", {"reason": "late"}, admin_headers)
    assert status == 200
    conforms("CustomerCredit", held)
    limit = json.dumps({"amount": "5000.00", "currency": "EUR"})
    response = client.http.put("/customers/acme/credit-limit", body=limit,
                               headers={**admin_headers, "Content-Type": "application/json"})
    assert response.status_code == 200
    limited = json.loads(response.body)
    assert limited["credit"]["credit_limit"] == "5000.00"
    conforms("CustomerCredit", limited)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/invoices?limit=0", 400), ("GET", "/invoices/nope~x!", 404), ("GET", "/invoices", 401),
    ("POST", "/dunning/runs", 403),
])
def test_errors_conform_to_the_error_schema(client, aws, method, path, status):
    headers = {} if status == 401 else {"Authorization": f"Bearer {issue_key('viewer')}"}
    response = client.http.request(method, path, headers=headers, body=b"")
    assert response.status_code == status
    conforms("Error", json.loads(response.body))
