"""The read API as finance staff use it: auth and roles, filters, cursors and error bodies."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.integration.conftest import issue_key
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row


@pytest.fixture
def ledger(client, s3, bucket):
    rows = [invoice_row(f"INV-{i:03d}", f"{i}.00", customer="acme" if i % 2 else "globex",
                        due=(date(2026, 11, 1) + timedelta(days=3 * i)).isoformat(), paid="1.00" if i % 5 == 0 else "0")
            for i in range(1, 31)]
    rows.append(invoice_row("INV-VOID", "5.00", status="void"))
    drop(client, s3, bucket, "incoming/ledger.csv", dunwell_csv(*rows))


def test_health_needs_no_key(client):
    response = client.http.get("/health")
    assert response.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer dwk_0000000000000000_forged"}])
def test_reads_need_a_valid_key(client, aws, headers):
    status, body = get_json(client, "/invoices", headers)
    assert status == 401
    assert body["error"]["code"] == "unauthenticated" and body["error"]["message"]


def test_viewer_key_reads(client, ledger):
    status, body = get_json(client, "/invoices", {"Authorization": f"Bearer {issue_key('viewer')}"})
    assert status == 200 and len(body["items"]) == 31


def test_cursor_pagination_walks_every_invoice_once(client, ledger, admin_headers):
    seen, cursor = [], None
    while True:
        path = "/invoices?limit=7" + (f"&cursor={cursor}" if cursor else "")
        status, body = get_json(client, path, admin_headers)
        assert status == 200 and len(body["items"]) <= 7
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 31


def test_filters(client, ledger, admin_headers):
    _, by_customer = get_json(client, "/invoices?customer_id=globex&limit=200", admin_headers)
    assert by_customer["items"] and all(i["customer_id"] == "globex" for i in by_customer["items"])
    _, void = get_json(client, "/invoices?status=void", admin_headers)
    assert [i["number"] for i in void["items"]] == ["INV-VOID"]
    _, partial = get_json(client, "/invoices?status=partially_paid,paid&limit=200", admin_headers)
    assert {i["number"] for i in partial["items"]} == {"INV-005", "INV-010", "INV-015", "INV-020", "INV-025",
                                                      "INV-030"}
    _, window = get_json(client, "/invoices?due_after=2026-11-05&due_before=2026-11-20&limit=200", admin_headers)
    assert window["items"] and all("2026-11-05" < i["due_date"] < "2026-11-20" for i in window["items"])
    _, overdue = get_json(client, "/invoices?overdue=true&limit=200", admin_headers)
    assert overdue["items"] and all(i["overdue"] and i["days_overdue"] > 0 for i in overdue["items"])
    assert all(i["status"] != "void" for i in overdue["items"])


@pytest.mark.parametrize("query", ["status=bogus", "due_before=2026-02-30", "limit=0", "limit=abc",
                                   "cursor=!!!", "overdue=maybe"])
def test_bad_parameters_are_400_with_a_reason(client, ledger, admin_headers, query):
    status, body = get_json(client, f"/invoices?{query}", admin_headers)
    assert status == 400
    assert body["error"]["code"] in ("invalid_parameter", "invalid_cursor") and body["error"]["message"]


def test_unknown_ids_are_404(client, aws, admin_headers):
    for path in ("/invoices/NOPE", "/customers/nobody", "/imports/imp_000000000000000000000000", "/imports/x"):
        status, body = get_json(client, path, admin_headers)
        assert status == 404 and body["error"]["code"] == "not_found"


def test_customer_with_balance_summary(client, ledger, admin_headers):
    status, customers = get_json(client, "/customers", admin_headers)
    assert status == 200 and [c["id"] for c in customers["items"]] == ["acme", "globex"]
    _, acme = get_json(client, "/customers/acme", admin_headers)
    expected = sum(i for i in range(1, 31, 2)) - sum(1 for i in range(1, 31, 2) if i % 5 == 0)
    assert acme["balance"]["outstanding"] == [{"currency": "EUR", "amount": f"{expected}.00"}]
    assert acme["contacts"][0]["email"] == "ap@acme.example"


def test_imports_listed_newest_first(client, s3, bucket, admin_headers):
    first = drop(client, s3, bucket, "incoming/1.csv", dunwell_csv(invoice_row("INV-1")))
    second = drop(client, s3, bucket, "incoming/2.csv", dunwell_csv(invoice_row("INV-2")))
    _, body = get_json(client, "/imports", admin_headers)
    assert [i["id"] for i in body["items"]] == [second["import_id"], first["import_id"]]
