"""Use case: staff sign in from a browser with an API key and get a short-lived session (the HTML pages only).

Security design (README "Signing in from a browser"):

* The session is a cookie holding `v1.<payload>.<tag>`: the payload is JSON {"k": key id, "n": a random session
  nonce, "e": expiry as Unix seconds}, the tag HMAC-SHA256 (cut to 16 bytes) under a key derived from the API's
  signing secret (the cursors' secret, with its own label: a cursor tag is never a session tag). It holds no
  secret: the API key itself is never stored in the cookie, a URL, a page or a log.
* Expiry is absolute (SESSION_TTL after sign-in, no sliding), and every request checks the key again in the key
  store, uncached: revoking the key ends its sessions at once.
* CSRF: each form of a signed-in page carries a token, HMAC of the session nonce under the same key with another
  label; the sign-in form carries one bound to a pre-session cookie (double submit, both HMAC'd), and sign-in also
  refuses a cross-site Origin / Sec-Fetch-Site. The cookies are SameSite=Strict besides.
* The cookie is read only by the HTML page routes (chalicelib/api/pages.py); the JSON API takes only
  `Authorization: Bearer`, so no cross-site request can ride on a browser's cookie there.
* Failed sign-ins are throttled per client address and in all (SignInThrottle).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from chalicelib.services.api_keys import Principal
from chalicelib.services.ports import KeyRecord

SESSION_TTL = timedelta(minutes=30)
SIGNIN_TTL = timedelta(minutes=15)  # how long a sign-in form may be filled in
SESSION_COOKIE = "__Host-dunwell_session"
SIGNIN_COOKIE = "__Host-dunwell_signin"
# The customer portal's (services/portal.py), here with the staff's so the page routes name them without loading
# the portal's use cases at cold start.
IDLE = timedelta(minutes=30)  # a portal session ends after this long without a page
FORM_TTL = timedelta(minutes=30)  # a form without a session (the expired-link page) may be filled in this long
PORTAL_COOKIE = "__Host-dunwell_portal"
FORM_COOKIE = "__Host-dunwell_portal_form"
MAX_COOKIE_CHARS = 512
_TAG_BYTES = 16
_VERSION = "v1"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_KEY_ID = re.compile(r"[0-9a-f]{16}")


class KeyReader(Protocol):
    def get(self, key_id: str) -> KeyRecord | None:
        """The key as stored now (read through, not from a cache)."""

    def authenticate(self, token: str) -> Principal | None: ...


@dataclass(frozen=True)
class Session:
    principal: Principal
    nonce: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    session: Session
    cookie_value: str


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str, max_chars: int = 400) -> bytes | None:
    """The bytes of an unpadded base64url text in its one canonical spelling (None otherwise: no second spelling of a
    signed value is accepted)."""
    if len(text) > max_chars or not _BASE64URL.fullmatch(text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        return None
    return data if b64url(data) == text else None


def derive_key(secret: str) -> bytes:
    """The sessions' own key, from the API's signing secret (bootstrap.cursor_signing_secret)."""
    return hmac.new(secret.encode(), b"dunwell browser session signing key", hashlib.sha256).digest()


class Sessions:
    def __init__(self, keys: KeyReader, signing_key: Callable[[], bytes],
                 clock: Callable[[], datetime] | None = None, ttl: timedelta = SESSION_TTL) -> None:
        self.keys = keys
        self.signing_key = signing_key
        self.clock = clock or (lambda: datetime.now(UTC))
        self.ttl = ttl

    # ------------------------------------------------------------------------------------------ sessions

    def sign_in(self, api_key: str) -> SignedIn | None:
        """A session for a valid, unrevoked key; None otherwise (the caller counts the failure)."""
        principal = self.keys.authenticate(api_key)
        if principal is None:
            return None
        # The key store, not the verification cache, has the last word (a key revoked a moment ago).
        record = self.keys.get(principal.key_id)
        if record is None or record.revoked_at is not None:
            return None
        expires = self.clock() + self.ttl
        nonce = b64url(secrets.token_bytes(16))
        payload = json.dumps({"k": principal.key_id, "n": nonce, "e": int(expires.timestamp())},
                             sort_keys=True, separators=(",", ":")).encode()
        value = f"{_VERSION}.{b64url(payload)}.{b64url(self._tag(b'session', payload))}"
        return SignedIn(Session(principal, nonce, datetime.fromtimestamp(int(expires.timestamp()), UTC)), value)

    def resume(self, cookie_value: str | None) -> Session | None:
        """The session a cookie value carries: signed by us, not expired, its key still there and not revoked."""
        if not cookie_value or len(cookie_value) > MAX_COOKIE_CHARS or cookie_value.count(".") != 2:
            return None
        version, payload_text, tag_text = cookie_value.split(".")
        payload, tag = unb64url(payload_text), unb64url(tag_text)
        if version != _VERSION or payload is None or tag is None or len(tag) != _TAG_BYTES:
            return None
        if not hmac.compare_digest(tag, self._tag(b"session", payload)):
            return None
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(data, dict) or set(data) != {"k", "n", "e"}:
            return None
        key_id, nonce, expires = data["k"], data["n"], data["e"]
        if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id) or not isinstance(nonce, str) \
                or type(expires) is not int:
            return None
        expires_at = datetime.fromtimestamp(expires, UTC)
        now = self.clock()
        if expires_at <= now or expires_at > now + self.ttl + timedelta(minutes=1):
            return None
        record = self.keys.get(key_id)
        if record is None or record.revoked_at is not None:
            return None
        return Session(Principal(record.key_id, record.name, record.role), nonce, expires_at)

    def csrf_token(self, session: Session) -> str:
        return b64url(self._tag(b"csrf", session.nonce.encode()))

    def check_csrf(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token).encode(), self.csrf_token(session).encode())

    # ------------------------------------------------------------------------------- the sign-in form

    def signin_nonce(self) -> str:
        """What the pre-session cookie holds: random, with its expiry."""
        expires = int((self.clock() + SIGNIN_TTL).timestamp())
        return f"{b64url(secrets.token_bytes(16))}~{expires}"

    def signin_token(self, nonce: str) -> str:
        return b64url(self._tag(b"signin", nonce.encode()))

    def check_signin_token(self, nonce: str | None, token: str | None) -> bool:
        """The form's token matches the pre-session cookie, which has not expired."""
        if not nonce or not token or len(nonce) > MAX_COOKIE_CHARS:
            return False
        _, _, expires = nonce.partition("~")
        if not expires.isdigit() or int(expires) <= int(self.clock().timestamp()):
            return False
        return hmac.compare_digest(str(token).encode(), self.signin_token(nonce).encode())

    def _tag(self, label: bytes, payload: bytes) -> bytes:
        message = b"\n".join((b"dunwell-session-v1", label, payload))
        return hmac.new(self.signing_key(), message, hashlib.sha256).digest()[:_TAG_BYTES]


