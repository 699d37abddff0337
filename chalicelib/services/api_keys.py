"""Use case: API keys for finance staff. Only a SHA-256 of each secret is stored; the secret is shown
once. Secrets are 256 random bits, so a fast hash is enough (no password-stretching needed)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.services.ports import AuditEvent, KeyRecord, Role, utc_now

TOKEN_PREFIX = "dwk"  # noqa: S105 - a public prefix, not a secret
KEY_ID = re.compile(r"[0-9a-f]{16}")  # what `issue` makes: 8 random bytes as hex
MAX_NAME = 100


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"key:{self.name}"


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    name: str
    role: Role
    api_key: str  # the bearer token; shown once, never stored
    created_at: datetime | None = None
    created_by: str = ""


class KeyStore(Protocol):
    def put(self, record: KeyRecord, event: AuditEvent) -> None:
        """Write a new key and its audit event together; the key id must be new."""

    def get(self, key_id: str) -> KeyRecord | None: ...

    def list(self, limit: int, cursor: dict[str, Any] | None) -> tuple[list[KeyRecord], dict[str, Any] | None]:
        """Keys newest first, a page at a time (the cursor is the store's own position, or None)."""

    def revoke(self, key_id: str, at: datetime, actor: str, event: AuditEvent) -> KeyRecord | None:
        """Mark the key revoked with its audit event, unless it already is; the key as stored after (None: no
        such key)."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ApiKeys:
    """Issues and checks keys. A successful check is remembered for `cache_seconds` per container, so
    a busy API does not read the key table on every request; a revoked key therefore stops working
    within that time."""

    def __init__(self, store: KeyStore, clock: Callable[[], datetime] | None = None,
                 cache_seconds: float = 60.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock or utc_now
        self.cache_seconds = cache_seconds
        self.monotonic = monotonic
        self._verified: dict[str, tuple[float, Principal]] = {}

    def issue(self, name: str, role: Role | str, actor: str) -> IssuedKey:
        if not name.strip() or len(name) > MAX_NAME:
            raise ValueError(f"a key needs a name of 1 to {MAX_NAME} characters")
        role = Role.parse(role) if isinstance(role, str) else role
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        record = KeyRecord(key_id, name.strip(), role, _hash(secret), now, actor)
        # The event names the key and its role, never the secret or its hash.
        event = AuditEvent(f"api_key#{key_id}", "api_key.issued", actor, now, key_id,
                           {"name": record.name, "role": role.label})
        self.store.put(record, event)
        return IssuedKey(key_id, record.name, role, f"{TOKEN_PREFIX}_{key_id}_{secret}", now, actor)

    def get(self, key_id: str) -> KeyRecord | None:
        return self.store.get(key_id) if KEY_ID.fullmatch(key_id) else None

    def list(self, limit: int, cursor: dict[str, Any] | None) -> tuple[list[KeyRecord], dict[str, Any] | None]:
        return self.store.list(limit, cursor)

    def revoke(self, key_id: str, actor: str) -> KeyRecord | None:
        """Revoke a key (None: no such key). Idempotent: revoking a revoked key changes nothing and writes no
        event. This container forgets the key at once; other containers within `cache_seconds`."""
        record = self.get(key_id)
        if record is None:
            return None
        if record.revoked_at is None:
            now = self.clock()
            event = AuditEvent(f"api_key#{key_id}", "api_key.revoked", actor, now, "revoked",
                               {"name": record.name, "role": record.role.label})
            record = self.store.revoke(key_id, now, actor, event) or record
        self.forget(key_id)
        return record

    def forget(self, key_id: str) -> None:
        """Drop a key from this container's cache of verified keys."""
        for token_hash, (_, principal) in list(self._verified.items()):
            if principal.key_id == key_id:
                del self._verified[token_hash]

    def authenticate(self, token: str) -> Principal | None:
        token_hash = _hash(token)
        cached = self._verified.get(token_hash)
        if cached and self.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        principal = self._check(token)
        if principal is not None:
            if len(self._verified) > 1000:
                self._verified.clear()
            self._verified[token_hash] = (self.monotonic(), principal)
        return principal

    def _check(self, token: str) -> Principal | None:
        prefix, _, rest = token.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not key_id or not secret:
            return None
        record = self.store.get(key_id)
        if record is None or record.revoked_at is not None:
            return None
        if not hmac.compare_digest(record.secret_sha256, _hash(secret)):
            return None
        return Principal(record.key_id, record.name, record.role)
