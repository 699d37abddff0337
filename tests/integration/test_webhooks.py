"""Signed webhooks over HTTP, through the real routes: verified, archived, applied exactly once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.models import InvoiceModel, ProviderEventModel
from tests.integration.helpers import drop, keys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STRIPE_SECRET = "whsec_test_secret"
OLD_STRIPE_SECRET = "whsec_old_secret"
GC_SECRET = "gc_test_secret"
ADYEN_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", f"{STRIPE_SECRET},{OLD_STRIPE_SECRET}")
    monkeypatch.setenv("GOCARDLESS_WEBHOOK_SECRET", GC_SECRET)
    monkeypatch.setenv("ADYEN_HMAC_KEY", ADYEN_KEY)
    bootstrap.reset()


@pytest.fixture
def ledger(client, s3, bucket):
    drop(client, s3, bucket, "incoming/dunwell-invoices.csv", (EXAMPLES / "dunwell-invoices.csv").read_bytes())


def stripe_headers(body: bytes, secret: str = STRIPE_SECRET, at: int | None = None) -> dict[str, str]:
    t = str(at if at is not None else int(time.time()))
    sig = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={sig}", "Content-Type": "application/json; charset=utf-8"}


def stripe_body(event_id="evt_1", intent="pi_1", amount=400000, invoice="INV-2026-1001") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": "payment_intent.succeeded",
                       "created": int(time.time()),
                       "data": {"object": {"id": intent, "object": "payment_intent", "amount": amount,
                                           "amount_received": amount, "currency": "eur", "status": "succeeded",
                                           "metadata": {"invoice_number": invoice}}}}).encode()


def balance(number: str) -> int:
    return int(InvoiceModel.get(number).balance_minor)


def test_signed_stripe_payment_pays_once_and_is_archived(client, ledger, s3, bucket):
    before = balance("INV-2026-1001")
    body = stripe_body()
    for _ in range(3):  # Stripe retries: the same event three times
        response = client.http.post("/webhooks/stripe", headers=stripe_headers(body), body=body)
        assert response.status_code == 200, response.body
    assert balance("INV-2026-1001") == before - 400000
    assert ProviderEventModel.get("stripe:evt_1").status == "applied"
    archived = keys(s3, bucket, "webhooks/stripe/")
    assert len(archived) == 1 and s3.get_object(Bucket=bucket, Key=archived[0])["Body"].read() == body


def test_rotated_secret_still_verifies(client, ledger):
    body = stripe_body()
    response = client.http.post("/webhooks/stripe", headers=stripe_headers(body, OLD_STRIPE_SECRET), body=body)
    assert response.status_code == 200


@pytest.mark.parametrize("case", ["forged", "tampered", "stale", "future", "missing"])
def test_bad_stripe_requests_are_refused_and_change_nothing(client, ledger, case):
    before = balance("INV-2026-1001")
    body = stripe_body()
    headers = {
        "forged": stripe_headers(body, "whsec_attacker"),
        "tampered": stripe_headers(body),
        "stale": stripe_headers(body, at=int(time.time()) - 3600),
        "future": stripe_headers(body, at=int(time.time()) + 3600),
        "missing": {"Content-Type": "application/json"},
    }[case]
    sent = body.replace(b"400000", b"900000") if case == "tampered" else body
    response = client.http.post("/webhooks/stripe", headers=headers, body=sent)
    assert response.status_code == 400
    assert json.loads(response.body)["error"]["code"] == "invalid_signature"
    assert balance("INV-2026-1001") == before
    with pytest.raises(ProviderEventModel.DoesNotExist):
        ProviderEventModel.get("stripe:evt_1")


def test_out_of_order_refund_then_payment(client, ledger):
    before = balance("INV-2026-1001")
    refund = json.dumps({"id": "evt_r", "object": "event", "type": "charge.refunded", "created": int(time.time()),
                         "data": {"object": {"id": "ch_1", "object": "charge", "amount": 400000,
                                             "amount_refunded": 100000, "currency": "eur", "payment_intent": "pi_1",
                                             "refunds": {"data": [{"id": "re_1", "amount": 100000,
                                                                   "created": int(time.time())}]}},
                                  "previous_attributes": {"amount_refunded": 0}}}).encode()
    assert client.http.post("/webhooks/stripe", headers=stripe_headers(refund), body=refund).status_code == 200
    assert ProviderEventModel.get("stripe:evt_r").status == "waiting"
    body = stripe_body()
    assert client.http.post("/webhooks/stripe", headers=stripe_headers(body), body=body).status_code == 200
    assert balance("INV-2026-1001") == before - 400000 + 100000


def test_gocardless_example_and_bad_signature(client, ledger):
    body = (EXAMPLES / "webhooks" / "gocardless-payments.json").read_bytes()
    bad = client.http.post("/webhooks/gocardless", headers={"Webhook-Signature": "00" * 32,
                                                             "Content-Type": "application/json"}, body=body)
    assert bad.status_code == 498
    before = balance("INV-2026-1005")
    signature = hmac.new(GC_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Webhook-Signature": signature, "Content-Type": "application/json"}
    assert client.http.post("/webhooks/gocardless", headers=headers, body=body).status_code == 200
    assert balance("INV-2026-1005") == before - 98050
    only_ignored = json.dumps({"events": [{"id": "EV999", "created_at": "2026-11-20T10:00:00.000Z",
                                           "resource_type": "mandates", "action": "created", "links": {},
                                           "details": {"cause": "mandate_created"}}],
                               "meta": {"webhook_id": "WB1"}}).encode()
    signature = hmac.new(GC_SECRET.encode(), only_ignored, hashlib.sha256).hexdigest()
    response = client.http.post("/webhooks/gocardless", body=only_ignored,
                                headers={"Webhook-Signature": signature, "Content-Type": "application/json"})
    assert response.status_code == 204


def test_adyen_example_is_accepted_and_a_bad_item_rejects_the_batch(client, ledger, monkeypatch):
    monkeypatch.setenv("ADYEN_MANUAL_CAPTURE_ACCOUNTS", "DunwellDemoECOM")  # the example is a CAPTURE
    bootstrap.reset()
    body = (EXAMPLES / "webhooks" / "adyen-capture.json").read_bytes()
    before = balance("INV-2026-1008")
    response = client.http.post("/webhooks/adyen", headers={"Content-Type": "application/json"}, body=body)
    assert response.status_code == 200 and response.body in (b"[accepted]", "[accepted]")
    assert balance("INV-2026-1008") == before - 780000
    tampered = json.loads(body)
    tampered["notificationItems"][0]["NotificationRequestItem"]["amount"]["value"] = 1
    response = client.http.post("/webhooks/adyen", headers={"Content-Type": "application/json"},
                                body=json.dumps(tampered).encode())
    assert response.status_code == 401


def test_unconfigured_secret_is_a_5xx_so_the_provider_retries(client, ledger, monkeypatch):
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    bootstrap.reset()
    body = stripe_body()
    assert client.http.post("/webhooks/stripe", headers=stripe_headers(body), body=body).status_code == 500


def test_adyen_signature_example_is_base64_of_hmac(client):
    # The example's signature is reproducible from the documented recipe with the test key.
    item = json.loads((EXAMPLES / "webhooks" / "adyen-capture.json").read_bytes())["notificationItems"][0][
        "NotificationRequestItem"]
    payload = ":".join([item["pspReference"], item.get("originalReference", ""), item["merchantAccountCode"],
                        item["merchantReference"], str(item["amount"]["value"]), item["amount"]["currency"],
                        item["eventCode"], item["success"]])
    digest = hmac.new(bytes.fromhex(ADYEN_KEY), payload.encode(), hashlib.sha256).digest()
    assert base64.b64encode(digest).decode() == item["additionalData"]["hmacSignature"]


# ---- bad input is a 4xx (or kept for review), never a 500 ------------------------------------------------------

def gocardless_headers(body: bytes) -> dict[str, str]:
    return {"Webhook-Signature": hmac.new(GC_SECRET.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


def error_code(response) -> str:
    return json.loads(response.body)["error"]["code"]


def test_deeply_nested_bodies_are_400_before_they_are_parsed(client, ledger):
    nested = b"[" * 10_000 + b"]" * 10_000
    response = client.http.post("/webhooks/stripe", headers=stripe_headers(nested), body=nested)
    assert response.status_code == 400 and error_code(response) == "malformed_webhook"
    response = client.http.post("/webhooks/gocardless", headers=gocardless_headers(nested), body=nested)
    assert response.status_code == 400 and error_code(response) == "malformed_webhook"
    wrapped = b'{"notificationItems": ' + nested + b"}"
    response = client.http.post("/webhooks/adyen", headers={"Content-Type": "application/json"}, body=wrapped)
    assert response.status_code == 400 and error_code(response) == "malformed_webhook"


@pytest.mark.parametrize("header", [
    "t=\u0661\u0662\u0663,v1=" + "a" * 64,  # Arabic-Indic digits: str.isdigit() says yes, int() and ascii say no
    "t=\u00b2,v1=" + "a" * 64,
    "t=1,v1=" + "a" * 10_000,
    "t=1," + ",".join(["v1=" + "a" * 64] * 50),
    "t=1,v1=\u00e9\u00e9",
    "\x00\x01",
])
def test_malformed_stripe_signature_headers_are_400(client, ledger, header):
    body = stripe_body()
    response = client.http.post("/webhooks/stripe", body=body,
                                headers={"Stripe-Signature": header, "Content-Type": "application/json"})
    assert response.status_code == 400 and error_code(response) == "invalid_signature", response.body


@pytest.mark.parametrize("header", ["\u00e9" * 64, "z" * 10_000, " "])
def test_malformed_gocardless_signature_headers_are_refused(client, ledger, header):
    body = (EXAMPLES / "webhooks" / "gocardless-payments.json").read_bytes()
    response = client.http.post("/webhooks/gocardless", body=body,
                                headers={"Webhook-Signature": header, "Content-Type": "application/json"})
    assert response.status_code == 498 and error_code(response) == "invalid_signature"


def test_a_query_string_on_a_webhook_is_400(client, ledger):
    body = stripe_body()
    response = client.http.post("/webhooks/stripe?debug=1", headers=stripe_headers(body), body=body)
    assert response.status_code == 400 and json.loads(response.body)["error"]["field"] == "debug"


def test_one_malformed_gocardless_event_does_not_block_its_batch(client, ledger):
    example = json.loads((EXAMPLES / "webhooks" / "gocardless-payments.json").read_bytes())
    good = example["events"][0]
    broken = {**good, "id": "EV_BROKEN", "created_at": "yesterday"}
    nameless = {"resource_type": "payments"}
    body = json.dumps({"events": [broken, good, nameless], "meta": {"webhook_id": "WB2"}}).encode()
    before = balance("INV-2026-1005")
    for _ in range(2):  # a redelivery changes nothing
        response = client.http.post("/webhooks/gocardless", headers=gocardless_headers(body), body=body)
        assert response.status_code == 200
    assert balance("INV-2026-1005") == before - 98050
    assert ProviderEventModel.get(f"gocardless:{good['id']}").status == "applied"
    kept = ProviderEventModel.get("gocardless:EV_BROKEN")
    assert kept.status == "needs_review" and "created_at" in kept.detail
    reviews = [m for m in ProviderEventModel.scan() if m.dedupe_key.startswith("gocardless:malformed-")]
    assert len(reviews) == 1 and reviews[0].status == "needs_review"


def test_amounts_too_large_are_kept_for_review_and_acknowledged(client, ledger):
    from chalicelib.formats.processors.adyen import sign_item

    before = balance("INV-2026-1001")
    body = stripe_body(event_id="evt_huge", intent="pi_huge", amount=10 ** 20)
    response = client.http.post("/webhooks/stripe", headers=stripe_headers(body), body=body)
    assert response.status_code == 200
    assert ProviderEventModel.get("stripe:evt_huge").status == "needs_review"
    item = json.loads((EXAMPLES / "webhooks" / "adyen-capture.json").read_bytes())["notificationItems"][0][
        "NotificationRequestItem"]
    item = {k: v for k, v in item.items() if k != "originalReference"}
    item = {**item, "eventCode": "AUTHORISATION", "pspReference": "HUGE1",  # automatic capture: the payment
            "amount": {"value": 10 ** 22, "currency": "EUR"}}
    item["additionalData"] = {**item.get("additionalData", {}), "hmacSignature": sign_item(item, ADYEN_KEY)}
    adyen = json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}).encode()
    response = client.http.post("/webhooks/adyen", headers={"Content-Type": "application/json"}, body=adyen)
    assert response.status_code == 200
    assert ProviderEventModel.get(f"adyen:HUGE1:{item['eventCode']}:{item['success']}").status == "needs_review"
    gc = json.loads((EXAMPLES / "webhooks" / "gocardless-payments.json").read_bytes())["events"][0]
    gc = {**gc, "id": "EV_HUGE", "resource_metadata": {**gc["resource_metadata"], "amount": "9" * 40}}
    gc_body = json.dumps({"events": [gc]}).encode()
    response = client.http.post("/webhooks/gocardless", headers=gocardless_headers(gc_body), body=gc_body)
    assert response.status_code in (200, 204)
    assert ProviderEventModel.get("gocardless:EV_HUGE").status == "needs_review"
    assert balance("INV-2026-1001") == before


# ---- Adyen as its default is: automatic capture, unless the merchant account captures by hand ------------------

@pytest.mark.parametrize("manual", [False, True])
@pytest.mark.parametrize("order", [("AUTHORISATION", "CAPTURE"), ("CAPTURE", "AUTHORISATION")])
def test_an_authorised_and_captured_adyen_payment_counts_once(client, ledger, monkeypatch, manual, order):
    from chalicelib.adapters.models import PaymentModel
    from chalicelib.formats.processors.adyen import sign_item

    monkeypatch.setenv("ADYEN_MANUAL_CAPTURE_ACCOUNTS", "DunwellDemoECOM,Other" if manual else "Other")
    bootstrap.reset()
    base = json.loads((EXAMPLES / "webhooks" / "adyen-capture.json").read_bytes())["notificationItems"][0][
        "NotificationRequestItem"]
    authorisation = {**base, "eventCode": "AUTHORISATION", "pspReference": "XB7XNCQ8HXSKGK82",
                     "originalReference": None, "additionalData": {}}
    capture = {**base, "additionalData": {}}
    items = {"AUTHORISATION": authorisation, "CAPTURE": capture}
    before = balance("INV-2026-1008")
    for code in order:
        item = {k: v for k, v in items[code].items() if v is not None}
        item["additionalData"] = {"hmacSignature": sign_item(item, ADYEN_KEY)}
        body = json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}).encode()
        response = client.http.post("/webhooks/adyen", headers={"Content-Type": "application/json"}, body=body)
        assert response.status_code == 200
    assert balance("INV-2026-1008") == before - 780000
    payments = [m for m in PaymentModel.scan() if m.provider == "adyen"]
    assert len(payments) == 1 and payments[0].payment_ref == "XB7XNCQ8HXSKGK82"
    counted = "CAPTURE" if manual else "AUTHORISATION"
    assert payments[0].raw_type == counted
    statuses = {code: ProviderEventModel.get(f"adyen:{items[code]['pspReference']}:{code}:true").status
                for code in order}
    assert statuses[counted] == "applied"
    assert statuses["AUTHORISATION" if manual else "CAPTURE"] == "ignored"


def charge_refunded(event_id: str, cumulative: int, previous: int | None = None) -> bytes:
    data: dict = {"object": {"id": "ch_1", "object": "charge", "amount": 400000, "amount_refunded": cumulative,
                             "currency": "eur", "payment_intent": "pi_1"}}
    if previous is not None:
        data["previous_attributes"] = {"amount_refunded": previous}
    return json.dumps({"id": event_id, "object": "event", "type": "charge.refunded", "created": int(time.time()),
                       "data": data}).encode()


def test_a_refund_without_previous_attributes_is_the_total_less_what_was_recorded(client, ledger):
    from chalicelib.adapters.models import PaymentModel

    before = balance("INV-2026-1001")
    for body in (stripe_body(), charge_refunded("evt_r1", 100000, previous=0),
                 charge_refunded("evt_r2", 250000), charge_refunded("evt_r3", 250000)):
        assert client.http.post("/webhooks/stripe", headers=stripe_headers(body), body=body).status_code == 200
    # 4000.00 paid, 1000.00 refunded, then 2500.00 refunded in all: 1500.00 more, and nothing for the repeat.
    assert balance("INV-2026-1001") == before - 400000 + 250000
    assert ProviderEventModel.get("stripe:evt_r2").status == "applied"
    assert ProviderEventModel.get("stripe:evt_r3").status in ("ignored", "duplicate")
    refunds = sorted(int(m.amount_minor) for m in PaymentModel.scan() if m.kind == "refund")
    assert refunds == [100000, 150000]


def test_a_total_only_refund_of_an_unrecorded_payment_is_kept_for_review(client, ledger):
    body = charge_refunded("evt_lonely", 5000)
    assert client.http.post("/webhooks/stripe", headers=stripe_headers(body), body=body).status_code == 200
    assert ProviderEventModel.get("stripe:evt_lonely").status == "needs_review"
