"""Early-payment discounts honoured against moto: a payment keyed in (POST /payments) or from a webhook, received
inside 2/10 net 30, settles the invoice with the discount booked, stored, shown by the API, on the timeline and in
the receipt; taken late, the difference stays open with a task; a refund takes the discount back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib import bootstrap
from chalicelib.adapters.models import InvoiceModel
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentEvent, PaymentKind
from tests.integration.helpers import drop, dunwell_csv, get_json
from tests.integration.test_dunning import deliver_stream, mails, row, text_of


def with_terms(line: str) -> str:
    """The row with the customer's terms column (after the due date) saying 2/10 net 30."""
    cells = line.split(",")
    cells[11] = "2/10 net 30"
    return ",".join(cells)


def setup(client: Any, s3: Any, bucket: str, headers: dict[str, str], receipts: bool = False) -> dict[str, str]:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(with_terms(row("INV-1", language="de")),
                                                           with_terms(row("INV-2", total="500.00", language="de"))))
    json_headers = {**headers, "Content-Type": "application/json"}
    _, customer = get_json(client, "/customers/acme", headers)
    assert customer["payment_terms"] == "2/10 net 30"
    if receipts:
        patched = client.http.patch("/customers/acme", headers=json_headers,
                                    body=json.dumps({"payment_receipts": True}))
        assert patched.status_code == 200, patched.body
    return json_headers


def pay(client: Any, headers: dict[str, str], amount: str, received_on: str, key: str,
        numbers: tuple[str, ...] = ("INV-1",)) -> dict[str, Any]:
    body = json.dumps({"amount": amount, "currency": "EUR", "customer_id": "acme", "method": "wire",
                       "invoice_numbers": list(numbers), "received_on": received_on})
    paid = client.http.post("/payments", headers={**headers, "Idempotency-Key": key}, body=body)
    assert paid.status_code in (200, 201), paid.body
    return dict(json.loads(paid.body))


def test_a_wire_received_inside_the_window_settles_with_the_discount_on_api_timeline_and_receipt(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    headers = setup(client, s3, bucket, admin_headers, receipts=True)
    payment = pay(client, headers, "980.00", "2026-11-11", "wire-1")  # the last day of 2/10 from 1 November
    status, body = get_json(client, "/invoices/INV-1", admin_headers)
    assert status == 200
    assert (body["status"], body["balance"], body["paid"], body["discounted"]) == ("paid", "0.00", "980.00", "20.00")
    stored = InvoiceModel.get("INV-1")
    assert stored.discounted_minor == 2000 and stored.discount_payment_id == payment["id"]
    _, listed = get_json(client, "/invoices?customer_id=acme", admin_headers)
    assert {i["number"]: i["discounted"] for i in listed["items"]} == {"INV-1": "20.00", "INV-2": "0.00"}
    _, timeline = get_json(client, "/invoices/INV-1/timeline", admin_headers)
    [granted] = [e for e in timeline["items"] if e["type"] == "invoice.discount_granted"]
    assert granted["data"]["amount"] == "20.00" and granted["data"]["last_day"] == "2026-11-11"
    deliver_stream(client, payment["id"])
    [receipt] = mails()
    assert "INV-1: 980,00\xa0€ (vollständig bezahlt, abzüglich 20,00\xa0€ Skonto)" in text_of(receipt)


def test_the_discounted_amount_received_late_leaves_the_rest_open_with_a_task(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    headers = setup(client, s3, bucket, admin_headers)
    pay(client, headers, "490.00", "2026-11-12", "wire-2", ("INV-2",))
    _, body = get_json(client, "/invoices/INV-2", admin_headers)
    assert (body["status"], body["balance"], body["discounted"]) == ("partially_paid", "10.00", "0.00")
    _, tasks = get_json(client, "/tasks", admin_headers)
    [task] = [t for t in tasks["items"] if t["kind"] == "discount_taken_late"]
    assert task["invoice_id"] == "INV-2" and "10.00" in task["title"]


def test_a_webhook_in_time_then_its_refund_takes_the_discount_back(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    setup(client, s3, bucket, admin_headers)
    service = bootstrap.payment_service()
    received = datetime(2026, 11, 10, 23, 30, tzinfo=UTC)

    def event(event_id: str, kind: PaymentKind, ref: str, amount: str) -> PaymentEvent:
        return PaymentEvent(provider="stripe", event_id=event_id, payment_ref=ref, kind=kind,
                            amount=Money.of(amount, "EUR"), occurred_at=received, raw_type="test",
                            references=("INV-1",), original_ref="pi_1" if kind is not PaymentKind.PAYMENT else None)

    assert service.receive(event("evt_1", PaymentKind.PAYMENT, "pi_1", "980.00")).outcome == "applied"
    assert InvoiceModel.get("INV-1").status == "paid" and InvoiceModel.get("INV-1").discounted_minor == 2000
    assert service.receive(event("evt_2", PaymentKind.REFUND, "re_1", "980.00")).outcome == "reversed"
    _, body = get_json(client, "/invoices/INV-1", admin_headers)
    assert (body["status"], body["balance"], body["discounted"]) == ("open", "1000.00", "0.00")
