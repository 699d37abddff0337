"""The settlement log through the invoices stream handler (moto): a payment that settles an invoice lands in its
customer's log once, whatever the redelivery; GET /customers/{id} shows behaviour and risk; policy_by_risk is
validated, saved and shown by the dunning preview."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.models import InvoiceModel
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentEvent, PaymentKind
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def ledger(client, s3, bucket):
    drop(client, s3, bucket, "incoming/ledger.csv", dunwell_csv(
        invoice_row("INV-1", "100.00", due="2026-11-10"),
        invoice_row("INV-2", "250.00", due="2026-11-20")))


def stream_record(sequence: str, old: dict | None, new: dict | None) -> dict:
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    images = {**({"OldImage": old} if old else {}), **({"NewImage": new} if new else {})}
    return {"eventID": sequence, "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1", "eventSourceARN": "arn:aws:dynamodb:eu-west-1:000000000000:table/x/stream/y",
            "dynamodb": {"SequenceNumber": sequence, "ApproximateCreationDateTime": NOW.timestamp(),
                         "StreamViewType": "NEW_AND_OLD_IMAGES", **images}}


def pay(invoice_id: str, amount: str, event_id: str) -> tuple[dict, dict]:
    before = InvoiceModel.get(invoice_id).serialize()
    bootstrap.payment_service().receive(PaymentEvent(
        provider="stripe", event_id=event_id, payment_ref=f"pi_{event_id}", kind=PaymentKind.PAYMENT,
        amount=Money.of(amount, "EUR"), occurred_at=NOW, raw_type="test", references=(invoice_id,)))
    return before, InvoiceModel.get(invoice_id).serialize()


def test_a_settlement_reaches_the_log_once_and_the_customer_shows_behaviour_and_risk(client, ledger, admin_headers):
    old, new = pay("INV-1", "100.00", "evt_1")
    records = {"Records": [stream_record("1", old, new)]}
    assert client.lambda_.invoke("project_invoices", records).payload == {"batchItemFailures": []}
    client.lambda_.invoke("project_invoices", records)  # redelivered
    today = datetime.now(UTC).date()
    log = bootstrap.settlement_log().latest("acme", today)
    assert [(e.invoice_id, e.amount_minor) for e in log] == [("INV-1", 100_00)]
    status, body = get_json(client, "/customers/acme", admin_headers)
    assert status == 200
    assert body["behaviour"]["invoices_settled"] == 1
    assert body["behaviour"]["promises_kept"] == 0 and body["behaviour"]["dispute_rate"] == "0.0"
    assert body["risk"]["band"] in ("low", "medium", "high") and 0 <= body["risk"]["score"] <= 100
    assert body["risk"]["reasons"] and "only 1 invoice settled so far" in body["risk"]["reasons"]


def test_a_partial_payment_reads_and_writes_nothing_in_the_log(client, ledger):
    old, new = pay("INV-2", "50.00", "evt_2")
    client.lambda_.invoke("project_invoices", {"Records": [stream_record("2", old, new)]})
    assert bootstrap.settlement_log().latest("acme", date(2100, 1, 1)) == []


def put_settings(client, headers, body):
    response = client.http.put("/dunning/settings", headers={**headers, "Content-Type": "application/json"},
                               body=json.dumps(body))
    return response.status_code, json.loads(response.body)


@pytest.mark.parametrize(("by_risk", "field"), [
    ({"extreme": "default"}, "policy_by_risk"),
    ({"high": "no-such-policy"}, "policy_by_risk.high"),
    (["high"], "policy_by_risk"),
])
def test_policy_by_risk_is_validated(client, aws, admin_headers, by_risk, field):
    status, body = put_settings(client, admin_headers, {"policy_by_risk": by_risk})
    assert status == 422
    assert body["error"]["field"] == field


def test_policy_by_risk_is_saved_and_the_preview_says_which_policy_applied(client, ledger, admin_headers):
    status, body = put_settings(client, admin_headers, {"policy_by_risk": {"medium": "default"}})
    assert status == 200 and body["policy_by_risk"] == {"medium": "default"}
    assert get_json(client, "/dunning/settings", admin_headers)[1]["policy_by_risk"] == {"medium": "default"}
    status, preview = get_json(client, "/dunning/preview?as_of=2026-11-25", admin_headers)
    assert status == 200 and preview["items"]
    # acme has no settlement yet: a new customer is medium, and medium names a policy.
    assert {json.dumps(i["policy"], sort_keys=True) for i in preview["items"]} == {
        json.dumps({"policy_id": "default", "why": "risk band medium (policy_by_risk)"}, sort_keys=True)}


def test_the_dynamo_log_moves_a_record_when_the_settlement_date_moves_and_reads_by_date(aws):
    from chalicelib.adapters.settlements import DynamoSettlements
    from chalicelib.services.ports import Pointer, SettlementEntry, VersionConflict

    store = DynamoSettlements()

    def entry(invoice_id: str, on: date, customer: str = "acme") -> SettlementEntry:
        return SettlementEntry(customer, invoice_id, invoice_id, "EUR", date(2026, 1, 1), date(2026, 1, 31), 100_00,
                               on)

    first = Pointer("INV-1", "acme", 3, date(2026, 2, 10), rev=1)
    store.write(None, first, entry("INV-1", date(2026, 2, 10)))
    with pytest.raises(VersionConflict):
        store.write(None, first, entry("INV-1", date(2026, 2, 10)))
    moved = Pointer("INV-1", "acme", 5, date(2026, 3, 2), rev=2)
    store.write(store.pointer("INV-1"), moved, entry("INV-1", date(2026, 3, 2)))
    store.write(None, Pointer("INV-2", "globex", 2, date(2026, 2, 20), rev=1), entry("INV-2", date(2026, 2, 20),
                                                                                     "globex"))
    assert store.pointer("INV-1") == moved
    assert [e.settled_on for e in store.latest("acme", date(2026, 12, 31), 10)] == [date(2026, 3, 2)]
    assert store.latest("acme", date(2026, 3, 1), 10) == []
    assert [e.invoice_id for e in store.portfolio(date(2026, 12, 31), 10)] == ["INV-1", "INV-2"]
    assert [e.invoice_id for e in store.portfolio(date(2026, 2, 28), 10)] == ["INV-2"]
    after, cursor = store.settled_after(date(2026, 2, 28), date(2026, 12, 31), None, 10, None)
    assert [e.invoice_id for e in after] == ["INV-1"] and cursor is None
    store.write(store.pointer("INV-1"), Pointer("INV-1", "acme", 6, None, rev=3), None)  # reopened
    assert store.portfolio(date(2026, 12, 31), 10)[0].invoice_id == "INV-2"
    assert store.latest("acme", date(2026, 12, 31), 10) == []
