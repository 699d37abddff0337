"""GoCardless (bank debit) webhooks: signature verification and normalisation to PaymentEvent.

Verification
------------
Header ``Webhook-Signature``: lowercase hex HMAC-SHA256 of the raw body, keyed with the webhook
endpoint secret. There is no timestamp, so there is no replay window to enforce: replays are harmless
because each event is deduplicated on its own ``id``. Any configured secret may match (rotation).
GoCardless documents HTTP 498 for an invalid signature (``INVALID_SIGNATURE_STATUS``).

Amounts: Dunwell's loud requirement
-----------------------------------
GoCardless events carry no amount: ``links.payment`` names the payment, whose amount is only
available from the API (no network here, and a webhook must be answered within 10 s anyway). Events
do carry ``resource_metadata``, a copy of the payment's own ``metadata``. So **Dunwell creates every
GoCardless payment with exactly these metadata keys** (GoCardless allows three):

* ``invoice_number``: the invoice number(s) paid, comma separated;
* ``amount``: the payment's ``amount`` as GoCardless takes it, integer minor units (``"400000"`` for
  EUR 4000.00), digits only;
* ``currency``: the payment's ISO 4217 ``currency`` (``"EUR"``).

A payment event without them (a payment created outside Dunwell, or before this rule) is returned as
``IgnoredEvent(reason="amount unknown: ...", needs_review=True)``: never guessed, never dropped.

Actions (``resource_type`` "payments")
--------------------------------------
* ``confirmed`` -> PAYMENT: the money has been collected from the payer; GoCardless advises treating
  the payment as paid here. ``payment_ref`` = the payment id (``PM...``).
* ``paid_out`` -> ignored: the same money, now transferred to the merchant; already counted at
  ``confirmed`` (counting both would double it).
* ``failed`` -> FAILURE: the collection did not happen (nothing was counted; retries may follow).
* ``late_failure`` -> CHARGEBACK: the payment had been collected (``confirmed``, already counted as
  cash) and the payer's bank then failed it, taking the money back. That must reopen the invoice
  exactly like a chargeback; a FAILURE would mean "nothing to apply" and leave the balance wrongly
  reduced. ``payment_ref`` and ``original_ref`` = the payment id: the reversal has no id of its own,
  and a collected payment is reversed at most once, so (payment id, CHARGEBACK) names the movement.
* ``charged_back`` -> CHARGEBACK (the payer disputed a collected payment with their bank), same refs.
* ``chargeback_cancelled`` -> ignored, needs review (the chargeback was reversed: money returned).
* ``cancelled`` and every other action or resource type -> ignored.

Refunds (``resource_type`` "refunds"; Dunwell creates refunds with the same ``amount``/``currency`` metadata)
-------------------------------------------------------------------------------------------------------
* ``paid`` -> REFUND: the refund was sent to the payer's bank; the money has left. ``payment_ref`` = the
  refund id (``RF...``, ``links.refund``), ``original_ref`` = the payment refunded (``links.payment``), so a
  refund that arrives before its payment's ``confirmed`` waits for it.
* ``funds_returned`` and ``failed`` -> ignored, needs review (the refund did not reach the payer: the money
  may be back with the merchant); ``created``, ``refund_settled`` and the rest -> ignored (counted at ``paid``).

``details.cause`` is kept in the ignore reason. ``created_at`` is ``occurred_at``. Several events
come per POST; each is deduplicated on its own ``id`` (``EV...``), never on ``meta.webhook_id``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
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
    hmac_sha256,
    load_json,
    money_from_processor_minor,
    obj,
    opt_obj,
    opt_str,
    parse_iso_datetime,
    req_str,
    split_references,
    usable_secrets,
)
from chalicelib.formats.processors.registry import Acknowledgement, Delivery, Processor

PROVIDER = "gocardless"
SIGNATURE_HEADER = "Webhook-Signature"
INVALID_SIGNATURE_STATUS = 498
REQUIRED_PAYMENT_METADATA = ("invoice_number", "amount", "currency")

_DIGITS = re.compile(r"^[0-9]{1,15}$")
_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_REVERSALS = {"late_failure", "charged_back"}
_IGNORED_ACTIONS = {
    "paid_out": "paid out to the merchant: already counted when confirmed",
    "cancelled": "cancelled before collection: no money moved",
    "chargeback_settled": "chargeback settled: counted when charged_back",
    "late_failure_settled": "late failure settled: counted at late_failure",
}


def verify_gocardless(raw_body: bytes, signature_header: str | None, secrets: Sequence[str]) -> None:
    """Raise SignatureError unless `signature_header` is the HMAC of `raw_body` under a configured secret."""
    keys = usable_secrets(secrets)
    if not signature_header or not signature_header.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    if len(signature_header) > MAX_SIGNATURE_HEADER:
        raise SignatureError(f"{SIGNATURE_HEADER} is longer than {MAX_SIGNATURE_HEADER} characters")
    received = signature_header.strip().lower().encode("utf-8", "replace")
    expected = [hmac_sha256(key.encode("utf-8"), raw_body).hex().encode("ascii") for key in keys]
    if not any_matches(expected, [received]):
        raise SignatureError("signature does not match the body under any configured secret")


def _amount(resource_metadata: Mapping[str, Any]) -> tuple[int, str]:
    amount = opt_str(resource_metadata, "amount")
    currency = opt_str(resource_metadata, "currency")
    if amount is None or currency is None:
        missing = [k for k, v in (("amount", amount), ("currency", currency)) if v is None]
        raise Unprocessable(
            f"amount unknown: resource_metadata lacks {', '.join(missing)}; GoCardless payments must be created "
            f"with metadata {{{', '.join(REQUIRED_PAYMENT_METADATA)}}}")
    if not _DIGITS.match(amount):
        raise Unprocessable(f"amount unknown: resource_metadata.amount {amount!r} is not integer minor units")
    return int(amount), currency


def _metadata_and_amount(event: Mapping[str, Any], event_id: str, raw_type: str, because: str, where: str
                         ) -> tuple[Mapping[str, Any], Money] | IgnoredEvent:
    """The event's resource_metadata and the amount it states, or the event ignored for review when the amount
    is not usable."""
    resource_metadata = opt_obj(event, "resource_metadata", where)
    try:
        minor, currency = _amount(resource_metadata)
        return resource_metadata, money_from_processor_minor(minor, currency, {})
    except Unprocessable as exc:
        return IgnoredEvent(event_id, raw_type, exc.reason + because, needs_review=True)


def _event(raw: Any, index: int) -> PaymentEvent | IgnoredEvent:
    where = f"events[{index}]"
    event = obj(raw, where)
    event_id = req_str(event, "id", where)
    resource_type = req_str(event, "resource_type", where)
    action = req_str(event, "action", where)
    raw_type = f"{resource_type}.{action}"
    details = opt_obj(event, "details", where)
    cause = opt_str(details, "cause")
    because = f" (cause: {cause})" if cause else ""
    if resource_type == "refunds":
        return _refund_event(event, event_id, raw_type, action, because, where)
    if resource_type != "payments":
        return IgnoredEvent(event_id, raw_type, f"resource type {resource_type} is not a payment")
    if action in _IGNORED_ACTIONS:
        return IgnoredEvent(event_id, raw_type, _IGNORED_ACTIONS[action] + because)
    if action == "chargeback_cancelled":
        return IgnoredEvent(event_id, raw_type, "chargeback cancelled: the money came back; review" + because,
                            needs_review=True)
    if action not in ("confirmed", "failed", *_REVERSALS):
        return IgnoredEvent(event_id, raw_type, f"payment action {action} is not acted on" + because)
    occurred_at = parse_iso_datetime(req_str(event, "created_at", where), f"{where}.created_at")
    payment_id = req_str(opt_obj(event, "links", where), "payment", f"{where}.links")
    priced = _metadata_and_amount(event, event_id, raw_type, because, where)
    if isinstance(priced, IgnoredEvent):
        return priced
    resource_metadata, amount = priced
    references = split_references(opt_str(resource_metadata, "invoice_number"))
    if action == "confirmed":
        kind, payment_ref, original = PaymentKind.PAYMENT, payment_id, None
    elif action == "failed":
        kind, payment_ref, original = PaymentKind.FAILURE, payment_id, None
    else:
        kind, payment_ref, original = PaymentKind.CHARGEBACK, payment_id, payment_id
    return PaymentEvent(provider=PROVIDER, event_id=event_id, payment_ref=payment_ref, kind=kind, amount=amount,
                        occurred_at=occurred_at, raw_type=raw_type,
                        references=references, original_ref=original)


def _refund_event(event: Mapping[str, Any], event_id: str, raw_type: str, action: str, because: str,
                  where: str) -> PaymentEvent | IgnoredEvent:
    if action in ("funds_returned", "failed"):
        return IgnoredEvent(event_id, raw_type, f"refund {action}: it did not reach the payer; review" + because,
                            needs_review=True)
    if action != "paid":
        return IgnoredEvent(event_id, raw_type, f"refund {action}: counted when the refund is paid" + because)
    occurred_at = parse_iso_datetime(req_str(event, "created_at", where), f"{where}.created_at")
    links = opt_obj(event, "links", where)
    refund_id = req_str(links, "refund", f"{where}.links")
    payment_id = req_str(links, "payment", f"{where}.links")
    priced = _metadata_and_amount(event, event_id, raw_type, because, where)
    if isinstance(priced, IgnoredEvent):
        return priced
    resource_metadata, amount = priced
    return PaymentEvent(provider=PROVIDER, event_id=event_id, payment_ref=refund_id, kind=PaymentKind.REFUND,
                        amount=amount, occurred_at=occurred_at, raw_type=raw_type,
                        references=split_references(opt_str(resource_metadata, "invoice_number")),
                        original_ref=payment_id)


def parse_gocardless(raw_body: bytes) -> WebhookBatch:
    """Normalise every event of one (already verified) GoCardless webhook."""
    body = obj(load_json(raw_body), "body")
    events = body.get("events")
    if not isinstance(events, list):
        raise MalformedWebhook("body.events must be a list")
    return build_batch(PROVIDER, [_event_or_review(raw, i) for i, raw in enumerate(events)])


def _event_or_review(raw: Any, index: int) -> PaymentEvent | IgnoredEvent:
    """One event that cannot be read (no id, no action, a bad timestamp) is kept for review on its own: the batch's
    other events are GoCardless's real notifications and must not wait for (or be retried with) it."""
    try:
        return _event(raw, index)
    except MalformedWebhook as exc:
        event_id = opt_str(raw, "id") if isinstance(raw, dict) else None
        if event_id is None or not _EVENT_ID.fullmatch(event_id):
            # Named by its content, so a redelivery of the same batch finds it recorded already.
            canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
            event_id = f"malformed-{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"
        return IgnoredEvent(event_id, "malformed", f"unreadable event: {exc.reason}", needs_review=True)


