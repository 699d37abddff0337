"""Browser sessions: signed, expiring, bound to a key that is checked on every request; CSRF tokens bound to the
session (or to the sign-in form's cookie); failed sign-ins throttled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.services.api_keys import ApiKeys
from chalicelib.services.sessions import SESSION_TTL, Sessions, SignInThrottle, derive_key


class KeyStore:
    def __init__(self):
        self.records, self.events = {}, []

    def put(self, record, event):
        self.records[record.key_id] = record
        self.events.append(event)

    def get(self, key_id):
        return self.records.get(key_id)

    def list(self, limit, cursor):
        return list(self.records.values())[:limit], None

    def revoke(self, key_id, at, actor, event):
        from dataclasses import replace

        self.records[key_id] = replace(self.records[key_id], revoked_at=at, revoked_by=actor)
        return self.records[key_id]


class Clock:
    def __init__(self):
        self.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def setup():
    clock = Clock()
    keys = ApiKeys(KeyStore(), clock=clock)
    sessions = Sessions(keys, lambda: derive_key("secret"), clock=clock)
    return keys, sessions, clock


def test_a_valid_key_starts_a_session_that_resumes_from_its_cookie_and_holds_no_secret(setup):
    keys, sessions, _ = setup
    issued = keys.issue("ana", "viewer", actor="test")
    signed = sessions.sign_in(issued.api_key)
    assert signed is not None
    assert issued.api_key not in signed.cookie_value and issued.api_key.split("_", 2)[2] not in signed.cookie_value
    resumed = sessions.resume(signed.cookie_value)
    assert resumed is not None and resumed.principal.name == "ana" and resumed.principal.role.label == "viewer"
    assert resumed.expires_at == datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def test_unknown_revoked_and_malformed_keys_start_nothing(setup):
    keys, sessions, _ = setup
    issued = keys.issue("ana", "admin", actor="test")
    assert sessions.sign_in(issued.api_key + "x") is None
    assert sessions.sign_in("") is None and sessions.sign_in("dwk_nope") is None
    keys.revoke(issued.key_id, "test")
    assert sessions.sign_in(issued.api_key) is None


def test_revoking_the_key_ends_its_sessions_at_once(setup):
    keys, sessions, _ = setup
    issued = keys.issue("ana", "admin", actor="test")
    signed = sessions.sign_in(issued.api_key)
    keys.store.revoke(issued.key_id, datetime.now(UTC), "other container", None)  # not through this cache
    assert sessions.resume(signed.cookie_value) is None


def test_a_session_expires_after_its_ttl(setup):
    keys, sessions, clock = setup
    signed = sessions.sign_in(keys.issue("ana", "viewer", actor="test").api_key)
    clock.now += SESSION_TTL - timedelta(seconds=1)
    assert sessions.resume(signed.cookie_value) is not None
    clock.now += timedelta(seconds=1)
    assert sessions.resume(signed.cookie_value) is None


def test_a_tampered_or_foreign_cookie_is_refused(setup):
    keys, sessions, clock = setup
    signed = sessions.sign_in(keys.issue("ana", "viewer", actor="test").api_key)
    version, payload, tag = signed.cookie_value.split(".")
    flipped = tag[:-2] + ("AA" if tag[-2:] != "AA" else "BA")
    for value in (f"{version}.{payload}.{flipped}", f"v2.{payload}.{tag}", signed.cookie_value + ".x",
                  "v1..", "", "x" * 600, f"{version}.{payload}=.{tag}"):
        assert sessions.resume(value) is None, value
    other = Sessions(keys, lambda: derive_key("another secret"), clock=clock)
    assert other.resume(signed.cookie_value) is None


def test_csrf_tokens_are_bound_to_their_session(setup):
    keys, sessions, _ = setup
    key = keys.issue("ana", "viewer", actor="test").api_key
    first, second = sessions.resume(sessions.sign_in(key).cookie_value), sessions.resume(
        sessions.sign_in(key).cookie_value)
    token = sessions.csrf_token(first)
    assert sessions.check_csrf(first, token)
    assert not sessions.check_csrf(second, token)
    assert not sessions.check_csrf(first, None) and not sessions.check_csrf(first, "")


def test_the_signin_token_matches_only_its_own_unexpired_cookie(setup):
    _, sessions, clock = setup
    nonce, other = sessions.signin_nonce(), sessions.signin_nonce()
    token = sessions.signin_token(nonce)
    assert sessions.check_signin_token(nonce, token)
    assert not sessions.check_signin_token(other, token)
    assert not sessions.check_signin_token(None, token) and not sessions.check_signin_token(nonce, None)
    clock.now += timedelta(minutes=16)
    assert not sessions.check_signin_token(nonce, token)


def test_failed_signins_are_throttled_per_client_and_in_all():
    now = [0.0]
    throttle = SignInThrottle(per_client=3, overall=5, window=60, monotonic=lambda: now[0])
    for _ in range(3):
        assert throttle.retry_after("1.2.3.4") is None
        throttle.failed("1.2.3.4")
    assert throttle.retry_after("1.2.3.4") == 61
    assert throttle.retry_after("5.6.7.8") is None
    throttle.failed("5.6.7.8")
    throttle.failed("9.9.9.9")
    assert throttle.retry_after("8.8.8.8") is not None  # five failures in all: everyone waits
    now[0] = 60.0
    assert throttle.retry_after("1.2.3.4") is None and throttle.retry_after("8.8.8.8") is None
