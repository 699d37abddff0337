"""Payment processor webhooks: verify the signature, then normalise to `PaymentEvent`s.

Pure: no clock (callers pass `now`), no environment (callers pass the secrets), no network, no AWS.
One module per processor (`stripe`, `gocardless`, `adyen`), each documenting its scheme and the
business decisions taken while mapping its events, and declaring its `PROCESSOR` for the registry
(`registry.py`: the one list of processors the webhook route, secrets, OpenAPI and local stack read):

    registry.find(name).verify_and_parse(Delivery(raw_body, headers, secrets, now, settings)) -> WebhookBatch
    registry.find(name).acknowledge(batch)                                                    -> Acknowledgement

and, per processor, for tests and scripts:

    verify_stripe(raw_body, header, secrets, now)      parse_stripe(raw_body)       -> WebhookBatch
    verify_gocardless(raw_body, header, secrets)       parse_gocardless(raw_body)   -> WebhookBatch
    verify_and_parse_adyen(raw_body, hmac_keys_hex)                                 -> WebhookBatch
    verify_and_parse(provider, raw_body, headers, secrets, now)                     -> WebhookBatch

Errors, and the HTTP answer each deserves:
    SignatureError   forged, tampered, stale or unsigned: 4xx (the processor's `invalid_signature_status`)
    MalformedWebhook authentic but not understood (bad JSON, missing ids): 400
    ValueError       no secret configured / key not hex: a deployment error, 5xx so the processor retries

Always verify against the raw request body (`app.current_request.raw_body`): re-serialised JSON
never verifies. `secrets` holds one secret, or two while rotating; any of them may match.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from types import SimpleNamespace

from chalicelib.formats.processors import registry
from chalicelib.formats.processors.adyen import ACK_BODY as ADYEN_ACK_BODY
from chalicelib.formats.processors.adyen import verify_and_parse_adyen
from chalicelib.formats.processors.base import (
    MAX_WEBHOOK_BYTES,
    IgnoredEvent,
    MalformedWebhook,
    SignatureError,
    WebhookBatch,
)
from chalicelib.formats.processors.gocardless import INVALID_SIGNATURE_STATUS as GOCARDLESS_INVALID_SIGNATURE_STATUS
from chalicelib.formats.processors.gocardless import parse_gocardless, verify_gocardless
from chalicelib.formats.processors.registry import Acknowledgement, Delivery, Processor
from chalicelib.formats.processors.stripe import parse_stripe, verify_stripe

PROVIDERS = tuple(registry.processors())
SIGNATURE_HEADERS: Mapping[str, str | None] = {p.name: p.signature_header for p in registry.processors().values()}


class UnknownProvider(ValueError):
    pass


def verify_and_parse(provider: str, raw_body: bytes, headers: Mapping[str, str], secrets: Sequence[str],
                     now: datetime, *, adyen_manual_capture_accounts: Collection[str] = ()) -> WebhookBatch:
    """Verify and normalise one webhook request for `provider` (headers matched case-insensitively)."""
    processor = registry.find(provider)
    if processor is None:
        raise UnknownProvider(f"unknown payment provider {provider!r}; known: {', '.join(registry.processors())}")
    # The one setting a processor reads today, without a whole deployment's Settings.
    settings = SimpleNamespace(adyen_manual_capture_accounts=frozenset(adyen_manual_capture_accounts))
    lowered = {name.lower(): value for name, value in headers.items()}
    return processor.verify_and_parse(Delivery(raw_body, lowered, secrets, now, settings))


__all__ = [
    "ADYEN_ACK_BODY",
    "GOCARDLESS_INVALID_SIGNATURE_STATUS",
    "MAX_WEBHOOK_BYTES",
    "PROVIDERS",
    "SIGNATURE_HEADERS",
    "Acknowledgement",
    "Delivery",
    "IgnoredEvent",
    "MalformedWebhook",
    "Processor",
    "SignatureError",
    "UnknownProvider",
    "WebhookBatch",
    "parse_gocardless",
    "parse_stripe",
    "registry",
    "verify_and_parse",
    "verify_and_parse_adyen",
    "verify_gocardless",
    "verify_stripe",
]
