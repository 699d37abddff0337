"""Use case: every webhook body, as received, is kept before its events are recorded, so a person (or a replay)
can read exactly what the provider sent."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class RawStore(Protocol):
    def put_bytes(self, key: str, body: bytes, content_type: str) -> None: ...


class WebhookArchive:
    def __init__(self, files: RawStore, clock: Callable[[], datetime] | None = None) -> None:
        self.files = files
        self.clock = clock or (lambda: datetime.now(UTC))

    def keep(self, provider: str, raw: bytes) -> str:
        """Content-addressed, so a retried delivery overwrites its own copy instead of adding one."""
        key = f"webhooks/{provider}/{self.clock():%Y/%m/%d}/{hashlib.sha256(raw).hexdigest()}.json"
        self.files.put_bytes(key, raw, "application/json")
        return key
