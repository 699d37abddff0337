"""A payment processor that exists only in tests: everything a processor needs, in one module, to prove the
registry is the only other place a new processor is named (tests/integration/test_webhook_registry.py).

Its scheme: header `Testpay-Signature`, hex HMAC-SHA256 of the raw body; one event per request,
{"id", "type": "payment.paid", "amount_minor", "currency", "invoice", "paid_at"}; acknowledged with 202 "ok",
refused with 403, so neither answer is one of the built-in processors'."""

from __future__ import annotations

import hashlib
import hmac

from chalicelib.domain.payments import PaymentEvent, PaymentKind
from chalicelib.formats.processors.base import (
    SignatureError,
    WebhookBatch,
    build_batch,
    load_json,
    money_from_processor_minor,
    obj,
    parse_iso_datetime,
    req_int,
    req_str,
    usable_secrets,
)
from chalicelib.formats.processors.registry import Acknowledgement, Delivery, Processor

SIGNATURE_HEADER = "Testpay-Signature"


def sign(raw_body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def _verify_and_parse(delivery: Delivery) -> WebhookBatch:
    received = delivery.headers.get(SIGNATURE_HEADER.lower(), "")
    if not any(hmac.compare_digest(sign(delivery.body, s), received) for s in usable_secrets(delivery.secrets)):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")
    event = obj(load_json(delivery.body), "body")
    event_id = req_str(event, "id", "body")
    return build_batch("testpay", [PaymentEvent(
        provider="testpay", event_id=event_id, payment_ref=event_id, kind=PaymentKind.PAYMENT,
        amount=money_from_processor_minor(req_int(event, "amount_minor", "body"), req_str(event, "currency", "body"),
                                          {}),
        occurred_at=parse_iso_datetime(req_str(event, "paid_at", "body"), "body.paid_at"),
        raw_type=req_str(event, "type", "body"), references=(req_str(event, "invoice", "body"),))])


PROCESSOR = Processor(
    name="testpay",
    title="TestPay",
    variable="TESTPAY_WEBHOOK_SECRET",
    local_default="tp_local_dunwell_dev_secret",
    signature_header=SIGNATURE_HEADER,
    invalid_signature_status=403,
    verify_and_parse=_verify_and_parse,
    acknowledge=lambda batch: Acknowledgement(202, "ok", {"Content-Type": "text/plain"}),
    documented_acknowledgements={"202": {"description": "Recorded",
                                         "content": {"text/plain": {"schema": {"const": "ok"}}}}},
)
