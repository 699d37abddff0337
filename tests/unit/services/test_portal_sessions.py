"""Portal sessions (services/portal.py): the signed cookie, its idle timeout and caps, CSRF tokens, the session gate
with the links' revocation rule, and the in-memory rate limiter."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chalicelib.domain.customer import Customer
from chalicelib.services.portal import (
    IDLE,
    MAX_SESSION,
    GenerationGate,
    MemoryRateLimiter,
    PortalSessions,
)
from chalicelib.services.portal_links import PortalGrant
from chalicelib.services.sessions import b64url, unb64url

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
GRANT = PortalGrant("acme", "ap@acme.example", "3.abcdef0123456789", NOW - timedelta(days=1), NOW + timedelta(days=44))


def sessions(key: bytes = b"k" * 32) -> PortalSessions:
    return PortalSessions(lambda: key)


def test_a_cookie_round_trips_and_carries_no_token():
    s = sessions()
    session = s.start(GRANT, NOW)
    value = s.cookie_value(session)
    assert s.read(value, NOW + timedelta(minutes=5)) == session
    payload = json.loads(unb64url(value.split(".")[1]) or b"{}")
    assert set(payload) == {"c", "m", "l", "i", "x", "s", "t", "n"}
    assert payload["c"] == "acme" and payload["l"] == GRANT.link_id


def test_idle_timeout_slides_and_the_caps_hold():
    s = sessions()
    session = s.start(GRANT, NOW)
    assert s.read(s.cookie_value(session), NOW + IDLE) is None
    later = s.touch(session, NOW + timedelta(minutes=25))
    assert s.read(s.cookie_value(later), NOW + timedelta(minutes=50)) is not None
    long_lived = session
    for minutes in range(20, int(MAX_SESSION.total_seconds() // 60) + 40, 20):
        long_lived = s.touch(long_lived, NOW + timedelta(minutes=minutes))
    assert s.read(s.cookie_value(long_lived), long_lived.last_seen) is None  # past MAX_SESSION
    expiring = s.start(replace(GRANT, expires_at=NOW + timedelta(minutes=10)), NOW)
    assert s.read(s.cookie_value(expiring), NOW + timedelta(minutes=11)) is None  # the link expired


def test_a_forged_or_foreign_cookie_is_no_session():
    s = sessions()
    value = s.cookie_value(s.start(GRANT, NOW))
    version, payload, tag = value.split(".")
    data = json.loads(unb64url(payload) or b"{}")
    data["c"] = "globex"
    forged = ".".join((version, b64url(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()), tag))
    assert s.read(forged, NOW) is None
    assert sessions(b"other-key" * 4).read(value, NOW) is None
    for junk in ("", "v1..", "v1.a.b", "x" * 5000, "v2." + value[3:], value + "."):
        assert s.read(junk, NOW) is None


def test_csrf_tokens_belong_to_their_session():
    s = sessions()
    one, two = s.start(GRANT, NOW), s.start(GRANT, NOW)
    assert s.check_csrf(one, s.csrf_token(one))
    assert not s.check_csrf(two, s.csrf_token(one)) and not s.check_csrf(one, None) and not s.check_csrf(one, "")
    nonce = s.form_nonce(NOW)
    assert s.check_form_token(nonce, s.form_token(nonce), NOW + timedelta(minutes=5))
    assert not s.check_form_token(nonce, s.form_token(nonce), NOW + timedelta(hours=1))
    assert not s.check_form_token(s.form_nonce(NOW), s.form_token(nonce), NOW)


class Reads:
    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.calls = 0

    def customer_and_generation(self, customer_id: str) -> tuple[Customer | None, int]:
        self.calls += 1
        return Customer(customer_id, "Acme Ltd"), self.generation


def test_the_gate_follows_revocation_in_one_read():
    session = sessions().start(GRANT, NOW)
    reads = Reads(3)
    gate = GenerationGate(reads)
    customer = gate.customer_if_valid(session, NOW)
    assert customer is not None and customer.customer_id == "acme" and reads.calls == 1
    reads.generation = 4  # staff revoked every link of the customer
    assert gate.customer_if_valid(session, NOW) is None
    assert gate.customer_if_valid(replace(session, link_id="no-generation"), NOW) is None


def test_the_rate_limiter_counts_per_key_and_window():
    limiter = MemoryRateLimiter()
    window = timedelta(hours=1)
    assert all(limiter.hit("a", 3, window, NOW) is None for _ in range(3))
    wait = limiter.hit("a", 3, window, NOW)
    assert wait is not None and 0 < wait <= 3600
    assert limiter.hit("b", 3, window, NOW) is None
    assert limiter.hit("a", 3, window, NOW + window) is None
