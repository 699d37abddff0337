"""The portal's card payment on moto, end to end through the real routes: a Checkout Session created through the
`stripe` library (HTTP client stubbed: no network) with the key from Secrets Manager, then Stripe's signed webhooks
for that session through POST /webhooks/stripe: the money is applied once whichever event arrives first."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.adapters.models import InvoiceModel, PaymentModel, ProviderEventModel
from chalicelib.adapters.stripe_checkout import StripeCheckout
from tests.integration.helpers import drop
from tests.unit.test_stripe_checkout import StubHttp, session_body

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STRIPE_SECRET = "whsec_test_secret"
TODAY = date(2026, 11, 25)


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_SECRET_KEY_ARN", raising=False)
    bootstrap.reset()


@pytest.fixture
def ledger(client, s3, bucket):
    drop(client, s3, bucket, "incoming/dunwell-invoices.csv", (EXAMPLES / "dunwell-invoices.csv").read_bytes())


def signed(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(event).encode()
    t = str(int(time.time()))
    sig = hmac.new(STRIPE_SECRET.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={sig}", "Content-Type": "application/json"}, body


def post(client, event: dict[str, Any]) -> None:
    headers, body = signed(event)
    response = client.http.post("/webhooks/stripe", headers=headers, body=body)
    assert response.status_code == 200, response.body


def session_event(event_id: str, event_type: str, metadata: dict[str, str], amount: int, intent: str = "pi_portal",
                  payment_status: str = "paid") -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": event_type, "created": int(time.time()),
            "data": {"object": {"id": "cs_test_portal", "object": "checkout.session", "mode": "payment",
                                "payment_status": payment_status, "amount_total": amount, "currency": "eur",
                                "payment_intent": intent, "client_reference_id": metadata["invoice_numbers"],
                                "metadata": metadata, "customer_details": {"email": "ap@example.com"}}}}


def intent_event(event_id: str, metadata: dict[str, str], amount: int, intent: str = "pi_portal") -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": "payment_intent.succeeded", "created": int(time.time()),
            "data": {"object": {"id": intent, "object": "payment_intent", "amount": amount,
                                "amount_received": amount, "currency": "eur", "status": "succeeded",
                                "metadata": metadata}}}


METADATA = {"invoice_numbers": "INV-2026-1001,INV-2026-1005", "dunwell_customer_id": "C-1001"}
BOTH = 400000 + 98050  # INV-2026-1001 (4,250.00 less a 250.00 credit note) and INV-2026-1005 (980.50), both C-1001


def balance(number: str) -> int:
    return int(InvoiceModel.get(number).balance_minor)


def payments_for(intent: str) -> list[Any]:
    return [p for p in PaymentModel.scan() if p.payment_ref == intent]  # test inspection only


def test_checkout_with_the_key_from_secrets_manager_then_the_webhook_pays_both_invoices(client, ledger,
                                                                                          monkeypatch):
    arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
        Name="dunwell-test/stripe-secret-key", SecretString=json.dumps({"secret_key": "sk_test_from_sm"}))["ARN"]
    monkeypatch.setenv("STRIPE_SECRET_KEY_ARN", arn)
    bootstrap.reset()
    http = StubHttp((200, session_body()))
    service = bootstrap.portal_payments()
    assert isinstance(service.card, StripeCheckout)
    service.card.http_client = http  # the library's HTTP client stubbed: no network
    customer = bootstrap.customers().get_customer("C-1001")
    assert customer is not None
    invoices = list(bootstrap.ledger().get_invoices(["INV-2026-1001", "INV-2026-1005"]).values())

    options = service.options(customer, invoices, TODAY)
    assert options.card is True and options.bank is not None and options.bank.iban == "DE89370400440532013000"
    assert {line.number: line.amount_now.minor for line in options.invoices} == {
        "INV-2026-1001": 400000, "INV-2026-1005": 98050}
    assert all(line.epc_qr_svg and line.epc_qr_svg.startswith("<svg") for line in options.invoices)
    assert all(line.rf_reference and line.rf_reference.startswith("RF") for line in options.invoices)

    url = service.checkout(customer, invoices, TODAY, "https://portal.example/pay/done",
                           "https://portal.example/pay")
    assert url == session_body()["url"]
    _method, _url, headers, _body = http.calls[0]
    assert headers["Authorization"] == "Bearer sk_test_from_sm"
    form = http.form()
    sent = {"invoice_numbers": form["payment_intent_data[metadata][invoice_numbers]"],
            "dunwell_customer_id": form["payment_intent_data[metadata][dunwell_customer_id]"]}
    assert set(sent["invoice_numbers"].split(",")) == {"INV-2026-1001", "INV-2026-1005"}
    assert sent["dunwell_customer_id"] == "C-1001"

    # What Stripe sends back carries what the adapter sent: the webhook applies it to both invoices.
    post(client, session_event("evt_cs_1", "checkout.session.completed", sent, BOTH))
    assert balance("INV-2026-1001") == 0 and balance("INV-2026-1005") == 0


@pytest.mark.parametrize("session_first", [True, False])
def test_session_completed_and_payment_intent_succeeded_count_once_in_either_order(client, ledger,
                                                                                     session_first):
    events = [session_event("evt_cs", "checkout.session.completed", METADATA, BOTH),
              intent_event("evt_pi", METADATA, BOTH)]
    for event in events if session_first else reversed(events):
        post(client, event)
    post(client, events[0])  # and a retry of one of them
    assert balance("INV-2026-1001") == 0 and balance("INV-2026-1005") == 0
    assert len(payments_for("pi_portal")) == 1
    first, second = ("evt_cs", "evt_pi") if session_first else ("evt_pi", "evt_cs")
    assert ProviderEventModel.get(f"stripe:{first}").status == "applied"
    assert ProviderEventModel.get(f"stripe:{second}").status == "duplicate"


@pytest.mark.parametrize("session_first", [True, False])
def test_a_delayed_method_pays_on_async_success_once_with_its_intent(client, ledger, session_first):
    post(client, session_event("evt_cs", "checkout.session.completed", METADATA, BOTH, payment_status="unpaid"))
    assert ProviderEventModel.get("stripe:evt_cs").status == "ignored"
    assert balance("INV-2026-1001") == 400000
    events = [session_event("evt_async", "checkout.session.async_payment_succeeded", METADATA, BOTH),
              intent_event("evt_pi", METADATA, BOTH)]
    for event in events if session_first else reversed(events):
        post(client, event)
    assert balance("INV-2026-1001") == 0 and balance("INV-2026-1005") == 0
    assert len(payments_for("pi_portal")) == 1
    statuses = {ProviderEventModel.get(f"stripe:{e}").status for e in ("evt_async", "evt_pi")}
    assert statuses == {"applied", "duplicate"}


def test_an_async_failure_moves_no_money(client, ledger):
    post(client, session_event("evt_cs", "checkout.session.completed", METADATA, BOTH, payment_status="unpaid"))
    post(client, session_event("evt_fail", "checkout.session.async_payment_failed", METADATA, BOTH,
                               payment_status="unpaid"))
    assert balance("INV-2026-1001") == 400000 and balance("INV-2026-1005") == 98050
    assert ProviderEventModel.get("stripe:evt_fail").status == "ignored"
    assert payments_for("pi_portal") == []


def test_without_a_key_the_portal_offers_the_bank_transfer_only(client, ledger):
    service = bootstrap.portal_payments()
    customer = bootstrap.customers().get_customer("C-1001")
    assert customer is not None
    invoices = list(bootstrap.ledger().get_invoices(["INV-2026-1001"]).values())
    options = service.options(customer, invoices, TODAY)
    assert options.card is False and options.invoices[0].amount_now.minor == 400000


# ---- early-payment discounts (domain/discounts.py): the checkout asks for the discounted amounts, the webhook settles


def discounted_ledger(client, s3, bucket) -> None:
    from tests.integration.helpers import dunwell_csv, invoice_row

    def with_terms(line: str) -> str:
        cells = line.split(",")
        cells[11] = "2/10 net 30"  # issued 1 November: 2 % off until 11 November
        return ",".join(cells)

    drop(client, s3, bucket, "incoming/skonto.csv",
         dunwell_csv(with_terms(invoice_row("SK-1", "1000.00")), with_terms(invoice_row("SK-2", "500.00"))))


def checkout_event(client, day: date, event_id: str, event_type: str = "checkout.session.completed") -> dict[str, Any]:
    """Check out SK-1 and SK-2 on `day` through the adapter (stubbed HTTP); the session event Stripe would send,
    paid on `day`, carrying what the adapter sent."""
    http = StubHttp((200, session_body()))
    service = bootstrap.portal_payments()
    assert isinstance(service.card, StripeCheckout)
    service.card.http_client = http
    customer = bootstrap.customers().get_customer("acme")
    assert customer is not None
    invoices = list(bootstrap.ledger().get_invoices(["SK-1", "SK-2"]).values())
    service.checkout(customer, invoices, day, "https://portal.example/done", "https://portal.example/pay")
    form = http.form()
    amount = sum(int(v) for k, v in form.items() if k.endswith("[price_data][unit_amount]"))
    metadata = {key[len("metadata["):-1]: value for key, value in form.items() if key.startswith("metadata[")}
    event = session_event(event_id, event_type, metadata, amount, intent=f"pi_{event_id}")
    event["created"] = int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp())
    event["data"]["object"]["created"] = event["created"]  # the session was created on `day`
    return event


def test_a_checkout_inside_the_window_pays_the_discounted_amounts_and_settles_both(client, s3, bucket,
                                                                                   monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_dunwell")
    bootstrap.reset()
    discounted_ledger(client, s3, bucket)
    event = checkout_event(client, date(2026, 11, 11), "evt_sk")  # the last day of the window
    assert event["data"]["object"]["amount_total"] == 98000 + 49000
    post(client, event)
    for number, discount in (("SK-1", 2000), ("SK-2", 1000)):
        stored = InvoiceModel.get(number)
        assert int(stored.balance_minor) == 0 and int(stored.discounted_minor) == discount, number


@pytest.mark.parametrize("session_first", [True, False])
def test_a_delayed_method_checked_out_in_the_window_that_succeeds_after_it_earns_the_discount(
        client, s3, bucket, monkeypatch, session_first):
    """Checked out inside the window with a delayed method (SEPA debit) at the discounted amounts the portal priced:
    the money arrives after the last day, but the payer started paying in time (the session's `created`; the intent
    carries the day priced in its metadata), so both invoices are settled with their discounts, whichever of the
    session's and the intent's events comes first. The cash day stays the day the money came."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_dunwell")
    bootstrap.reset()
    discounted_ledger(client, s3, bucket)
    event = checkout_event(client, date(2026, 11, 10), "evt_late", "checkout.session.async_payment_succeeded")
    assert event["data"]["object"]["metadata"]["dunwell_initiated_on"] == "2026-11-10"
    event["created"] += 4 * 86400  # succeeded on 14 November, after the last day (11 November)
    session = event["data"]["object"]
    paid = intent_event("evt_late_pi", session["metadata"], session["amount_total"], intent=session["payment_intent"])
    paid["created"] = event["created"]
    for notification in ([event, paid] if session_first else [paid, event]):
        post(client, notification)
    for number, discount in (("SK-1", 2000), ("SK-2", 1000)):
        stored = InvoiceModel.get(number)
        assert int(stored.balance_minor) == 0 and int(stored.discounted_minor) == discount, number
        assert stored.effective_on == "2026-11-14", number
    [payment] = payments_for(session["payment_intent"])
    assert payment.initiated_on == "2026-11-10" and payment.occurred_at.date() == date(2026, 11, 14)


