"""The Stripe Checkout adapter through the real `stripe` library with its HTTP client stubbed: what goes over the wire
(form fields, idempotency key, key), what comes back, and failures. No network."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest
import stripe

from chalicelib.adapters.stripe_checkout import StripeCheckout, session_params, stripe_minor
from chalicelib.config import Settings
from chalicelib.domain.money import Money
from chalicelib.services.ports import CheckoutLine, CheckoutRequest, CheckoutUnavailable

SESSION_URL = "https://checkout.stripe.com/c/pay/cs_test_a1b2c3"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Proof that nothing here leaves the process: a connection attempt fails the test."""
    import socket

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access in a unit test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


class StubHttp(stripe.HTTPClient):
    """Answers each request with the next canned (status, body) and keeps what was asked."""

    name = "stub"

    def __init__(self, *answers: tuple[int, Mapping[str, Any]]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.calls: list[tuple[str, str, dict[str, str], str]] = []

    def request(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None,
                *, _usage: list[str] | None = None) -> tuple[str, int, Mapping[str, str]]:
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        self.calls.append((method, url, dict(headers or {}), body))
        status, answer = self.answers.pop(0)
        return json.dumps(answer), status, {"Request-Id": f"req_{len(self.calls)}"}

    def close(self) -> None:
        pass

    def form(self, index: int = 0) -> dict[str, str]:
        return dict(parse_qsl(self.calls[index][3], keep_blank_values=True))


def session_body(**extra: Any) -> dict[str, Any]:
    return {"id": "cs_test_a1b2c3", "object": "checkout.session", "mode": "payment", "url": SESSION_URL,
            "payment_status": "unpaid", "status": "open", **extra}


def request(*lines: tuple[str, str, str], currency: str = "EUR", locale: str | None = "de") -> CheckoutRequest:
    return CheckoutRequest(
        customer_id="acme", currency=currency,
        lines=tuple(CheckoutLine(number, number, Money.of(Decimal(amount), cur)) for number, amount, cur in lines),
        success_url="https://api.example.com/portal/pay/done", cancel_url="https://api.example.com/portal/pay",
        idempotency_key="dunwell-checkout-abc", locale=locale, payer_email="ap@acme.example")


def adapter(http: StubHttp, retries: int = 0, **env: str) -> StripeCheckout:
    return StripeCheckout(Settings.from_env({"STRIPE_SECRET_KEY": "sk_test_dunwell", **env}), http_client=http,
                          max_network_retries=retries)


def test_creates_a_payment_session_with_the_invoice_numbers_three_ways():
    http = StubHttp((200, session_body()))
    url = adapter(http).create_session(request(("INV-1", "980.00", "EUR"), ("INV-2", "49.00", "EUR")))
    assert url == SESSION_URL
    method, target, headers, _ = http.calls[0]
    assert (method, target) == ("post", "https://api.stripe.com/v1/checkout/sessions")
    assert headers["Authorization"] == "Bearer sk_test_dunwell"
    assert headers["Idempotency-Key"] == "dunwell-checkout-abc"
    form = http.form()
    assert form["mode"] == "payment"
    assert form["client_reference_id"] == "INV-1,INV-2"
    assert form["metadata[invoice_numbers]"] == "INV-1,INV-2"
    assert form["metadata[dunwell_customer_id]"] == "acme"
    assert form["payment_intent_data[metadata][invoice_numbers]"] == "INV-1,INV-2"
    assert form["payment_intent_data[metadata][dunwell_customer_id]"] == "acme"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["line_items[0][price_data][unit_amount]"] == "98000"
    assert form["line_items[0][price_data][product_data][name]"] == "Invoice INV-1"
    assert form["line_items[1][price_data][unit_amount]"] == "4900"
    assert form["line_items[1][quantity]"] == "1"
    assert form["success_url"] == "https://api.example.com/portal/pay/done"
    assert form["cancel_url"] == "https://api.example.com/portal/pay"
    assert form["locale"] == "de" and form["customer_email"] == "ap@acme.example"


def test_a_language_stripe_does_not_know_lets_stripe_choose():
    assert session_params(request(("INV-1", "1.00", "EUR"), locale="tlh"))["locale"] == "auto"
    assert session_params(request(("INV-1", "1.00", "EUR"), locale=None))["locale"] == "auto"


def test_amounts_in_stripes_unit():
    assert stripe_minor(Money.of(Decimal("12.34"), "EUR")) == 1234
    assert stripe_minor(Money.of(Decimal("500"), "JPY")) == 500
    assert stripe_minor(Money.of(Decimal("1.250"), "KWD")) == 1250
    assert stripe_minor(Money.of(Decimal("500"), "ISK")) == 50000  # Stripe still counts ISK in hundredths


def test_a_refusal_becomes_checkout_unavailable_without_leaking_the_key(caplog):
    http = StubHttp((400, {"error": {"type": "invalid_request_error", "message": "Amount must be at least 0.50 eur",
                                     "code": "amount_too_small"}}))
    with pytest.raises(CheckoutUnavailable) as raised:
        adapter(http).create_session(request(("INV-1", "0.10", "EUR")))
    assert "bank transfer" in raised.value.message
    assert "sk_test_dunwell" not in caplog.text and "sk_test_dunwell" not in str(raised.value)


def test_a_retry_after_a_server_error_sends_the_same_idempotency_key(monkeypatch):
    monkeypatch.setattr(stripe.HTTPClient, "_sleep_time_seconds", lambda self, n: 0)
    http = StubHttp((500, {"error": {"type": "api_error", "message": "boom"}}), (200, session_body()))
    assert adapter(http, retries=1).create_session(request(("INV-1", "10.00", "EUR"))) == SESSION_URL
    assert [call[2]["Idempotency-Key"] for call in http.calls] == ["dunwell-checkout-abc"] * 2


def test_a_session_without_url_is_unavailable():
    with pytest.raises(CheckoutUnavailable):
        adapter(StubHttp((200, session_body(url=None)))).create_session(request(("INV-1", "10.00", "EUR")))


def test_available_only_with_a_key():
    assert adapter(StubHttp()).available() is True
    unconfigured = StripeCheckout(Settings.from_env({}), http_client=StubHttp())
    assert unconfigured.available() is False
    with pytest.raises(CheckoutUnavailable):
        unconfigured.create_session(request(("INV-1", "10.00", "EUR")))
