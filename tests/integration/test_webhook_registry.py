"""A processor added as one module plus one line of registration is routed, verified, parsed, applied,
acknowledged its own way, documented and given secrets, without any other file naming it. Also: a name no
processor has is 404 in the documented error shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib import bootstrap, config
from chalicelib.adapters.models import InvoiceModel, ProviderEventModel
from chalicelib.api.openapi import document
from chalicelib.formats.processors.registry import register, unregister
from chalicelib.local.options import LocalOptions
from tests.integration import testpay
from tests.integration.helpers import drop, keys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "tp_test_secret"


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(testpay.PROCESSOR.variable, SECRET)
    register(testpay.PROCESSOR)
    bootstrap.reset()
    yield
    unregister(testpay.PROCESSOR.name)
    bootstrap.reset()


@pytest.fixture
def ledger(client, s3, bucket):
    drop(client, s3, bucket, "incoming/dunwell-invoices.csv", (EXAMPLES / "dunwell-invoices.csv").read_bytes())


def paid(event_id: str = "tp_1") -> bytes:
    return json.dumps({"id": event_id, "type": "payment.paid", "amount_minor": 400000, "currency": "EUR",
                       "invoice": "INV-2026-1001", "paid_at": "2026-11-25T10:00:00Z"}).encode()


def post(client, body: bytes, signature: str):
    return client.http.post("/webhooks/testpay", body=body, headers={
        "Testpay-Signature": signature, "Content-Type": "application/json"})


def test_a_registered_processor_is_routed_verified_parsed_applied_and_acknowledged(registered, client, ledger, s3,
                                                                                  bucket):
    before = int(InvoiceModel.get("INV-2026-1001").balance_minor)
    forged = post(client, paid(), testpay.sign(paid(), "not-the-secret"))
    assert forged.status_code == 403
    assert json.loads(forged.body)["error"]["code"] == "invalid_signature"
    assert int(InvoiceModel.get("INV-2026-1001").balance_minor) == before
    for _ in range(2):  # a redelivery is recorded once
        response = post(client, paid(), testpay.sign(paid(), SECRET))
        assert response.status_code == 202 and response.body == b"ok"
        assert response.headers["Content-Type"] == "text/plain"
    assert int(InvoiceModel.get("INV-2026-1001").balance_minor) == before - 400000
    assert ProviderEventModel.get("testpay:tp_1").status == "applied"
    assert len(keys(s3, bucket, "webhooks/testpay/")) == 1


def test_a_registered_processor_is_documented_and_has_secrets(registered):
    op = document()["paths"]["/webhooks/testpay"]["post"]
    assert op["summary"] == "TestPay notifications" and op["x-dunwell-auth"] == "signature"
    assert [p["name"] for p in op["parameters"]] == ["Testpay-Signature"]
    assert op["responses"]["202"]["content"] == {"text/plain": {"schema": {"const": "ok"}}}
    assert "403" in op["responses"] and "200" not in op["responses"]
    shared = document()["paths"]["/webhooks/{provider}"]["post"]
    assert "testpay" in shared["parameters"][0]["schema"]["enum"]
    assert config.settings().webhook_secrets_env["testpay"] == SECRET
    assert LocalOptions().webhook_secrets["testpay"] == "tp_local_dunwell_dev_secret"
    assert LocalOptions.from_env({"TESTPAY_WEBHOOK_SECRET": "mine"}).webhook_secrets["testpay"] == "mine"


def test_unregistered_it_is_gone_everywhere(client):
    assert "/webhooks/testpay" not in document()["paths"]
    assert "testpay" not in LocalOptions().webhook_secrets
    response = post(client, paid(), testpay.sign(paid(), SECRET))
    assert response.status_code == 404


@pytest.mark.parametrize("name", ["paypal", "STRIPE", "stripe.json", "x" * 300])
def test_a_name_no_processor_has_is_404_in_the_error_shape(client, name):
    response = client.http.post(f"/webhooks/{name}", body=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 404
    assert json.loads(response.body) == {"error": {"code": "not_found",
                                                   "message": "no payment processor sends webhooks to this URL"}}
    assert response.headers["Content-Type"] == "application/json"


def test_the_built_in_processors_answers_are_documented_as_before():
    paths = document()["paths"]
    assert paths["/webhooks/gocardless"]["post"]["responses"]["498"]["description"] == (
        "GoCardless: the signature is invalid")
    assert list(paths["/webhooks/gocardless"]["post"]["responses"]) == ["200", "400", "413", "415", "498", "500",
                                                                        "204"]
    assert paths["/webhooks/adyen"]["post"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"const": "[accepted]"}}}
