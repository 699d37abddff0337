"""Cash application through the real service and DynamoDB (moto): exactly once, matched, reversible."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.models import InvoiceModel, PaymentModel, ProviderEventModel
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentEvent, PaymentKind
from tests.integration.conftest import issue_key
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def event(event_id: str, amount: str, *, kind=PaymentKind.PAYMENT, ref="pi_1", refs=(), customer=None,
          original=None, currency="EUR", provider="stripe") -> PaymentEvent:
    return PaymentEvent(provider=provider, event_id=event_id, payment_ref=ref, kind=kind,
                        amount=Money.of(amount, currency), occurred_at=NOW, raw_type="test", customer_hint=customer,
                        references=tuple(refs), original_ref=original)


@pytest.fixture
def ledger(client, s3, bucket):
    drop(client, s3, bucket, "incoming/ledger.csv", dunwell_csv(
        invoice_row("INV-1", "100.00", due="2026-11-10"),
        invoice_row("INV-2", "250.00", due="2026-11-20"),
        invoice_row("INV-3", "40.00", due="2026-12-01"),
        invoice_row("INV-9", "70.00", customer="globex")))


def invoice(number):
    return InvoiceModel.get(number)


def test_payment_with_reference_pays_the_invoice_once(ledger):
    service = bootstrap.payment_service()
    first = service.receive(event("evt_1", "100.00", refs=["INV-1"]))
    assert first.outcome == "applied"
    assert invoice("INV-1").status == "paid" and invoice("INV-1").balance_minor == 0
    # The same notification again, and the same money through another notification: nothing changes.
    assert service.receive(event("evt_1", "100.00", refs=["INV-1"])).outcome == "duplicate"
    assert service.receive(event("evt_2", "100.00", refs=["INV-1"])).outcome == "duplicate"
    payment = PaymentModel.get(first.payment_id)
    assert payment.unapplied_minor == 0 and payment.allocations[0]["invoice_id"] == "INV-1"
    assert ProviderEventModel.get("stripe:evt_2").status == "duplicate"


def test_partial_and_multi_invoice_and_over_payment(ledger):
    service = bootstrap.payment_service()
    service.receive(event("e1", "30.00", ref="p1", refs=["INV-1"]))
    assert invoice("INV-1").status == "partially_paid" and invoice("INV-1").balance_minor == 7000
    service.receive(event("e2", "400.00", ref="p2", refs=["INV-1", "INV-2"]))
    assert invoice("INV-1").balance_minor == 0 and invoice("INV-2").balance_minor == 0
    over = PaymentModel.get(bootstrap.payment_service().receive(event("e2", "400.00", ref="p2")).payment_id)
    assert over.unapplied_minor == 400_00 - 70_00 - 250_00 and over.unapplied_key == "unapplied"


def test_customer_and_exact_balance_then_subset(ledger):
    service = bootstrap.payment_service()
    exact = service.receive(event("e1", "40.00", ref="p1", customer="acme"))
    assert PaymentModel.get(exact.payment_id).method == "exact_balance" and invoice("INV-3").status == "paid"
    subset = service.receive(event("e2", "350.00", ref="p2", customer="acme"))
    assert PaymentModel.get(subset.payment_id).method == "subset_sum"
    assert invoice("INV-1").status == "paid" and invoice("INV-2").status == "paid"


def test_unmatched_money_waits_for_a_human(ledger, client):
    service = bootstrap.payment_service()
    receipt = service.receive(event("e1", "12.34", ref="p1"))
    payment = PaymentModel.get(receipt.payment_id)
    assert payment.status == "unapplied" and payment.unapplied_minor == 1234 and payment.reason
    headers = {"Authorization": f"Bearer {issue_key('viewer')}"}
    status, body = get_json(client, "/payments?unapplied=true", headers)
    assert status == 200 and [p["id"] for p in body["items"]] == [receipt.payment_id]


def test_currency_mismatch_never_auto_applies(ledger):
    receipt = bootstrap.payment_service().receive(event("e1", "100.00", refs=["INV-1"], currency="USD"))
    assert PaymentModel.get(receipt.payment_id).unapplied_minor == 10000
    assert invoice("INV-1").status == "open"


def test_refund_reopens_and_refund_before_payment_waits(ledger):
    service = bootstrap.payment_service()
    waiting = service.receive(event("r1", "100.00", kind=PaymentKind.REFUND, ref="re_1", original="pi_9"))
    assert waiting.outcome == "waiting" and PaymentModel.get(waiting.payment_id).status == "waiting"
    service.receive(event("e1", "100.00", ref="pi_9", refs=["INV-1"]))
    # The payment arrived: the waiting refund was applied at once, reopening the invoice.
    assert PaymentModel.get(waiting.payment_id).status == "reversed"
    assert invoice("INV-1").status == "open" and invoice("INV-1").balance_minor == 10000


def test_chargeback_reopens_disputes_and_alerts(ledger, monkeypatch):
    service = bootstrap.payment_service()
    alerts = []
    monkeypatch.setattr(service.alerts, "publish", lambda subject, message: alerts.append((subject, message)))
    service.receive(event("e1", "250.00", ref="ch_1", refs=["INV-2"]))
    receipt = service.receive(event("d1", "250.00", kind=PaymentKind.CHARGEBACK, ref="dp_1", original="ch_1"))
    assert receipt.outcome == "reversed"
    assert invoice("INV-2").status == "disputed" and invoice("INV-2").balance_minor == 25000
    assert alerts and alerts[0][1]["invoices"] == ["INV-2"]
    again = service.receive(event("d1", "250.00", kind=PaymentKind.CHARGEBACK, ref="dp_1", original="ch_1"))
    assert again.outcome == "duplicate"
    tasks, _ = bootstrap.tasks().list("open", 10, None)
    assert [(t.kind, t.invoice_id) for t in tasks] == [("chargeback", "INV-2")]  # one, whatever the retries
    assert "contest it with stripe or accept it" in tasks[0].title


def test_failure_after_success_does_not_undo(ledger):
    service = bootstrap.payment_service()
    service.receive(event("e1", "100.00", ref="pi_5", refs=["INV-1"]))
    assert service.receive(event("f1", "100.00", kind=PaymentKind.FAILURE, ref="pi_5")).outcome == "ignored"
    assert invoice("INV-1").status == "paid"


def test_manual_payment_and_allocations_by_hand(ledger, client):
    headers = {"Authorization": f"Bearer {issue_key('collector')}", "Idempotency-Key": "cheque-0042"}
    body = {"amount": "150.00", "currency": "EUR", "customer_id": "acme", "method": "cheque",
            "received_on": "2026-11-20", "payer_name": "Acme Ltd"}
    response = client.http.post("/payments", headers={**headers, "Content-Type": "application/json"},
                                body=json.dumps(body))
    assert response.status_code == 201, response.body
    payment = json.loads(response.body)
    assert payment["status"] == "unapplied" and payment["unapplied"] == "150.00"
    again = client.http.post("/payments", headers={**headers, "Content-Type": "application/json"},
                             body=json.dumps(body))
    assert json.loads(again.body)["id"] == payment["id"]  # same Idempotency-Key: the same payment

    post = client.http.post(f"/payments/{payment['id']}/allocations",
                            headers={**headers, "Content-Type": "application/json"},
                            body=json.dumps({"invoice_id": "INV-1", "amount": "100.00"}))
    assert post.status_code == 200, post.body
    assert json.loads(post.body)["unapplied"] == "50.00" and invoice("INV-1").status == "paid"
    too_much = client.http.post(f"/payments/{payment['id']}/allocations",
                                headers={**headers, "Content-Type": "application/json"},
                                body=json.dumps({"invoice_id": "INV-2", "amount": "60.00"}))
    assert too_much.status_code == 422
    removed = client.http.delete(f"/payments/{payment['id']}/allocations/INV-1", headers=headers)
    assert removed.status_code == 200 and json.loads(removed.body)["unapplied"] == "150.00"
    assert invoice("INV-1").status == "open"
    viewer = {"Authorization": f"Bearer {issue_key('viewer')}", "Content-Type": "application/json"}
    assert client.http.post("/payments", headers=viewer, body=json.dumps(body)).status_code == 403


def test_ledger_invariants_hold_after_a_mixed_history(ledger):
    service = bootstrap.payment_service()
    service.receive(event("a", "60.00", ref="p1", refs=["INV-1"]))
    service.receive(event("b", "300.00", ref="p2", refs=["INV-2", "INV-3"]))
    service.receive(event("c", "20.00", kind=PaymentKind.REFUND, ref="re_1", original="p2"))
    service.receive(event("d", "5.00", ref="p3", customer="acme"))
    for m in InvoiceModel.batch_get(["INV-1", "INV-2", "INV-3", "INV-9"]):
        paid = max(m.paid_in_source_minor, m.applied_minor)
        assert m.total_minor == m.balance_minor + paid + m.credited_minor + m.written_off_minor
        assert m.balance_minor >= 0
    for p in PaymentModel.by_time.query("payment"):
        allocated = sum(a["amount_minor"] for a in p.allocations)
        if p.kind == "payment":
            assert allocated + p.unapplied_minor + p.reversed_minor == p.amount_minor


def test_concurrent_payments_on_one_invoice_lose_no_update(ledger, monkeypatch):
    """Eight payments for one invoice at once. A barrier holds every writer until all have read the
    invoice, so they all race on the same version: one wins each round, the rest must re-read and retry.
    DynamoDB applies each write atomically; so does moto here (tests/integration/conftest.py installs
    chalicelib/local/moto_dynamodb.py), so the race tests our code."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    service = bootstrap.payment_service()
    store = service.payments
    barrier = threading.Barrier(8, timeout=30)
    first_try = threading.local()
    conflicts = []
    original_commit = store.commit

    def racing_commit(**kwargs):
        if not getattr(first_try, "done", False):
            first_try.done = True
            barrier.wait()
        try:
            return original_commit(**kwargs)
        except Exception as exc:
            conflicts.append(type(exc).__name__)
            raise

    monkeypatch.setattr(store, "commit", racing_commit)
    events = [event(f"c{n}", "10.00", ref=f"pc{n}", refs=["INV-1"]) for n in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [r.outcome for r in pool.map(service.receive, events)]
    assert outcomes == ["applied"] * 8
    assert conflicts.count("VersionConflict") >= 7  # the race really happened
    stored = invoice("INV-1")
    assert stored.balance_minor == 100_00 - 8 * 10_00 and stored.applied_minor == 8 * 10_00
    applied = sum(a["amount_minor"] for p in PaymentModel.by_time.query("payment") for a in p.allocations)
    assert applied == 8 * 10_00
