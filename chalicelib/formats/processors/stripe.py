"""Stripe webhooks: signature verification and normalisation to PaymentEvent.

Verification
------------
Header ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]``. The signed payload is
``f"{t}.{raw_body}"``, HMAC-SHA256 keyed with the whole ``whsec_...`` string, lowercase hex. Only
``v1`` counts (a header carrying only ``v0`` fails). The request passes if any ``v1`` value matches
the HMAC under any configured secret: Stripe sends one ``v1`` per active secret while an endpoint
secret is being rolled, and Dunwell keeps the old and the new secret configured during its own
rotation. Comparison is constant time (``hmac.compare_digest``).

Timestamp policy (replay protection):

* older than ``tolerance_seconds`` (300 s, Stripe's SDK default) before ``now``: rejected;
* more than ``future_tolerance_seconds`` (60 s) *after* ``now``: rejected. Stripe's SDK rejects only
  old timestamps; a signature from the future can only come from clock skew (Stripe's clocks and
  Lambda's are NTP-synchronised to well under a second) or from someone holding the secret. 60 s
  allows for skew generously while refusing pre-signed payloads meant to be replayed later, which
  the 300 s window alone would accept for as long as they were signed ahead;
* the signature is checked before the timestamp, so a stale but genuine request is reported as
  stale and a forged one as forged.

Why not the ``stripe`` package: importing it costs ~150 ms of cold start (STACK.md) for ten lines
of HMAC, and this module must stay pure. The tests check this implementation against headers
produced by ``stripe.WebhookSignature`` (stripe 16.1.0, a dev dependency) and against the fixed
signature published in stripe-dotnet's test-suite, so the two cannot drift apart silently.

Normalisation
-------------
``event.id`` (``evt_...``) is the event id; ``created`` is ``occurred_at``. Amounts are integers in
Stripe's minor units; currencies arrive lowercase. Stripe's unit is ISO 4217's except:

* Stripe's zero-decimal list (BIF, CLP, DJF, GNF, JPY, KMF, KRW, MGA, PYG, RWF, UGX, VND, VUV,
  XAF, XOF, XPF): the integer is whole units. Same as ISO for all but MGA (ISO: 2 decimals).
* ISK: zero-decimal since April 2023, but "for backwards compatibility" Stripe still takes and
  sends it with two decimals: ``500`` is ISK 5; amounts must be divisible by 100 (an old fractional
  ISK amount cannot be ISK money and is flagged for review).
* HUF and TWD: Stripe's special cases concern payouts only; charges are two-decimal, as in ISO.
* Three-decimal BHD, JOD, KWD, OMR, TND: three decimals as in ISO (Stripe requires the last
  digit to be 0; we do not need to care).

Invoice numbers travel in ``metadata``: ``invoice_number`` (one) and/or ``invoice_numbers``
(comma separated); ``dunwell_customer_id`` becomes the customer hint.

One money movement, one PAYMENT: Stripe announces a PaymentIntent payment with both
``payment_intent.succeeded`` and ``charge.succeeded`` (and ``invoice.paid`` when a Stripe invoice
created the PaymentIntent). Counting each would double the cash, so:

* ``payment_intent.succeeded`` -> PAYMENT, ``payment_ref`` = ``pi_...`` (ignored when the intent
  names a Stripe ``invoice``: API versions before 2025-03-31 say so, and ``invoice.paid`` counts it);
* ``charge.succeeded`` -> PAYMENT only for a charge without a PaymentIntent (legacy Charges API,
  ``payment_ref`` = ``ch_...``); otherwise ignored as counted through its intent;
* ``invoice.paid`` -> PAYMENT for ``amount_paid``; references are the metadata invoice numbers and the
  Stripe invoice ``number``; ``payment_ref`` is the intent (``payment_intent`` before 2025-03-31, or
  ``payments.data[].payment.payment_intent`` when Stripe includes it) so refunds and disputes link to
  it, else the invoice id. Caveat: from API 2025-03-31 an intent created by a Stripe invoice no longer
  names the invoice, so an endpoint subscribed to both ``invoice.paid`` and
  ``payment_intent.succeeded`` sees that money twice, under the same ``payment_ref`` only when the
  invoice payload carries ``payments``. Subscribe a Stripe-Billing account to ``invoice.paid`` and
  not to ``payment_intent.succeeded``, or have the application treat (provider, payment_ref, PAYMENT)
  as one payment.

Reversals link to the payment through ``original_ref`` = the intent when there is one, else the
charge (the same value the PAYMENT carried as ``payment_ref``):

* ``charge.refunded`` -> REFUND for the *delta*. The charge's ``amount_refunded`` is cumulative over
  partial refunds, so the amount refunded by this event is ``amount_refunded`` minus
  ``data.previous_attributes.amount_refunded`` when Stripe sends it (it does for this event), else the
  cumulative ``amount_refunded`` minus what Dunwell recorded as refunded on that payment (the event
  carries ``refunded_total``; the payment service subtracts, so a second partial refund is not counted
  with the first again; without the payment recorded it is kept for review). ``payment_ref`` is the
  refund id when known, else ``{charge}:refunded:{cumulative}`` (unique per refund step).
* ``charge.dispute.created`` -> CHARGEBACK for the disputed amount, ``payment_ref`` = ``dp_...``.
* ``payment_intent.payment_failed`` -> FAILURE for the intended amount.

Checkout (the portal's "Pay now", adapters/stripe_checkout.py): a Checkout Session in mode ``payment`` announces
the same money as its PaymentIntent, so every session event uses the intent (``pi_...``) as ``payment_ref`` and the
payment service's exactly-once key (provider, PAYMENT, payment_ref) counts it once, whichever of the session event
and ``payment_intent.succeeded`` arrives first:

* ``checkout.session.completed`` -> PAYMENT for ``amount_total`` when ``payment_status`` is ``paid`` (card: paid
  now); ``unpaid`` (a delayed method such as SEPA debit: the async events follow) and ``no_payment_required`` are
  ignored;
* ``checkout.session.async_payment_succeeded`` -> PAYMENT for ``amount_total``;
* ``checkout.session.async_payment_failed`` -> FAILURE (nothing was paid; recorded, no money moves).

References: the session's ``metadata`` (``invoice_numbers``, ``dunwell_customer_id``, which Dunwell also puts in
``payment_intent_data.metadata``), and ``client_reference_id`` (the same numbers). A paid session without a
PaymentIntent id cannot be told apart from its intent's event, so it is kept for review rather than risk
counting the money twice.

Every other event type is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentEvent, PaymentKind
from chalicelib.formats.processors.base import (
    MAX_SIGNATURE_HEADER,
    IgnoredEvent,
    MalformedWebhook,
    SignatureError,
    Unprocessable,
    WebhookBatch,
    any_matches,
    build_batch,
    check_now,
    from_unix,
    hmac_sha256,
    load_json,
    money_from_processor_minor,
    obj,
    opt_int,
    opt_obj,
    opt_str,
    req_int,
    req_str,
    split_references,
    usable_secrets,
)
from chalicelib.formats.processors.registry import Acknowledgement, Delivery, Processor

PROVIDER = "stripe"
SIGNATURE_HEADER = "Stripe-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
DEFAULT_FUTURE_TOLERANCE_SECONDS = 60

# Where Stripe's integer unit differs from ISO 4217 (see the module docstring). Currencies not listed
# use the ISO exponent: HUF and TWD two decimals, BHD/JOD/KWD/OMR/TND three, and so on.
STRIPE_EXPONENTS: Mapping[str, int] = {
    **{code: 0 for code in ("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX",
                            "VND", "VUV", "XAF", "XOF", "XPF")},
    "ISK": 2,
}


# ---------------------------------------------------------------- verification


_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() also takes '²' and Arabic-Indic digits
MAX_V1_SIGNATURES = 8  # one per active endpoint secret: two during a roll


def _parse_header(header: str) -> tuple[str, list[str]]:
    if len(header) > MAX_SIGNATURE_HEADER:
        raise SignatureError(f"signature header is longer than {MAX_SIGNATURE_HEADER} characters")
    timestamps: list[str] = []
    v1: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamps.append(value.strip())
        elif key == "v1":
            v1.append(value.strip())
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise SignatureError("signature header has no single numeric timestamp t=")
    if not v1:
        raise SignatureError("signature header has no v1 signature (v0 and other schemes are not accepted)")
    if len(v1) > MAX_V1_SIGNATURES:
        raise SignatureError(f"signature header has more than {MAX_V1_SIGNATURES} v1 signatures")
    return timestamps[0], v1


def verify_stripe(
    raw_body: bytes,
    signature_header: str | None,
    secrets: Sequence[str],
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    future_tolerance_seconds: int = DEFAULT_FUTURE_TOLERANCE_SECONDS,
) -> None:
    """Raise SignatureError unless `signature_header` proves Stripe sent `raw_body` recently.
    `secrets`: the endpoint's `whsec_...` secrets (one, or two during a rotation)."""
    keys = usable_secrets(secrets)
    current = check_now(now)
    if not signature_header or not signature_header.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp, received = _parse_header(signature_header)
    signed = timestamp.encode("ascii") + b"." + raw_body
    expected = [hmac_sha256(key.encode("utf-8"), signed).hex().encode("ascii") for key in keys]
    if not any_matches(expected, (value.encode("utf-8", "replace") for value in received)):
        raise SignatureError("no v1 signature matches the body under any configured secret")
    sent = int(timestamp)
    if sent < current - tolerance_seconds:
        raise SignatureError(f"timestamp is more than {tolerance_seconds} s old (replay protection)")
    if sent > current + future_tolerance_seconds:
        raise SignatureError(f"timestamp is more than {future_tolerance_seconds} s in the future")


