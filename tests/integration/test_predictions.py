"""GET /reports/predictions on moto: the invoices open at as_of (an invoice paid after it is open to it), paged,
by customer, documented, and as_of in the future refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row
from tests.integration.test_openapi import conforms
from tests.integration.test_settlement_log import pay, stream_record

PAST = "2026-11-21"  # INV-1 is paid on the 22nd (the payment's received date): open to the 21st


@pytest.fixture
def ledger(client, s3, bucket):
    drop(client, s3, bucket, "incoming/ledger.csv", dunwell_csv(
        invoice_row("INV-1", "100.00", due="2026-11-10"),
        invoice_row("INV-2", "250.00", due="2026-11-20"),
        invoice_row("INV-3", "70.00", due="2026-11-15", customer="globex")))
    old, new = pay("INV-1", "100.00", "evt_1")
    client.lambda_.invoke("project_invoices", {"Records": [stream_record("1", old, new)]})


def numbers(body):
    return sorted(item["number"] for item in body["items"])


def test_predictions_of_a_past_day_count_what_was_paid_after_it_as_open(client, ledger, admin_headers):
    status, body = get_json(client, f"/reports/predictions?as_of={PAST}", admin_headers)
    assert status == 200, body
    assert body["as_of"] == PAST and numbers(body) == ["INV-1", "INV-2", "INV-3"]
    conforms("Prediction", body["items"][0])
    for item in body["items"]:
        assert date.fromisoformat(item["predicted_pay_date"]) > date.fromisoformat(PAST)
        assert item["late_probability"] == "1.00"  # every one is past due on the 21st
        assert item["expected_days_late"] == (date.fromisoformat(item["predicted_pay_date"])
                                              - date.fromisoformat(item["due_date"])).days
        assert any("past due" in reason for reason in item["reasons"])
    paid = next(i for i in body["items"] if i["number"] == "INV-1")
    assert (paid["balance"], paid["currency"], paid["customer_id"]) == ("100.00", "EUR", "acme")
    # The same question again gives the same answer.
    assert get_json(client, f"/reports/predictions?as_of={PAST}", admin_headers)[1] == body


def test_today_the_paid_invoice_is_not_open(client, ledger, admin_headers):
    status, body = get_json(client, "/reports/predictions", admin_headers)
    assert status == 200 and numbers(body) == ["INV-2", "INV-3"]


def test_pages_and_one_customer(client, ledger, admin_headers):
    seen, cursor = [], None
    while True:
        path = f"/reports/predictions?as_of={PAST}&limit=1" + (f"&cursor={cursor}" if cursor else "")
        status, body = get_json(client, path, admin_headers)
        assert status == 200, body
        seen += numbers(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["INV-1", "INV-2", "INV-3"]
    status, body = get_json(client, f"/reports/predictions?as_of={PAST}&customer_id=globex", admin_headers)
    assert status == 200 and numbers(body) == ["INV-3"]
    status, body = get_json(client, f"/reports/predictions?as_of={PAST}&customer_id=acme", admin_headers)
    assert numbers(body) == ["INV-1", "INV-2"]


def test_as_of_in_the_future_and_bad_parameters_are_refused(client, ledger, admin_headers):
    tomorrow = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    status, body = get_json(client, f"/reports/predictions?as_of={tomorrow}", admin_headers)
    assert status == 422 and body["error"]["field"] == "as_of"
    assert get_json(client, "/reports/predictions?as_of=yesterday", admin_headers)[0] == 400
    assert get_json(client, "/reports/predictions?sort=x", admin_headers)[0] == 400


def test_a_past_day_answers_the_same_after_later_facts_arrive(client, s3, bucket, admin_headers):
    drop(client, s3, bucket, "incoming/ledger.csv", dunwell_csv(
        invoice_row("INV-1", "100.00", due="2026-11-10"),
        invoice_row("INV-2", "250.00", due="2026-11-20")))

    def answer():
        status, body = get_json(client, f"/reports/predictions?as_of={PAST}", admin_headers)
        assert status == 200, body
        return sorted(body["items"], key=lambda item: item["invoice_id"])

    before = answer()
    old, new = pay("INV-1", "100.00", "evt_later")  # paid (and projected) after PAST
    client.lambda_.invoke("project_invoices", {"Records": [stream_record("9", old, new)]})
    assert answer() == before
