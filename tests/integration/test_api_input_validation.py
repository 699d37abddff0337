"""Inputs found by fuzzing the API (schemathesis, tests/e2e/test_api_fuzzing.py) that once answered 500:
each is now a 4xx with the field at fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalicelib import bootstrap
from chalicelib.services.ports import Task
from tests.integration.helpers import get_json


def send(client, method, path, body, headers):
    response = client.http.request(method, path, body=json.dumps(body).encode(),
                                   headers={**headers, "Content-Type": "application/json"})
    return response.status_code, json.loads(response.body)


# One moto set-up per test (they are slow); each case is checked in a loop with its own message.

def test_dates_outside_1900_to_2199_are_400_and_the_edges_are_taken(client, admin_headers):
    for path in ("/dunning/preview?as_of=9999-12-31", "/invoices?due_before=0001-01-01&due_after=0001-01-01",
                 "/payments?from=0001-01-01&to=9999-12-31", "/invoices?due_after=1899-12-31"):
        status, body = get_json(client, path, admin_headers)
        assert status == 400 and body["error"]["code"] == "invalid_parameter", (path, body)
        assert "1900-01-01" in body["error"]["message"], path
    assert get_json(client, "/dunning/preview?as_of=2199-12-31", admin_headers)[0] == 200
    assert get_json(client, "/invoices?due_before=1900-01-01&due_after=1900-01-01", admin_headers)[0] == 200


BAD_PAYMENTS = [
    ({"amount": "1e99999999", "currency": "EUR"}, 400, "amount"),
    ({"amount": "1" * 40, "currency": "EUR"}, 400, "amount"),
    ({"amount": "-5.00", "currency": "EUR"}, 400, "amount"),
    ({"amount": "0.00", "currency": "EUR"}, 400, "amount"),
    ({"amount": "NaN", "currency": "EUR"}, 400, "amount"),
    ({"amount": "12.345", "currency": "EUR"}, 422, None),  # the currency's decimals: a domain rule
    ({"amount": "10.00", "currency": "EUR", "invoice_numbers": ["\u00e2\u008a\u007f"]}, 400, "invoice_numbers"),
    ({"amount": "10.00", "currency": "EUR", "invoice_numbers": ["--/--"]}, 400, "invoice_numbers"),
    ({"amount": "10.00", "currency": "EUR", "payer_name": 5}, 400, "payer_name"),
    ({"amount": "10.00", "currency": "EUR", "received_on": "0361-04-12"}, 400, "received_on"),
]


def test_bad_manual_payments_are_refused(client, admin_headers):
    for body, status, field in BAD_PAYMENTS:
        answer_status, answer = send(client, "POST", "/payments", body, admin_headers)
        assert answer_status == status, (body, answer)
        if field:
            assert answer["error"]["field"] == field, (body, answer)
    assert get_json(client, "/payments", admin_headers)[1]["items"] == []  # nothing recorded


def test_a_plain_manual_payment_still_records(client, admin_headers):
    status, payment = send(client, "POST", "/payments", {"amount": " 10.50 ", "currency": "EUR", "payer_name": "X",
                                                        "invoice_numbers": ["INV 7"]}, admin_headers)
    assert status == 201 and payment["amount"] == "10.50" and payment["payer_name"] == "X"


def test_bad_allocations_are_400(client, admin_headers):
    _, payment = send(client, "POST", "/payments", {"amount": "10.00", "currency": "EUR"}, admin_headers)
    for body, field in (({"invoice_number": True}, "invoice_number"), ({"invoice_number": {"a": 1}}, "invoice_number"),
                        ({"invoice_id": "INV-1", "amount": "1e999"}, "amount")):
        status, answer = send(client, "POST", f"/payments/{payment['id']}/allocations", body, admin_headers)
        assert status == 400 and answer["error"]["field"] == field, (body, answer)


BAD_RATE_ROWS = [
    (["ecb_mro"], "reference_rates[0]"),
    ([{"scheme": "ecb_mro", "valid_from": [], "rate": "2.15"}], "reference_rates[0].valid_from"),
    ([{"scheme": "ecb_mro", "valid_from": "2026-01-01", "rate": True}], "reference_rates[0].rate"),
    ([{"scheme": 1, "valid_from": "2026-01-01", "rate": "2"}], "reference_rates[0].scheme"),
    ([{"scheme": "ecb_mro", "valid_from": "2026-01-01", "rate": "2", "source": 3}], "reference_rates[0].source"),
    ([{"scheme": "ecb_mro", "valid_from": "2026-01-01", "rate": "2", "x": 1}], "reference_rates[0].x"),
]


def test_malformed_reference_rate_rows_are_422(client, admin_headers):
    for rows, field in BAD_RATE_ROWS:
        status, answer = send(client, "PUT", "/dunning/settings", {"reference_rates": rows}, admin_headers)
        assert status == 422 and answer["error"]["field"] == field, (rows, answer)
    assert get_json(client, "/dunning/settings", admin_headers)[1]["version"] == 0  # nothing saved


def test_well_formed_reference_rates_still_save(client, admin_headers):
    rows = [{"scheme": "ecb_mro", "valid_from": "2026-07-01", "rate": 2, "source": "test"},
            {"scheme": "boe_base", "valid_from": "2026-01-01", "rate": "3.75"}]
    status, saved = send(client, "PUT", "/dunning/settings", {"reference_rates": rows}, admin_headers)
    assert status == 200 and saved["version"] == 1
    assert {(r["scheme"], r["valid_from"], r["rate"]) for r in saved["reference_rates"]} == {
        ("ecb_mro", "2026-07-01", "2"), ("boe_base", "2026-01-01", "3.75")}


def test_ids_no_record_can_have_are_404(client, admin_headers):
    assert get_json(client, "/policies/" + "a" * 3000, admin_headers)[0] == 404
    assert get_json(client, "/policies/Not_A_Policy", admin_headers)[0] == 404
    assert send(client, "POST", "/tasks/" + "t" * 2000 + "/complete", {}, admin_headers)[0] == 404
    assert get_json(client, "/invoices/" + "i" * 300 + "/agency-export", admin_headers)[0] == 404


def test_tasks_page_with_a_cursor_the_api_accepts_back(client, admin_headers):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for index in range(5):
        bootstrap.tasks().open(Task(f"t{index}", "escalation", f"task {index}", "acme", None, {},
                                    start + timedelta(hours=index), "system:test"))
    seen, cursor = [], None
    while True:
        status, page = get_json(client, "/tasks?limit=2" + (f"&cursor={cursor}" if cursor else ""), admin_headers)
        assert status == 200, page
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["t4", "t3", "t2", "t1", "t0"]
