"""Adyen standard notifications: per-item HMAC verification and normalisation to PaymentEvent.

Verification
------------
The signature travels inside the body, one per item, in ``additionalData.hmacSignature``: Base64 of
HMAC-SHA256 over ``pspReference:originalReference:merchantAccountCode:merchantReference:value:
currency:eventCode:success`` (``value``/``currency`` from ``amount``; a missing field is empty; no
escaping: Adyen's own fixtures with ``:`` and ``\\`` in ``merchantReference`` verify unescaped), keyed
with the hex-decoded HMAC key. Adyen's official libraries check only the first item of a batch;
**every item is verified here** and one bad item rejects the whole request (SignatureError), because
an attacker who can replay one genuine item could otherwise append forged ones. Any configured key
may match (rotation: Adyen lets a new key coexist while the old one is phased out).

Because the signature is in the body, the body must be parsed first: a body that is not JSON is a
MalformedWebhook (400), nothing in it is acted on.

Acknowledge with HTTP 200 and the body ``[accepted]`` (``ACK_BODY``).

Normalisation
-------------
Adyen has no event id. ``event_id`` = ``{pspReference}:{eventCode}:{success}``: Adyen resends the
same pair as retries (deduplicated) and may send ``success=false`` then ``success=true`` for the same
pspReference and eventCode, which are different facts. ``eventDate`` is ``occurred_at``.
``merchantReference`` carries the invoice number(s), comma separated, as Dunwell sets it when it
creates the payment; ``additionalData.shopperEmail`` / ``shopperName`` are used when present.

Amounts are minor units per Adyen's currency table, which follows ISO 4217 except CLP (2 decimals),
CVE (0), IDR (0) and ISK (2).

* Adyen captures automatically unless a merchant account is set to manual capture, and sends CAPTURE
  for an automatic capture only when the merchant turns that webhook on. So, per the item's
  ``merchantAccountCode``:

  - automatic capture (the default): a successful ``AUTHORISATION`` is the PAYMENT (it will be
    captured without anyone asking) and ``CAPTURE`` is ignored;
  - an account listed in ``manual_capture_accounts`` (config ``ADYEN_MANUAL_CAPTURE_ACCOUNTS``): the
    authorisation only reserves funds that may be cancelled or expire, so ``CAPTURE`` is the PAYMENT
    and ``AUTHORISATION`` is ignored.

  Never both, or the cash doubles; both name the same ``payment_ref`` besides (``originalReference``
  of the capture = the authorisation's pspReference, which refunds and chargebacks name), so even a
  setting changed between the two counts the money once.
* ``AUTHORISATION`` or ``CAPTURE`` with success false -> FAILURE (nothing was paid).
* ``REFUND`` success -> REFUND, ``payment_ref`` = its pspReference, ``original_ref`` = originalReference;
  ``REFUND`` failed -> ignored (no money moved). ``CANCEL_OR_REFUND`` is a REFUND when
  ``additionalData["modification.action"]`` says ``refund``, else ignored (a cancel).
* ``CHARGEBACK`` -> CHARGEBACK, ``original_ref`` = originalReference (or pspReference).
* ``CHARGEBACK_REVERSED``, ``REFUND_FAILED``, ``REFUNDED_REVERSED`` -> ignored, needs review (money
  came back to the merchant).
* ``CANCELLATION`` and everything else -> ignored.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from chalicelib.domain.payments import PaymentEvent, PaymentKind
from chalicelib.formats.processors.base import (
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

PROVIDER = "adyen"
ACK_BODY = "[accepted]"
SIGNED_FIELDS = ("pspReference", "originalReference", "merchantAccountCode", "merchantReference", "value",
                 "currency", "eventCode", "success")
ADYEN_EXPONENTS: Mapping[str, int] = {"CLP": 2, "CVE": 0, "IDR": 0, "ISK": 2}

_NEEDS_REVIEW = {
    "CHARGEBACK_REVERSED": "chargeback reversed: the money came back to the merchant",
    "REFUND_FAILED": "refund failed after it was accepted: the money came back to the merchant",
    "REFUNDED_REVERSED": "refund reversed: the money came back to the merchant",
}


def _keys(hmac_keys_hex: Sequence[str]) -> list[bytes]:
    keys = []
    for key in usable_secrets(hmac_keys_hex):
        try:
            keys.append(binascii.a2b_hex(key.strip()))
        except (binascii.Error, ValueError) as exc:
            raise ValueError("an Adyen HMAC key is not hexadecimal") from exc
    return keys


def _field(value: Any, name: str, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise MalformedWebhook(f"{where}.{name} must be a string or an integer")


def signing_string(item: Mapping[str, Any], where: str = "item") -> str:
    amount = opt_obj(item, "amount", where)
    values = {**item, "value": amount.get("value"), "currency": amount.get("currency")}
    return ":".join(_field(values.get(name), name, where) for name in SIGNED_FIELDS)


def sign_item(item: Mapping[str, Any], hmac_key_hex: str) -> str:
    """The Base64 signature Adyen puts in additionalData.hmacSignature (for tests and tooling)."""
    digest = hmac_sha256(binascii.a2b_hex(hmac_key_hex), signing_string(item).encode("utf-8"))
    return base64.b64encode(digest).decode("ascii")


def _verify_item(item: Mapping[str, Any], keys: list[bytes], where: str) -> None:
    received = opt_str(opt_obj(item, "additionalData", where), "hmacSignature")
    if received is None:
        raise SignatureError(f"{where} has no additionalData.hmacSignature")
    message = signing_string(item, where).encode("utf-8")
    expected = [base64.b64encode(hmac_sha256(key, message)) for key in keys]
    if not any_matches(expected, [received.encode("utf-8", "replace")]):
        psp = opt_str(item, "pspReference") or "?"
        raise SignatureError(f"{where} (pspReference {psp}) signature does not verify under any configured key")


def _items(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = body.get("notificationItems")
    if not isinstance(raw, list) or not raw:
        raise MalformedWebhook("body.notificationItems must be a non-empty list")
    items = []
    for i, wrapper in enumerate(raw):
        items.append(obj(obj(wrapper, f"notificationItems[{i}]").get("NotificationRequestItem"),
                         f"notificationItems[{i}].NotificationRequestItem"))
    return items


def _normalise(item: Mapping[str, Any], where: str, manual_capture_accounts: Collection[str]
               ) -> PaymentEvent | IgnoredEvent:
    psp = req_str(item, "pspReference", where)
    code = req_str(item, "eventCode", where)
    success_text = req_str(item, "success", where).lower()
    if success_text not in ("true", "false"):
        raise MalformedWebhook(f"{where}.success must be \"true\" or \"false\"")
    success = success_text == "true"
    event_id = f"{psp}:{code}:{success_text}"
    original = opt_str(item, "originalReference")
    additional = opt_obj(item, "additionalData", where)

    def ignore(reason: str, needs_review: bool = False) -> IgnoredEvent:
        return IgnoredEvent(event_id, code, reason, needs_review)

    kind: PaymentKind | None = None
    payment_ref, original_ref = psp, None
    if code in ("AUTHORISATION", "CAPTURE"):
        manual = opt_str(item, "merchantAccountCode") in manual_capture_accounts
        counted_here = (code == "CAPTURE") == manual
        if not success:
            kind = PaymentKind.FAILURE
            payment_ref = original or psp
        elif not counted_here:
            return ignore("authorised on a manual-capture merchant account: counted at CAPTURE"
                          if code == "AUTHORISATION"
                          else "captured automatically: already counted at AUTHORISATION")
        else:
            kind = PaymentKind.PAYMENT
            payment_ref = original or psp
    elif code == "REFUND" or (code == "CANCEL_OR_REFUND"
                              and opt_str(additional, "modification.action") == "refund"):
        if not success:
            return ignore("refund request failed: no money moved")
        kind, original_ref = PaymentKind.REFUND, original
    elif code == "CANCEL_OR_REFUND":
        return ignore("cancelled before capture: no money moved")
    elif code == "CHARGEBACK":
        if not success:
            return ignore("chargeback not processed (success false)")
        kind, original_ref = PaymentKind.CHARGEBACK, original or psp
    elif code in _NEEDS_REVIEW:
        return ignore(_NEEDS_REVIEW[code], needs_review=success)
    else:
        return ignore(f"event code {code} is not acted on")

    occurred_at = parse_iso_datetime(req_str(item, "eventDate", where), f"{where}.eventDate")
    amount_obj = opt_obj(item, "amount", where)
    value, currency = amount_obj.get("value"), amount_obj.get("currency")
    if isinstance(value, bool) or not isinstance(value, int) or not isinstance(currency, str):
        raise MalformedWebhook(f"{where}.amount must have an integer value and a currency")
    try:
        amount = money_from_processor_minor(value, currency, ADYEN_EXPONENTS)
    except Unprocessable as exc:
        return ignore(exc.reason, needs_review=True)
    return PaymentEvent(
        provider=PROVIDER, event_id=event_id, payment_ref=payment_ref, kind=kind, amount=amount,
        occurred_at=occurred_at, raw_type=code,
        payer_email=opt_str(additional, "shopperEmail"), payer_name=opt_str(additional, "shopperName"),
        references=split_references(opt_str(item, "merchantReference")), original_ref=original_ref,
    )


def verify_and_parse_adyen(raw_body: bytes, hmac_keys_hex: Sequence[str], *,
                           manual_capture_accounts: Collection[str] = ()) -> WebhookBatch:
    """Verify every item's HMAC (any bad item: SignatureError), then normalise them all. `manual_capture_accounts`:
    the merchant accounts whose payments are captured by hand (there CAPTURE is the payment, else AUTHORISATION)."""
    keys = _keys(hmac_keys_hex)
    items = _items(obj(load_json(raw_body), "body"))
    for i, item in enumerate(items):
        _verify_item(item, keys, f"notificationItems[{i}]")
    return build_batch(PROVIDER, [_normalise(item, f"notificationItems[{i}]", manual_capture_accounts)
                                  for i, item in enumerate(items)])


def _verify_and_parse(delivery: Delivery) -> WebhookBatch:
    manual = delivery.settings.adyen_manual_capture_accounts if delivery.settings is not None else frozenset()
    return verify_and_parse_adyen(delivery.body, delivery.secrets, manual_capture_accounts=manual)


PROCESSOR = Processor(
    name=PROVIDER,
    title="Adyen",
    variable="ADYEN_HMAC_KEY",
    # hex of "DUNWELL-LOCAL-ADYEN-HMAC-KEY-001": Adyen HMAC keys are 64 hex characters
    local_default="44554e57454c4c2d4c4f43414c2d414459454e2d484d41432d4b45592d303031",
    signature_header=None,
    invalid_signature_status=401,
    verify_and_parse=_verify_and_parse,
    acknowledge=lambda batch: Acknowledgement(200, ACK_BODY, {"Content-Type": "text/plain"}),
    documented_acknowledgements={"200": {"description": "Recorded (HMAC in each notification item)",
                                         "content": {"text/plain": {"schema": {"const": ACK_BODY}}}}},
)


__all__ = ["ACK_BODY", "ADYEN_EXPONENTS", "PROCESSOR", "SIGNED_FIELDS", "sign_item", "signing_string",
           "verify_and_parse_adyen"]