def _verify_and_parse(delivery: Delivery) -> WebhookBatch:
    verify_gocardless(delivery.body, delivery.headers.get(SIGNATURE_HEADER.lower()), delivery.secrets)
    return parse_gocardless(delivery.body)


def _acknowledge(batch: WebhookBatch) -> Acknowledgement:
    # GoCardless: 204 when none of the events is one we act on, 200 otherwise.
    return Acknowledgement(200 if batch.events else 204, "")


PROCESSOR = Processor(
    name=PROVIDER,
    title="GoCardless",
    variable="GOCARDLESS_WEBHOOK_SECRET",
    local_default="gc_local_dunwell_dev_secret",
    signature_header=SIGNATURE_HEADER,
    invalid_signature_status=INVALID_SIGNATURE_STATUS,
    verify_and_parse=_verify_and_parse,
    acknowledge=_acknowledge,
    documented_acknowledgements={"200": {"description": "Recorded, and one of the events is acted on"},
                                 "204": {"description": "Recorded; none of the events is acted on"}},
)


__all__ = [
    "INVALID_SIGNATURE_STATUS",
    "PROCESSOR",
    "REQUIRED_PAYMENT_METADATA",
    "SIGNATURE_HEADER",
    "parse_gocardless",
    "verify_gocardless",
]
