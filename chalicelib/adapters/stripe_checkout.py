"""Stripe Checkout: a hosted payment page (a Checkout Session, mode `payment`) for invoices chosen in the portal.

The `stripe` library is imported only when a session is created (it costs ~150 ms of cold start, STACK.md), so
`import app` and every other function stay as fast as before. The secret key: STRIPE_SECRET_KEY locally and in
tests, else the Secrets Manager secret STRIPE_SECRET_KEY_ARN (a JSON document `{"secret_key": "sk_..."}` or the
bare key), read through Powertools and cached 5 minutes like the webhook secrets (adapters/notify.py), so a key
rotation needs no deployment.

The invoice numbers travel three ways, because Stripe copies none of them onto the PaymentIntent by itself:
`client_reference_id`, the session's `metadata` and `payment_intent_data.metadata` (`invoice_numbers`, comma
separated, and `dunwell_customer_id`): the webhook (formats/processors/stripe.py) reads them back from either the
session or the intent, and the payment service applies the money once under the intent's id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.currencies import minor_units
from chalicelib.domain.money import Money
from chalicelib.formats.processors.stripe import STRIPE_EXPONENTS
from chalicelib.services.ports import CheckoutRequest, CheckoutUnavailable

log = logging.getLogger(__name__)

# Stripe Checkout's own locales among Dunwell's languages; any other language lets Stripe choose (`auto`).
CHECKOUT_LOCALES = frozenset({"en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "fi", "nb", "cs"})


def stripe_minor(amount: Money) -> int:
    """The amount in Stripe's integer unit (ISO 4217 minor units, except Stripe's special cases: ISK in
    hundredths, MGA in whole units)."""
    exponent = STRIPE_EXPONENTS.get(amount.currency, minor_units(amount.currency))
    scaled = amount.amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise CheckoutUnavailable(f"{amount} cannot be charged in Stripe's unit for {amount.currency}")
    return int(scaled)


def session_params(request: CheckoutRequest) -> dict[str, Any]:
    """The Checkout Session's parameters (a pure function: the tests read what goes to Stripe)."""
    metadata = {"invoice_numbers": request.invoice_numbers, "dunwell_customer_id": request.customer_id}
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "client_reference_id": request.invoice_numbers,
        "metadata": metadata,
        "payment_intent_data": {
            "metadata": dict(metadata),
            "description": f"Invoices {request.invoice_numbers}" if len(request.lines) > 1
            else f"Invoice {request.invoice_numbers}",
        },
        "line_items": [{
            "quantity": 1,
            "price_data": {
                "currency": request.currency.lower(),
                "unit_amount": stripe_minor(line.amount),
                "product_data": {"name": f"Invoice {line.number}",
                                 "metadata": {"invoice_number": line.number, "invoice_id": line.invoice_id}},
            },
        } for line in request.lines],
        "locale": request.locale if request.locale in CHECKOUT_LOCALES else "auto",
    }
    if request.payer_email:
        params["customer_email"] = request.payer_email
    return params


class StripeCheckout:
    """The CardCheckout port on Stripe. `http_client` is a `stripe.HTTPClient` (tests pass a stub; None: the
    library's default over HTTPS)."""

    def __init__(self, settings: Settings, http_client: Any = None, max_network_retries: int = 2) -> None:
        self.settings = settings
        self.http_client = http_client
        self.max_network_retries = max_network_retries

    def secret_key(self) -> str | None:
        from_env = (self.settings.environment.get("STRIPE_SECRET_KEY") or "").strip()
        if from_env:
            return from_env
        arn = self.settings.stripe_secret_key_arn
        if not arn:
            return None
        from aws_lambda_powertools.utilities import parameters

        value = str(parameters.get_secret(arn, max_age=300)).strip()
        if value.startswith("{"):
            document = json.loads(value)
            value = str(document.get("secret_key") or "").strip() if isinstance(document, Mapping) else ""
        return value or None

    def available(self) -> bool:
        try:
            return self.secret_key() is not None
        except Exception:  # Secrets Manager down or the secret unreadable: offer the bank transfer, say why in logs
            log.exception("Stripe secret key unreadable: card payment not offered")
            return False

    def create_session(self, request: CheckoutRequest) -> str:
        key = self.secret_key()
        if key is None:
            raise CheckoutUnavailable("card payment is not configured")
        import stripe

        client = stripe.StripeClient(key, http_client=self.http_client, max_network_retries=self.max_network_retries)
        try:
            session = client.v1.checkout.sessions.create(params=session_params(request),  # type: ignore[arg-type]
                                                         options={"idempotency_key": request.idempotency_key})
        except stripe.StripeError as exc:
            # The message names no secret; Stripe's request id helps support find the call.
            log.warning("Stripe Checkout refused (%s, request %s): %s", type(exc).__name__,
                        getattr(exc, "request_id", None), getattr(exc, "user_message", None) or exc)
            raise CheckoutUnavailable("the card payment page could not be opened; please try again or pay by "
                                      "bank transfer") from None
        url = session.url
        if not url:
            raise CheckoutUnavailable("Stripe returned a session without a URL")
        return str(url)


__all__ = ["CHECKOUT_LOCALES", "StripeCheckout", "session_params", "stripe_minor"]
