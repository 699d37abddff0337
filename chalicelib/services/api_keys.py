"""Use case: API keys for finance staff. Only a SHA-256 of each secret is stored; the secret is shown
once. Secrets are 256 random bits, so a fast hash is enough (no password-stretching needed)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Protocol

TOKEN_PREFIX = "dwk"  # noqa: S105 - a public prefix, not a secret


class Role(IntEnum):
    """Ordered: each role can do everything the ones below it can."""

    VIEWER = 1
    COLLECTOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"role must be one of: {', '.join(r.name.lower() for r in cls)}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


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


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    name: str
    role: Role
    secret_sha256: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None


class KeyStore(Protocol):
    def put(self, record: KeyRecord) -> None: ...
    def get(self, key_id: str) -> KeyRecord | None: ...


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ApiKeys:
    """Issues and checks keys. A successful check is remembered for `cache_seconds` per container, so
    a busy API does not read the key table on every request; a revoked key therefore stops working
    within that time."""

    def __init__(self, store: KeyStore, clock: Callable[[], datetime] | None = None,
                 cache_seconds: float = 60.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cache_seconds = cache_seconds
        self.monotonic = monotonic
        self._verified: dict[str, tuple[float, Principal]] = {}

    def issue(self, name: str, role: Role | str, actor: str) -> IssuedKey:
        if not name.strip() or len(name) > 100:
            raise ValueError("a key needs a name of 1 to 100 characters")
        role = Role.parse(role) if isinstance(role, str) else role
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        self.store.put(KeyRecord(key_id, name.strip(), role, _hash(secret), self.clock(), actor))
        return IssuedKey(key_id, name.strip(), role, f"{TOKEN_PREFIX}_{key_id}_{secret}")

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
