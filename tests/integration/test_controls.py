"""Controls that cannot be split: the collector write-off limit is per invoice, and an Idempotency-Key names one
request (the same request again is answered as the first time; another request under the key is 422)."""

from __future__ import annotations

import json

from chalicelib.adapters.models import EventModel, PaymentModel
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row


def post(client, path, headers, body, key=None):
    extra = {"Idempotency-Key": key} if key else {}
    response = client.http.post(path, body=json.dumps(body).encode(),
                                headers={**headers, **extra, "Content-Type": "application/json"})
    return response.status_code, json.loads(response.body)


def test_two_collector_write_offs_on_one_invoice_share_the_limit(client, s3, bucket, collector_headers,
                                                                   admin_headers):
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1", "1000.00")))
    status, first = post(client, "/invoices/INV-1/write-off", collector_headers, {"amount": "400.00", "reason": "a"})
    assert status == 200 and first["written_off"] == "400.00"
    status, second = post(client, "/invoices/INV-1/write-off", collector_headers, {"amount": "400.00", "reason": "b"})
    assert status == 403 and second["error"]["code"] == "needs_approval", second
    assert get_json(client, "/invoices/INV-1", admin_headers)[1]["written_off"] == "400.00"
    status, approved = post(client, "/invoices/INV-1/write-off", admin_headers, {"amount": "400.00", "reason": "b"})
    assert status == 200 and approved["written_off"] == "800.00"
    assert [e.type for e in EventModel.query("invoice#INV-1")].count("invoice.written_off") == 2


def test_a_write_off_key_reused_for_another_body_is_422(client, s3, bucket, collector_headers):
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1", "1000.00")))
    body = {"amount": "100.00", "reason": "small"}
    status, _ = post(client, "/invoices/INV-1/write-off", collector_headers, body, key="wo-1")
    assert status == 200
    # The same request again, spelt differently (key order): the first answer, nothing more written off.
    status, again = post(client, "/invoices/INV-1/write-off", collector_headers,
                         {"reason": "small", "amount": "100.00"}, key="wo-1")
    assert status == 200 and again["written_off"] == "100.00"
    status, refused = post(client, "/invoices/INV-1/write-off", collector_headers,
                           {"amount": "200.00", "reason": "small"}, key="wo-1")
    assert status == 422 and refused["error"]["code"] == "idempotency_key_reused", refused
    assert refused["error"]["field"] == "Idempotency-Key"
    status, _ = post(client, "/invoices/INV-2/write-off", collector_headers, body, key="wo-1")
    assert status == 404  # another invoice: its own keys (and this one does not exist)
    assert [e.type for e in EventModel.query("invoice#INV-1")].count("invoice.written_off") == 1


def test_a_payment_key_reused_for_another_body_is_422(client, s3, bucket, collector_headers):
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1", "1000.00")))
    body = {"amount": "100.00", "currency": "EUR", "invoice_numbers": ["INV-1"]}
    status, first = post(client, "/payments", collector_headers, body, key="pay-1")
    assert status == 201
    status, again = post(client, "/payments", collector_headers, body, key="pay-1")
    assert status == 201 and again["id"] == first["id"] and again["amount"] == "100.00"
    status, refused = post(client, "/payments", collector_headers, {**body, "amount": "900.00"}, key="pay-1")
    assert status == 422 and refused["error"]["code"] == "idempotency_key_reused", refused
    assert [m.payment_id for m in PaymentModel.scan()] == [first["id"]]