class SignInThrottle:
    """Failed sign-ins, counted in this container over a sliding window: at most `per_client` from one address
    and `overall` in all. API keys are 256 random bits, so this is not what keeps them secret; it keeps a guessing
    loop slow and visible (each refusal is logged and counted). Per container: a deployment with many containers
    also has API Gateway's throttling in front."""

    def __init__(self, per_client: int = 5, overall: int = 100, window: float = 900.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.per_client = per_client
        self.overall = overall
        self.window = window
        self.monotonic = monotonic
        self._failures: deque[tuple[float, str]] = deque()

    def _expire(self) -> float:
        now = self.monotonic()
        while self._failures and now - self._failures[0][0] >= self.window:
            self._failures.popleft()
        return now

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again, or None when it may now."""
        now = self._expire()
        mine = [at for at, who in self._failures if who == client]
        if len(mine) >= self.per_client:
            return max(1, int(mine[len(mine) - self.per_client] + self.window - now) + 1)
        if len(self._failures) >= self.overall:
            return max(1, int(self._failures[len(self._failures) - self.overall][0] + self.window - now) + 1)
        return None

    def failed(self, client: str) -> None:
        self._expire()
        self._failures.append((self.monotonic(), client))
        while len(self._failures) > self.overall * 2:
            self._failures.popleft()