# ---------------------------------------------------------------- normalisation


def _money(data: Mapping[str, Any], amount_key: str, where: str) -> Money:
    return money_from_processor_minor(req_int(data, amount_key, where), req_str(data, "currency", where),
                                      STRIPE_EXPONENTS)


def _metadata(data: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    return opt_obj(data, "metadata", where)


def _references(metadata: Mapping[str, Any], *extra: str | None) -> tuple[str, ...]:
    return split_references(opt_str(metadata, "invoice_number"), opt_str(metadata, "invoice_numbers"), *extra)


class _Event:
    def __init__(self, body: Mapping[str, Any]) -> None:
        self.id = req_str(body, "id", "event")
        self.type = req_str(body, "type", "event")
        self.occurred_at = from_unix(req_int(body, "created", "event"))
        data = obj(body.get("data"), "event.data")
        self.object = obj(data.get("object"), "event.data.object")
        self.previous = opt_obj(data, "previous_attributes", "event.data")

    def payment(self, kind: PaymentKind, payment_ref: str, amount: Money, metadata: Mapping[str, Any], *,
                references: tuple[str, ...] | None = None, payer_email: str | None = None,
                payer_name: str | None = None, original_ref: str | None = None) -> PaymentEvent:
        return PaymentEvent(
            provider=PROVIDER, event_id=self.id, payment_ref=payment_ref, kind=kind, amount=amount,
            occurred_at=self.occurred_at, raw_type=self.type,
            customer_hint=opt_str(metadata, "dunwell_customer_id"),
            payer_email=payer_email, payer_name=payer_name,
            references=_references(metadata) if references is None else references,
            original_ref=original_ref,
        )

    def ignore(self, reason: str, needs_review: bool = False) -> IgnoredEvent:
        return IgnoredEvent(self.id, self.type, reason, needs_review)


def _billing(charge: Mapping[str, Any], where: str) -> tuple[str | None, str | None]:
    billing = opt_obj(charge, "billing_details", where)
    return opt_str(billing, "email") or opt_str(charge, "receipt_email"), opt_str(billing, "name")


def _payment_intent_succeeded(event: _Event) -> PaymentEvent | IgnoredEvent:
    intent, where = event.object, "payment_intent"
    pi = req_str(intent, "id", where)
    if opt_str(intent, "invoice"):
        return event.ignore(f"payment for Stripe invoice {intent['invoice']}: counted by invoice.paid")
    amount = _money(intent, "amount_received", where)
    if amount.is_zero:
        return event.ignore("nothing received (amount_received is 0)")
    shipping = opt_obj(intent, "shipping", where)
    return event.payment(PaymentKind.PAYMENT, pi, amount, _metadata(intent, where),
                         payer_email=opt_str(intent, "receipt_email"), payer_name=opt_str(shipping, "name"))


def _payment_intent_failed(event: _Event) -> PaymentEvent:
    intent, where = event.object, "payment_intent"
    return event.payment(PaymentKind.FAILURE, req_str(intent, "id", where), _money(intent, "amount", where),
                         _metadata(intent, where), payer_email=opt_str(intent, "receipt_email"))


def _charge_succeeded(event: _Event) -> PaymentEvent | IgnoredEvent:
    charge, where = event.object, "charge"
    charge_id = req_str(charge, "id", where)
    intent = opt_str(charge, "payment_intent")
    if intent:
        return event.ignore(f"charge of PaymentIntent {intent}: counted by payment_intent.succeeded")
    amount = _money(charge, "amount", where)
    email, name = _billing(charge, where)
    return event.payment(PaymentKind.PAYMENT, charge_id, amount, _metadata(charge, where),
                         payer_email=email, payer_name=name)


def _created(item: Mapping[str, Any]) -> int:
    created = item.get("created")
    return created if isinstance(created, int) else 0


def _latest_refund(charge: Mapping[str, Any], where: str) -> Mapping[str, Any] | None:
    refunds = opt_obj(charge, "refunds", where).get("data")
    if not isinstance(refunds, list) or not refunds:
        return None
    objects = [obj(r, f"{where}.refunds.data[]") for r in refunds]
    # Stripe lists newest first; max() keeps the first of equal `created`, i.e. the newest listed.
    return max(objects, key=_created)


def _charge_refunded(event: _Event) -> PaymentEvent | IgnoredEvent:
    charge, where = event.object, "charge"
    charge_id = req_str(charge, "id", where)
    cumulative = req_int(charge, "amount_refunded", where)
    currency = req_str(charge, "currency", where)
    previous = opt_int(event.previous, "amount_refunded", "previous_attributes")
    email, name = _billing(charge, where)
    original_ref = opt_str(charge, "payment_intent") or charge_id
    if previous is None:
        # Only the cumulative figure: what this event refunded is that minus what Dunwell recorded as refunded on
        # the payment (services/payments.py), so a second partial refund is never counted with the first again.
        if cumulative <= 0:
            return event.ignore("no refund (amount_refunded is 0)")
        total = money_from_processor_minor(cumulative, currency, STRIPE_EXPONENTS)
        return replace(event.payment(PaymentKind.REFUND, f"{charge_id}:refunded:{cumulative}", total,
                                     _metadata(charge, where), payer_email=email, payer_name=name,
                                     original_ref=original_ref), refunded_total=total)
    latest = _latest_refund(charge, where)
    refund_id = opt_str(latest, "id") if latest is not None else None
    delta = cumulative - previous
    if latest is not None and latest.get("amount") != delta:
        refund_id = None  # the newest refund object is not the one this event announces
    if delta <= 0:
        return event.ignore(f"no new refund (amount_refunded {cumulative}, before {previous})")
    amount = money_from_processor_minor(delta, currency, STRIPE_EXPONENTS)
    return event.payment(PaymentKind.REFUND, refund_id or f"{charge_id}:refunded:{cumulative}", amount,
                         _metadata(charge, where), payer_email=email, payer_name=name, original_ref=original_ref)


def _dispute_created(event: _Event) -> PaymentEvent:
    dispute, where = event.object, "dispute"
    charge_id = req_str(dispute, "charge", where)
    return event.payment(PaymentKind.CHARGEBACK, req_str(dispute, "id", where), _money(dispute, "amount", where),
                         _metadata(dispute, where),
                         original_ref=opt_str(dispute, "payment_intent") or charge_id)


def _invoice_intent(invoice: Mapping[str, Any], where: str) -> str | None:
    legacy = opt_str(invoice, "payment_intent")
    if legacy:
        return legacy
    payments = opt_obj(invoice, "payments", where).get("data")
    if isinstance(payments, list):
        for entry in payments:
            if isinstance(entry, dict):
                intent = opt_str(opt_obj(entry, "payment", f"{where}.payments.data[]"), "payment_intent")
                if intent:
                    return intent
    return None


def _invoice_paid(event: _Event) -> PaymentEvent | IgnoredEvent:
    invoice, where = event.object, "invoice"
    invoice_id = req_str(invoice, "id", where)
    amount = _money(invoice, "amount_paid", where)
    if amount.is_zero:
        return event.ignore("invoice paid without money (amount_paid is 0: credit balance or free)")
    metadata = _metadata(invoice, where)
    return event.payment(PaymentKind.PAYMENT, _invoice_intent(invoice, where) or invoice_id, amount, metadata,
                         references=_references(metadata, opt_str(invoice, "number")),
                         payer_email=opt_str(invoice, "customer_email"), payer_name=opt_str(invoice, "customer_name"))


def _session_intent(session: Mapping[str, Any], where: str) -> str | None:
    value = session.get("payment_intent")
    if isinstance(value, dict):  # expanded
        return opt_str(value, "id")
    return opt_str(session, "payment_intent")


def _session_payment(event: _Event, kind: PaymentKind) -> PaymentEvent | IgnoredEvent:
    session, where = event.object, "checkout.session"
    session_id = req_str(session, "id", where)
    if opt_str(session, "mode") not in (None, "payment"):
        return event.ignore(f"checkout session {session_id} in mode {session['mode']}: not a one-off payment")
    intent = _session_intent(session, where)
    if not intent:
        raise Unprocessable(f"checkout session {session_id} names no payment_intent: counting it could count "
                            "its payment_intent.succeeded twice")
    amount = _money(session, "amount_total", where)
    if kind is PaymentKind.PAYMENT and amount.is_zero:
        return event.ignore("nothing paid (amount_total is 0)")
    metadata = _metadata(session, where)
    details = opt_obj(session, "customer_details", where)
    return event.payment(kind, intent, amount, metadata,
                         references=_references(metadata, opt_str(session, "client_reference_id")),
                         payer_email=opt_str(details, "email") or opt_str(session, "customer_email"),
                         payer_name=opt_str(details, "name"))


def _session_completed(event: _Event) -> PaymentEvent | IgnoredEvent:
    status = opt_str(event.object, "payment_status")
    if status != "paid":
        return event.ignore(f"checkout session not paid yet (payment_status {status}): "
                            "the async_payment events follow")
    return _session_payment(event, PaymentKind.PAYMENT)


def _session_async_succeeded(event: _Event) -> PaymentEvent | IgnoredEvent:
    return _session_payment(event, PaymentKind.PAYMENT)


def _session_async_failed(event: _Event) -> PaymentEvent | IgnoredEvent:
    return _session_payment(event, PaymentKind.FAILURE)


_HANDLERS = {
    "payment_intent.succeeded": _payment_intent_succeeded,
    "payment_intent.payment_failed": _payment_intent_failed,
    "charge.succeeded": _charge_succeeded,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
    "invoice.paid": _invoice_paid,
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _session_async_succeeded,
    "checkout.session.async_payment_failed": _session_async_failed,
}

HANDLED_TYPES = frozenset(_HANDLERS)


def parse_stripe(raw_body: bytes) -> WebhookBatch:
    """Normalise one (already verified) Stripe event. MalformedWebhook for a body that is not a
    Stripe event or lacks a field its type requires."""
    event = _Event(obj(load_json(raw_body), "body"))
    handler = _HANDLERS.get(event.type)
    if handler is None:
        return build_batch(PROVIDER, [event.ignore(f"event type {event.type} is not acted on")])
    try:
        item: PaymentEvent | IgnoredEvent = handler(event)
    except Unprocessable as exc:
        item = event.ignore(exc.reason, needs_review=True)
    return build_batch(PROVIDER, [item])


def _verify_and_parse(delivery: Delivery) -> WebhookBatch:
    verify_stripe(delivery.body, delivery.headers.get(SIGNATURE_HEADER.lower()), delivery.secrets, delivery.now)
    return parse_stripe(delivery.body)


PROCESSOR = Processor(
    name=PROVIDER,
    title="Stripe",
    variable="STRIPE_WEBHOOK_SECRET",
    local_default="whsec_local_dunwell_dev_secret",
    signature_header=SIGNATURE_HEADER,
    invalid_signature_status=400,
    verify_and_parse=_verify_and_parse,
    acknowledge=lambda batch: Acknowledgement(200, {"received": True}),
    documented_acknowledgements={"200": {"description": "Recorded", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/WebhookAccepted"}}}}},
)


__all__ = [
    "DEFAULT_FUTURE_TOLERANCE_SECONDS",
    "DEFAULT_TOLERANCE_SECONDS",
    "HANDLED_TYPES",
    "PROCESSOR",
    "SIGNATURE_HEADER",
    "STRIPE_EXPONENTS",
    "MalformedWebhook",
    "parse_stripe",
    "verify_stripe",
]
