"""Helpers for the processor webhook tests: build events, sign them the way each processor does."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "webhooks"
NOW = datetime(2026, 11, 25, 9, 0, 5, tzinfo=UTC)
T = int(NOW.timestamp())


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def body(data: Any) -> bytes:
    return json.dumps(data, indent=2).encode("utf-8")


def stripe_v1(raw: bytes, secret: str, timestamp: int = T) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()


def stripe_header(raw: bytes, *secrets: str, timestamp: int = T) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={stripe_v1(raw, s, timestamp)}" for s in secrets)])


def stripe_event(event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None,
                 event_id: str = "evt_1", created: int = T) -> bytes:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return body({"id": event_id, "object": "event", "api_version": "2025-03-31.basil", "created": created,
                 "data": data, "livemode": False, "pending_webhooks": 1, "type": event_type})


def gocardless_signature(raw: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def adyen_sign(item: dict[str, Any], key_hex: str) -> dict[str, Any]:
    amount = item.get("amount", {})
    fields = [item.get("pspReference", ""), item.get("originalReference", ""), item.get("merchantAccountCode", ""),
              item.get("merchantReference", ""), amount.get("value", ""), amount.get("currency", ""),
              item.get("eventCode", ""), item.get("success", "")]
    message = ":".join("" if f is None else str(f) for f in fields).encode()
    signature = base64.b64encode(hmac.new(binascii.a2b_hex(key_hex), message, hashlib.sha256).digest()).decode()
    signed = dict(item)
    signed["additionalData"] = {**item.get("additionalData", {}), "hmacSignature": signature}
    return signed


def adyen_body(*items: dict[str, Any], live: str = "false") -> bytes:
    return body({"live": live, "notificationItems": [{"NotificationRequestItem": i} for i in items]})
