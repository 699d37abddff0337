"""Shared pieces of the processor webhook modules: errors, the batch shape, strict JSON access,
HMAC helpers and amount conversion.

Two kinds of failure, kept apart so the API can answer them differently:

* `SignatureError`: the request is not proven to come from the processor (forged, tampered, stale,
  no header). Answer 4xx (GoCardless documents 498; Stripe and Adyen any 4xx) and record nothing.
* `MalformedWebhook`: the request is authentic (or cannot be checked because the body is not even
  JSON) but not a shape we understand: malformed JSON, a missing id/type/timestamp. Answer 400.

An authentic, well-formed event whose *values* cannot become a `PaymentEvent` (an unknown currency,
an amount with more decimals than the currency has, a GoCardless payment without the amount
metadata Dunwell requires) is neither: it comes back as an `IgnoredEvent` with `needs_review=True`,
so the request is acknowledged (no pointless multi-day retries), the raw body is archived by the
caller and a human sees the event. Events of types Dunwell does not act on are `IgnoredEvent`s with
`needs_review=False`.

Secrets are only ever passed in; no message built here contains a secret or a computed signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.currencies import minor_units
from chalicelib.domain.errors import DomainError, Kind
from chalicelib.domain.money import Money, normalise_currency
from chalicelib.domain.payments import PaymentEvent
from chalicelib.formats.json_limits import nesting_depth

# Bounds on a webhook body, checked before any parsing cost. Processors' events are a few KiB and nest less than
# ten levels; json.loads would raise RecursionError on ten thousand nested arrays after spending the time.
MAX_WEBHOOK_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_SIGNATURE_HEADER = 4096  # a header carries a timestamp and a signature or two, not kilobytes


class WebhookError(Exception):
    """A webhook or one of its events refused, with a `reason` that is safe to log and to return."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureError(WebhookError):
    """The request's signature does not verify."""

    code = "invalid_signature"
    kind = Kind.UNAUTHENTICATED


class MalformedWebhook(WebhookError):
    """The body is not JSON, or lacks a field every event of its kind must carry."""

    code = "malformed_webhook"
    kind = Kind.MALFORMED


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    event_id: str
    type: str
    reason: str
    needs_review: bool = False  # money may have moved but could not be normalised: show it to a human


@dataclass(frozen=True, slots=True)
class WebhookBatch:
    provider: str
    events: tuple[PaymentEvent, ...]
    ignored: tuple[IgnoredEvent, ...]


class Unprocessable(WebhookError):
    """Internal: an event whose values cannot be normalised; becomes IgnoredEvent(needs_review=True)."""


# ---------------------------------------------------------------- secrets and HMAC


def usable_secrets(secrets: Sequence[str] | str) -> tuple[str, ...]:
    """The configured secrets (current and, during rotation, previous). None configured is a
    deployment error, not a bad request: ValueError, so the API answers 5xx and the processor retries
    once the secret is set."""
    if isinstance(secrets, str):  # a lone string would otherwise be iterated character by character
        secrets = (secrets,)
    found = tuple(s for s in secrets if s)
    if not found:
        raise ValueError("no webhook secret configured")
    return found


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def any_matches(expected: Iterable[bytes], received: Iterable[bytes]) -> bool:
    """Constant-time comparison of every expected value with every received one (no early exit, so
    timing does not tell which secret or which header value came closest)."""
    received = tuple(received)
    matched = False
    for want in expected:
        for got in received:
            matched |= hmac.compare_digest(want, got)
    return matched


# ---------------------------------------------------------------- strict JSON


def _reject_constant(name: str) -> Any:
    raise MalformedWebhook(f"JSON constant {name} is not allowed")


def load_json(raw_body: bytes) -> Any:
    """Parse a webhook body. Floats stay Decimal (an amount must never pass through float) and
    NaN/Infinity are refused; a body too large or nested too deep is refused before it is parsed."""
    if len(raw_body) > MAX_WEBHOOK_BYTES:
        raise MalformedWebhook(f"body is larger than {MAX_WEBHOOK_BYTES} bytes")
    if nesting_depth(raw_body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise MalformedWebhook(f"body nests more than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(raw_body, parse_float=Decimal, parse_constant=_reject_constant)
    except MalformedWebhook:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedWebhook(f"body is not valid JSON: {exc}") from exc


def obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise MalformedWebhook(f"{where} must be a JSON object")
    return value


def opt_obj(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if value is None:
        return {}
    return obj(value, f"{where}.{key}")


def req_str(parent: Mapping[str, Any], key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedWebhook(f"{where}.{key} is missing or not a non-empty string")
    return value.strip()


def opt_str(parent: Mapping[str, Any], key: str) -> str | None:
    value = parent.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def req_int(parent: Mapping[str, Any], key: str, where: str) -> int:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedWebhook(f"{where}.{key} is missing or not an integer")
    return value


def opt_int(parent: Mapping[str, Any], key: str, where: str) -> int | None:
    if parent.get(key) is None:
        return None
    return req_int(parent, key, where)


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_iso_datetime(text: str, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise MalformedWebhook(f"{where} {text!r} is not an ISO 8601 timestamp") from exc
    if value.tzinfo is None:
        raise MalformedWebhook(f"{where} {text!r} has no timezone")
    return value


# ---------------------------------------------------------------- references and money


def split_references(*values: str | None) -> tuple[str, ...]:
    """Invoice numbers from metadata values: comma or semicolon separated, trimmed, de-duplicated
    (first spelling wins), order kept."""
    seen: set[str] = set()
    found: list[str] = []
    for value in values:
        if not value:
            continue
        for part in value.replace(";", ",").split(","):
            token = part.strip()
            if token and token.upper() not in seen:
                seen.add(token.upper())
                found.append(token)
    return tuple(found)


def money_from_processor_minor(minor: int, currency: str, exponents: Mapping[str, int]) -> Money:
    """Money from a processor's integer amount. `exponents` lists the currencies where the processor's
    minor unit differs from ISO 4217 (Stripe's ISK, Adyen's CLP...); every other currency uses the
    ISO exponent, through Money.from_minor. Raises Unprocessable for a negative amount, an unknown
    currency, or an amount finer than the ISO currency allows (e.g. fractional ISK)."""
    if minor < 0:
        raise Unprocessable(f"amount {minor} is negative")
    try:
        code = normalise_currency(currency)
        exponent = exponents.get(code)
        if exponent is None or exponent == minor_units(code):
            return Money.from_minor(minor, code)
        return Money.of(Decimal(minor).scaleb(-exponent), code)
    except DomainError as exc:
        raise Unprocessable(f"amount {minor} {currency}: {exc}") from exc


def build_batch(provider: str, items: Iterable[PaymentEvent | IgnoredEvent]) -> WebhookBatch:
    events: list[PaymentEvent] = []
    ignored: list[IgnoredEvent] = []
    for item in items:
        if isinstance(item, PaymentEvent):
            events.append(item)
        else:
            ignored.append(item)
    return WebhookBatch(provider, tuple(events), tuple(ignored))


def check_now(now: datetime) -> float:
    if now.tzinfo is None:
        raise ValueError("now must carry a timezone")
    return now.timestamp()