def test_the_discounted_amounts_received_late_without_an_initiated_day_leave_each_difference_open_with_its_task(
        client, s3, bucket, monkeypatch, admin_headers):
    """A payment for the discounted amounts of both invoices whose notification does not say when the payer started
    (an intent not from Dunwell's checkout): judged by the day received, after the window, so each invoice keeps its
    own difference open with its own "discount taken late" task (not SK-1 paid in full and all of it on SK-2)."""
    from tests.integration.helpers import get_json

    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_dunwell")
    bootstrap.reset()
    discounted_ledger(client, s3, bucket)
    session = checkout_event(client, date(2026, 11, 10), "evt_other")["data"]["object"]
    metadata = {k: v for k, v in session["metadata"].items() if k != "dunwell_initiated_on"}
    paid = intent_event("evt_other_pi", metadata, session["amount_total"], intent="pi_other")
    paid["created"] = int(datetime(2026, 11, 14, 9, tzinfo=UTC).timestamp())
    post(client, paid)
    stored = {n: InvoiceModel.get(n) for n in ("SK-1", "SK-2")}
    assert {n: int(i.balance_minor) for n, i in stored.items()} == {"SK-1": 2000, "SK-2": 1000}
    assert all(not int(i.discounted_minor or 0) for i in stored.values())
    _, tasks = get_json(client, "/tasks", admin_headers)
    assert sorted(t["invoice_id"] for t in tasks["items"] if t["kind"] == "discount_taken_late") == ["SK-1", "SK-2"]
