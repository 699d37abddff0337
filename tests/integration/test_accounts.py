"""Timelines, notes and credit control through the API."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.conftest import issue_key
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row


def post(client: Any, path: str, headers: dict[str, str], body: Any, method: str = "post") -> Any:
    return getattr(client.http, method)(path, headers={**headers, "Content-Type": "application/json"},
                                        body=json.dumps(body))


def test_invoice_timeline_shows_import_payment_and_notes_in_order(client: Any, s3: Any, bucket: str,
                                                                   admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1", "100.00")))
    noted = post(client, "/invoices/INV-1/notes", admin_headers, {"text": "Called AP, cheque in the post"})
    assert noted.status_code == 201
    paid = post(client, "/payments", {**admin_headers, "Idempotency-Key": "c-1"},
                {"amount": "40.00", "currency": "EUR", "customer_id": "acme", "invoice_numbers": ["INV-1"],
                 "method": "cheque"})
    assert paid.status_code in (200, 201), paid.body
    status, body = get_json(client, "/invoices/INV-1/timeline", admin_headers)
    assert status == 200
    assert [e["type"] for e in body["items"]] == ["invoice.imported", "note.added", "invoice.payment_applied"]
    note = body["items"][1]
    assert note["actor"] == "key:test-admin" and note["data"]["text"] == "Called AP, cheque in the post"
    assert body["items"][0]["data"]["import_id"].startswith("imp_")


def test_customer_timeline_merges_its_invoices(client: Any, s3: Any, bucket: str,
                                               admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1"), invoice_row("INV-2")))
    post(client, "/customers/acme/notes", admin_headers, {"text": "Prefers email"})
    status, body = get_json(client, "/customers/acme/timeline", admin_headers)
    assert status == 200
    types = [(e["entity_type"], e["type"]) for e in body["items"]]
    assert ("customer", "customer.created") in types and ("customer", "note.added") in types
    assert types.count(("invoice", "invoice.imported")) == 2


def test_notes_need_a_collector_a_text_and_an_existing_subject(client: Any, s3: Any, bucket: str,
                                                               admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1")))
    viewer = {"Authorization": f"Bearer {issue_key('viewer')}"}
    assert post(client, "/invoices/INV-1/notes", viewer, {"text": "x"}).status_code == 403
    assert post(client, "/invoices/INV-1/notes", admin_headers, {"text": "  "}).status_code == 422
    assert post(client, "/invoices/NOPE/notes", admin_headers, {"text": "x"}).status_code == 404
    assert get_json(client, "/customers/nobody/timeline", admin_headers)[0] == 404


def test_credit_hold_by_hand_and_release_are_audited(client: Any, s3: Any, bucket: str,
                                                     admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1")))
    held = post(client, "/customers/acme/credit-hold", admin_headers, {"reason": "cheque bounced"})
    assert held.status_code == 200 and json.loads(held.body)["credit_hold"] is True
    assert post(client, "/customers/acme/credit-hold", admin_headers, {}).status_code == 422  # a reason is required
    released = client.http.delete("/customers/acme/credit-hold", headers=admin_headers)
    assert released.status_code == 200 and json.loads(released.body)["credit_hold"] is False
    types = [e["type"] for e in get_json(client, "/customers/acme/timeline", admin_headers)[1]["items"]]
    assert types.count("customer.credit_hold_set") == 1 and types.count("customer.credit_hold_released") == 1


def test_going_over_the_credit_limit_puts_the_customer_on_hold(client: Any, s3: Any, bucket: str,
                                                               admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1", "600.00")))
    limited = post(client, "/customers/acme/credit-limit", admin_headers, {"amount": "1000.00", "currency": "EUR"},
                   method="put")
    assert limited.status_code == 200, limited.body
    body = json.loads(limited.body)
    assert body["credit_hold"] is False
    assert body["credit"] == {"credit_limit": "1000.00", "outstanding": "600.00", "currency": "EUR",
                              "utilisation": "0.6000"}
    drop(client, s3, bucket, "incoming/b.csv", dunwell_csv(invoice_row("INV-2", "500.00")))
    customer = get_json(client, "/customers/acme", admin_headers)[1]
    assert customer["credit_hold"] is True
    events = get_json(client, "/customers/acme/timeline", admin_headers)[1]["items"]
    [hold] = [e for e in events if e["type"] == "customer.credit_hold_set"]
    assert hold["actor"] == "system:credit" and hold["data"]["utilisation"] == "1.1000"
    collector = {"Authorization": f"Bearer {issue_key('collector')}"}
    assert post(client, "/customers/acme/credit-limit", collector, {"amount": "1"}, method="put").status_code == 403


def test_a_zero_credit_limit_means_no_credit(client: Any, s3: Any, bucket: str,
                                             admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1", "10.00")))
    limited = post(client, "/customers/acme/credit-limit", admin_headers, {"amount": "0", "currency": "EUR"},
                   method="put")
    assert limited.status_code == 200, limited.body
    body = json.loads(limited.body)
    assert body["credit_hold"] is True and body["credit"]["utilisation"] is None
