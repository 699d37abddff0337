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
        numbers: tuple[str, ...] = ("INV-1",), initiated_on: str | None = None) -> dict[str, Any]:
    body = json.dumps({"amount": amount, "currency": "EUR", "customer_id": "acme", "method": "wire",
                       "invoice_numbers": list(numbers), "received_on": received_on,
                       **({"initiated_on": initiated_on} if initiated_on else {})})
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


def test_one_wire_for_two_discounted_amounts_received_late_leaves_each_difference_open_with_its_task(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    headers = setup(client, s3, bucket, admin_headers)
    payment = pay(client, headers, "1470.00", "2026-11-12", "wire-3", ("INV-1", "INV-2"))
    assert [(a["number"], a["amount"]) for a in payment["allocations"]] == [("INV-1", "980.00"), ("INV-2", "490.00")]
    for number, left in (("INV-1", "20.00"), ("INV-2", "10.00")):
        _, body = get_json(client, f"/invoices/{number}", admin_headers)
        assert (body["status"], body["balance"], body["discounted"]) == ("partially_paid", left, "0.00"), number
    _, tasks = get_json(client, "/tasks", admin_headers)
    late = sorted((t["invoice_id"], t["title"]) for t in tasks["items"] if t["kind"] == "discount_taken_late")
    assert [invoice_id for invoice_id, _ in late] == ["INV-1", "INV-2"]
    assert "20.00" in late[0][1] and "10.00" in late[1][1]


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


def test_a_bank_statement_line_booked_inside_the_window_earns_the_discount_one_booked_after_does_not(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    setup(client, s3, bucket, admin_headers)
    statement = ("date,amount,currency,payer_name,reference,bank_ref\n"
                 "2026-11-09,980.00,EUR,Acme GmbH,Rechnung INV-1,REF-1\n"
                 "2026-11-13,490.00,EUR,Acme GmbH,Rechnung INV-2,REF-2\n")
    outcome = drop(client, s3, bucket, "bank/week-46.csv", statement.encode())
    assert outcome["status"] == "processed", outcome
    _, first = get_json(client, "/invoices/INV-1", admin_headers)
    _, second = get_json(client, "/invoices/INV-2", admin_headers)
    assert (first["status"], first["discounted"]) == ("paid", "20.00")
    assert (second["status"], second["balance"], second["discounted"]) == ("partially_paid", "10.00", "0.00")


def test_a_discounted_payment_costs_one_read_more_than_a_full_one_within_the_webhook_budget(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str],
        monkeypatch: Any) -> None:
    """The customer's terms are read only for money short of what it quotes: 4 DynamoDB requests for a payment in
    full, 5 (the budget of `make bench --only payments`) for one at the discounted amount."""
    from pynamodb.connection.base import Connection

    setup(client, s3, bucket, admin_headers)
    calls: list[str] = []
    original = Connection._make_api_call

    def counted(conn: Any, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        calls.append(operation_name)
        return original(conn, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", counted)
    service = bootstrap.payment_service()
    received = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
    for ref, number, amount in (("pi_full", "INV-1", "1000.00"), ("pi_disc", "INV-2", "490.00")):
        calls.clear()
        service.receive(PaymentEvent(provider="stripe", event_id=f"evt_{ref}", payment_ref=ref,
                                     kind=PaymentKind.PAYMENT, amount=Money.of(amount, "EUR"), occurred_at=received,
                                     raw_type="test", references=(number,)))
        assert len(calls) == (4 if ref == "pi_full" else 5), calls
    assert InvoiceModel.get("INV-2").discounted_minor == 1000


def test_a_cheque_dated_inside_the_window_and_received_after_it_earns_the_discount(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    headers = setup(client, s3, bucket, admin_headers)
    payment = pay(client, headers, "490.00", "2026-11-14", "cheque-1", ("INV-2",), initiated_on="2026-11-10")
    assert payment["initiated_on"] == "2026-11-10" and payment["occurred_at"].startswith("2026-11-14")
    _, body = get_json(client, "/invoices/INV-2", admin_headers)
    assert (body["status"], body["balance"], body["discounted"]) == ("paid", "0.00", "10.00")
    late = pay(client, headers, "980.00", "2026-11-14", "cheque-2", ("INV-1",), initiated_on="2026-11-12")
    assert late["initiated_on"] == "2026-11-12"
    _, body = get_json(client, "/invoices/INV-1", admin_headers)
    assert (body["status"], body["balance"], body["discounted"]) == ("partially_paid", "20.00", "0.00")


def test_an_order_day_after_the_day_received_is_refused(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    headers = setup(client, s3, bucket, admin_headers)
    body = json.dumps({"amount": "490.00", "currency": "EUR", "customer_id": "acme", "invoice_numbers": ["INV-2"],
                       "received_on": "2026-11-10", "initiated_on": "2026-11-12"})
    refused = client.http.post("/payments", headers={**headers, "Idempotency-Key": "k"}, body=body)
    assert refused.status_code == 400 and json.loads(refused.body)["error"]["field"] == "initiated_on"
