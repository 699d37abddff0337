"""Payments as the providers and the bank deliver them, against `make run`'s stack over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
import requests

from tests.e2e.stack import RunningStack, wait_for

pytestmark = pytest.mark.e2e
HEADER = ("invoice_number,kind,customer_id,customer_name,email,phone,language,timezone,country,issue_date,"
          "due_date,terms,currency,total,amount_paid,applies_to,status,buyer_reference")


@pytest.fixture(scope="module")
def invoices(local_stack: RunningStack) -> dict[str, str]:
    """Invoices of our own (unique numbers), so other tests' expectations are untouched."""
    tag = uuid.uuid4().hex[:6].upper()
    numbers = {"card": f"E2E-{tag}-1", "bank": f"E2E-{tag}-2"}
    body = "\n".join([HEADER,
                      f"{numbers['card']},invoice,E2E-{tag},E2E {tag} GmbH,ap@e2e.example,,de,Europe/Berlin,DE,"
                      "2026-11-01,2026-12-01,,EUR,1234.56,0,,open,",
                      f"{numbers['bank']},invoice,E2E-{tag},E2E {tag} GmbH,ap@e2e.example,,de,Europe/Berlin,DE,"
                      "2026-11-01,2026-12-01,,EUR,99.00,0,,open,"]) + "\n"
    local_stack.s3().put_object(Bucket=local_stack.info["inbox_bucket"], Key=f"incoming/e2e-{tag}.csv",
                                Body=body.encode())
    wait_for(lambda: invoice(local_stack, numbers["bank"]), 30, 0.25, "the e2e invoices were not imported")
    return numbers


def invoice(stack: RunningStack, number: str) -> dict | None:
    response = requests.get(f"{stack.api_url}/invoices/{number}", headers=stack.auth, timeout=10)
    return response.json() if response.status_code == 200 else None


def test_a_signed_stripe_webhook_pays_the_invoice_exactly_once(local_stack: RunningStack, invoices):
    secret = local_stack.info["webhook_secrets"]["stripe"]
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "payment_intent.succeeded",
                       "created": int(time.time()),
                       "data": {"object": {"id": f"pi_{uuid.uuid4().hex}", "object": "payment_intent",
                                           "amount": 123456, "amount_received": 123456, "currency": "eur",
                                           "status": "succeeded", "metadata": {"invoice_number": invoices["card"]}}}
                       }).encode()
    for _ in range(3):  # delivered, retried, retried
        timestamp = str(int(time.time()))
        signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        response = requests.post(f"{local_stack.api_url}/webhooks/stripe", data=body, timeout=10,
                                 headers={"Stripe-Signature": f"t={timestamp},v1={signature}",
                                          "Content-Type": "application/json"})
        assert response.status_code == 200, response.text
    paid = invoice(local_stack, invoices["card"])
    assert paid is not None and paid["status"] == "paid" and paid["balance"] == "0.00" and paid["paid"] == "1234.56"
    payments = requests.get(f"{local_stack.api_url}/payments", headers=local_stack.auth, timeout=10,
                            params={"customer_id": paid["customer_id"]}).json()["items"]
    assert [(p["amount"], p["status"]) for p in payments] == [("1234.56", "applied")]


def test_a_forged_webhook_is_refused(local_stack: RunningStack, invoices):
    body = b'{"id": "evt_forged", "type": "payment_intent.succeeded", "data": {"object": {}}}'
    response = requests.post(f"{local_stack.api_url}/webhooks/stripe", data=body, timeout=10,
                             headers={"Stripe-Signature": f"t={int(time.time())},v1={'0' * 64}",
                                      "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"


def test_a_bank_statement_dropped_under_bank_pays_by_remittance_text(local_stack: RunningStack, invoices):
    statement = ("date,amount,currency,payer_name,reference,bank_ref\n"
                 f"2026-11-21,99.00,EUR,E2E GmbH,Rechnung {invoices['bank']},{uuid.uuid4().hex}\n")
    local_stack.s3().put_object(Bucket=local_stack.info["inbox_bucket"], Key=f"bank/{uuid.uuid4().hex}.csv",
                                Body=statement.encode())
    paid = wait_for(lambda: (lambda i: i if i and i["status"] == "paid" else None)(
        invoice(local_stack, invoices["bank"])), 30, 0.25, "the statement did not pay the invoice")
    assert paid["balance"] == "0.00"


def test_parallel_write_offs_are_each_applied_and_audited_once(local_stack: RunningStack):
    """20 write-offs of one invoice at once, over HTTP: the API's threads and moto's server threads overlap, so
    every write-off that succeeds must be in the balance and on the timeline exactly once (moto as shipped
    applied 10 and audited 13)."""
    from concurrent.futures import ThreadPoolExecutor

    tag = uuid.uuid4().hex[:6].upper()
    number = f"E2E-{tag}-W"
    body = (f"{HEADER}\n{number},invoice,E2E-{tag},E2E {tag} GmbH,ap@e2e.example,,de,Europe/Berlin,DE,"
            "2026-11-01,2026-12-01,,EUR,100.00,0,,open,\n")
    local_stack.s3().put_object(Bucket=local_stack.info["inbox_bucket"], Key=f"incoming/e2e-{tag}-w.csv",
                                Body=body.encode())
    wait_for(lambda: invoice(local_stack, number), 30, 0.25, "the invoice was not imported")

    def write_off(n: int) -> int:
        return requests.post(f"{local_stack.api_url}/invoices/{number}/write-off", timeout=60,
                             headers={**local_stack.auth, "Idempotency-Key": f"{tag}-{n}"},
                             json={"amount": "1.00", "reason": f"parallel {n}"}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(write_off, range(20)))
    succeeded = sum(1 for code in codes if code == 200)
    assert succeeded and all(code in (200, 409) for code in codes), codes
    after = invoice(local_stack, number)
    assert after is not None and after["written_off"] == f"{succeeded}.00"
    assert after["balance"] == f"{100 - succeeded}.00"
    timeline = requests.get(f"{local_stack.api_url}/invoices/{number}/timeline", headers=local_stack.auth,
                            timeout=10).json()["items"]
    audited = [entry for entry in timeline if entry["type"] == "invoice.written_off"]
    assert len(audited) == succeeded, (codes, audited)
