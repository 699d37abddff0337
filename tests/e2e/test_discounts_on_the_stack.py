"""Early-payment discounts honoured on `make run`'s stack over HTTP: a signed Stripe webhook for the discounted amount
inside 2/10 net 30 settles the invoice with the discount booked; a bank line for the discounted amount booked after
the last day leaves the difference open with a "discount taken late" task."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.stack import RunningStack, wait_for

pytestmark = pytest.mark.e2e
HEADER = ("invoice_number,kind,customer_id,customer_name,email,phone,language,timezone,country,issue_date,"
          "due_date,terms,currency,total,amount_paid,applies_to,status,buyer_reference")


def invoice(stack: RunningStack, number: str) -> dict | None:
    response = requests.get(f"{stack.api_url}/invoices/{number}", headers=stack.auth, timeout=10)
    return response.json() if response.status_code == 200 else None


@pytest.fixture(scope="module")
def discounted(local_stack: RunningStack) -> dict[str, str]:
    """Two invoices of a customer on 2/10 net 30: one issued two days ago (inside its window when the webhook comes,
    whatever today is), one issued 30 days ago (its window closed)."""
    tag = uuid.uuid4().hex[:6].upper()
    today = datetime.now(UTC).date()
    recent, old = today - timedelta(days=2), today - timedelta(days=30)
    numbers = {"card": f"E2D-{tag}-1", "late": f"E2D-{tag}-2", "customer": f"E2D-{tag}",
               "late_booked": (old + timedelta(days=12)).isoformat()}
    rows = [f"{numbers['card']},invoice,E2D-{tag},E2D {tag} GmbH,ap@e2d.example,,de,Europe/Berlin,DE,"
            f"{recent.isoformat()},{(recent + timedelta(days=30)).isoformat()},2/10 net 30,EUR,1000.00,0,,open,",
            f"{numbers['late']},invoice,E2D-{tag},E2D {tag} GmbH,ap@e2d.example,,de,Europe/Berlin,DE,"
            f"{old.isoformat()},{(old + timedelta(days=30)).isoformat()},2/10 net 30,EUR,500.00,0,,open,"]
    local_stack.s3().put_object(Bucket=local_stack.info["inbox_bucket"], Key=f"incoming/e2d-{tag}.csv",
                                Body=("\n".join([HEADER, *rows]) + "\n").encode())
    wait_for(lambda: invoice(local_stack, numbers["late"]), 30, 0.25, "the e2e invoices were not imported")
    return numbers


def test_a_signed_webhook_for_the_discounted_amount_in_time_settles_with_the_discount(
        local_stack: RunningStack, discounted: dict[str, str]) -> None:
    secret = local_stack.info["webhook_secrets"]["stripe"]
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "payment_intent.succeeded",
                       "created": int(time.time()),
                       "data": {"object": {"id": f"pi_{uuid.uuid4().hex}", "object": "payment_intent",
                                           "amount": 98000, "amount_received": 98000, "currency": "eur",
                                           "status": "succeeded", "metadata": {"invoice_number": discounted["card"]}}}
                       }).encode()
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    response = requests.post(f"{local_stack.api_url}/webhooks/stripe", data=body, timeout=10,
                             headers={"Stripe-Signature": f"t={timestamp},v1={signature}",
                                      "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    paid = invoice(local_stack, discounted["card"])
    assert paid is not None
    assert (paid["status"], paid["balance"], paid["paid"], paid["discounted"]) == ("paid", "0.00", "980.00", "20.00")
    timeline = requests.get(f"{local_stack.api_url}/invoices/{discounted['card']}/timeline", headers=local_stack.auth,
                            timeout=10).json()["items"]
    assert [e["data"]["amount"] for e in timeline if e["type"] == "invoice.discount_granted"] == ["20.00"]


def test_a_bank_line_for_the_discounted_amount_booked_late_leaves_the_rest_open_with_a_task(
        local_stack: RunningStack, discounted: dict[str, str]) -> None:
    statement = ("date,amount,currency,payer_name,reference,bank_ref\n"
                 f"{discounted['late_booked']},490.00,EUR,E2D GmbH,Rechnung {discounted['late']},{uuid.uuid4().hex}\n")
    local_stack.s3().put_object(Bucket=local_stack.info["inbox_bucket"], Key=f"bank/{uuid.uuid4().hex}.csv",
                                Body=statement.encode())
    late = wait_for(lambda: (lambda i: i if i and i["status"] == "partially_paid" else None)(
        invoice(local_stack, discounted["late"])), 30, 0.25, "the statement did not reach the invoice")
    assert (late["balance"], late["discounted"]) == ("10.00", "0.00")
    tasks = requests.get(f"{local_stack.api_url}/tasks", headers=local_stack.auth, timeout=10,
                         params={"limit": "100"}).json()["items"]
    assert [t["title"] for t in tasks if t["kind"] == "discount_taken_late" and t["invoice_id"] == late["id"]]
