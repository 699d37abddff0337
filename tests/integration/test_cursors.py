"""Cursors through the HTTP API: a real next_cursor pages, anything else is 400 invalid_cursor before DynamoDB sees
it (real DynamoDB answers a forged ExclusiveStartKey with a ValidationException, moto with nearly anything)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.connection.base import Connection

from chalicelib import bootstrap
from chalicelib.services.ports import Task
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row

LISTS = ["/invoices", "/invoices?status=open", "/customers", "/imports", "/payments", "/tasks", "/disputes",
         "/api-keys"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# Well-formed LastEvaluatedKeys, as the API issued them before cursors were signed: moto would take them.
FORGED = [
    b64(json.dumps({"p": 0, "k": {"customer_id": {"S": "acme"}, "list_key": {"S": "customer"},
                                  "name_key": {"S": "acme"}}}).encode()),
    b64(json.dumps({"p": 0, "k": {"invoice_id": {"S": "INV-001"}, "status": {"S": "open"},
                                  "due_key": {"S": "2026-12-01#INV-001"}}}).encode()),
    b64(json.dumps({"p": 0, "k": {"nonsense": {"S": "x"}}}).encode()) + "." + "A" * 22,
    b64(json.dumps({"p": 5, "k": None}).encode()) + "." + b64(b"\x00" * 16),
]


def with_cursor(path: str, cursor: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}cursor={cursor}"


def open_tasks(count: int) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for index in range(count):
        bootstrap.tasks().open(Task(f"t{index}", "escalation", f"task {index}", "acme", None, {},
                                    start + timedelta(hours=index), "system:test"))


def walk(client: Any, path: str, headers: dict[str, str]) -> list[str]:
    seen, cursor = [], None
    while True:
        status, body = get_json(client, with_cursor(path, cursor) if cursor else path, headers)
        assert status == 200, body
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return seen


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("forged", FORGED)
def test_a_forged_well_formed_cursor_is_400_on_every_list(client, admin_headers, path, forged):
    status, body = get_json(client, with_cursor(path, forged), admin_headers)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_cursor" and body["error"]["field"] == "cursor"


def test_a_real_next_cursor_still_pages_and_may_change_the_page_size(client, admin_headers):
    open_tasks(5)
    assert walk(client, "/tasks?limit=2", admin_headers) == ["t4", "t3", "t2", "t1", "t0"]
    _, first = get_json(client, "/tasks?limit=2", admin_headers)
    status, rest = get_json(client, f"/tasks?limit=10&cursor={first['next_cursor']}", admin_headers)
    assert status == 200 and [t["id"] for t in rest["items"]] == ["t2", "t1", "t0"]


def test_a_cursor_works_only_on_the_list_and_filters_it_came_from(client, s3, bucket, admin_headers):
    rows = [invoice_row(f"INV-{i:03d}", status="paid" if i % 2 else "open",
                        due=(datetime(2026, 11, 1) + timedelta(days=i)).date().isoformat()) for i in range(1, 9)]
    drop(client, s3, bucket, "incoming/ledger.csv", dunwell_csv(*rows))
    assert len(walk(client, "/invoices?status=open&limit=3", admin_headers)) == 4
    _, page = get_json(client, "/invoices?status=open&limit=3", admin_headers)
    cursor = page["next_cursor"]
    assert get_json(client, f"/invoices?status=open&limit=3&cursor={cursor}", admin_headers)[0] == 200
    for other in ("/invoices?status=paid", "/invoices", "/invoices?status=open&customer_id=acme",
                  "/invoices?status=open&due_after=2026-11-02", "/payments", "/tasks", "/api-keys"):
        status, body = get_json(client, with_cursor(other, cursor), admin_headers)
        assert status == 400 and body["error"]["code"] == "invalid_cursor", (other, body)


def test_a_signed_cursor_dynamodb_refuses_is_400_not_500(client, admin_headers, monkeypatch):
    """A cursor the API signed whose key no longer fits the index (say, issued before a deployment that changed it):
    real DynamoDB answers ValidationException. The client gets 400 invalid_cursor, never a 500."""
    open_tasks(3)
    _, first = get_json(client, "/tasks?limit=2", admin_headers)
    original = Connection._make_api_call

    def refuse_start_keys(self: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        if operation_name == "Query" and "ExclusiveStartKey" in operation_kwargs:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "The provided starting key is "
                                         "invalid: The provided key element does not match the schema"}}, "Query")
        return original(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", refuse_start_keys)
    status, body = get_json(client, f"/tasks?limit=2&cursor={first['next_cursor']}", admin_headers)
    assert status == 400 and body["error"]["code"] == "invalid_cursor", body
    assert get_json(client, "/tasks?limit=2", admin_headers)[0] == 200  # no cursor: DynamoDB's answer stands
