"""Stripe-Signature verification: published vectors, the real stripe library, and every way to fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.formats.processors import SignatureError, verify_stripe

from .conftest import NOW, T, stripe_header, stripe_v1

SECRET = "whsec_test_current_0123456789abcdef"
OLD_SECRET = "whsec_test_previous_fedcba9876543210"
BODY = b'{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}\n'

# Published vector: stripe-dotnet's test-suite (src/StripeTests/Resources/event_test_signature.json, its
# EventUtilityTest: t=1533204620, secret "webhook_secret"; the fixture was signed with
# `(echo -n "1533204620." && cat event_test_signature.json) | openssl sha256 -hmac "webhook_secret"`).
DOTNET_BODY = b"""{
  "id": "evt_123",
  "object": "event",
  "account": "acct_123",
  "api_version": "2017-05-25",
  "created": 1533204620,
  "data": {
    "object": {
      "id": "cus_123",
      "object": "customer",
      "created": 123456789,
      "email": "test@stripe.com",
      "livemode": false,
      "metadata": {}
    }
  },
  "livemode": false,
  "pending_webhooks": 1,
  "request": {
    "id": "req_123",
    "idempotency_key": "idempotency-key-123"
  },
  "type": "customer.created"
}
"""
DOTNET_T = 1533204620
DOTNET_HEADER = (f"t={DOTNET_T},v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7,"
                 "v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef")
DOTNET_NOW = datetime.fromtimestamp(DOTNET_T + 100, tz=UTC)


def reason(excinfo: pytest.ExceptionInfo[SignatureError]) -> str:
    return excinfo.value.reason


def test_published_stripe_dotnet_vector_verifies():
    verify_stripe(DOTNET_BODY, DOTNET_HEADER, ["webhook_secret"], DOTNET_NOW)


def test_published_vector_fails_once_a_byte_changes():
    with pytest.raises(SignatureError):
        verify_stripe(DOTNET_BODY.rstrip(b"\n"), DOTNET_HEADER, ["webhook_secret"], DOTNET_NOW)


def test_only_v0_fails():
    v0_only = f"t={DOTNET_T},v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef"
    with pytest.raises(SignatureError) as excinfo:
        verify_stripe(DOTNET_BODY, v0_only, ["webhook_secret"], DOTNET_NOW)
    assert "v1" in reason(excinfo)


def test_v0_carrying_the_right_digest_still_fails():
    header = f"t={T},v0={stripe_v1(BODY, SECRET)}"
    with pytest.raises(SignatureError):
        verify_stripe(BODY, header, [SECRET], NOW)


def test_header_from_the_stripe_library_verifies():
    stripe = pytest.importorskip("stripe")
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, timestamp=T)
    verify_stripe(BODY, header, [SECRET], NOW)


def test_stripe_library_accepts_what_we_accept():
    stripe = pytest.importorskip("stripe")
    header = stripe_header(BODY, SECRET)
    stripe.WebhookSignature.verify_header(BODY, header, SECRET, tolerance=None)
    verify_stripe(BODY, header, [SECRET], NOW)


@settings(max_examples=60, deadline=None)
@given(payload=st.text(min_size=0, max_size=300), secret=st.text(alphabet="abcdef0123456789", min_size=8),
       tamper=st.booleans(), wrong_secret=st.booleans())
def test_agrees_with_the_stripe_library(payload, secret, tamper, wrong_secret):
    stripe = pytest.importorskip("stripe")
    key = f"whsec_{secret}"
    header = stripe.WebhookSignature.generate_signature_header(payload, key, timestamp=T)
    sent = payload + ("x" if tamper else "")
    configured = key + ("z" if wrong_secret else "")
    try:
        stripe.WebhookSignature.verify_header(sent, header, configured, tolerance=None)
        theirs = True
    except stripe.SignatureVerificationError:
        theirs = False
    try:
        verify_stripe(sent.encode(), header, [configured], NOW)
        ours = True
    except SignatureError:
        ours = False
    assert ours == theirs == (not tamper and not wrong_secret)


def test_wrong_secret_fails_and_the_reason_never_echoes_a_secret():
    header = stripe_header(BODY, "whsec_attacker_guess")
    with pytest.raises(SignatureError) as excinfo:
        verify_stripe(BODY, header, [SECRET], NOW)
    assert SECRET not in reason(excinfo) and "whsec_" not in reason(excinfo)
    assert stripe_v1(BODY, SECRET) not in reason(excinfo)


def test_tampered_body_fails():
    header = stripe_header(BODY, SECRET)
    with pytest.raises(SignatureError):
        verify_stripe(BODY.replace(b"succeeded", b"failed"), header, [SECRET], NOW)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_fails(header):
    with pytest.raises(SignatureError) as excinfo:
        verify_stripe(BODY, header, [SECRET], NOW)
    assert "missing" in reason(excinfo)


@pytest.mark.parametrize("header", [
    "garbage", "v1=abc", f"t=,v1={'0' * 64}", f"t=12a4,v1={'0' * 64}", f"t={T},t={T},v1={'0' * 64}",
    f"t={T}",
])
def test_unparseable_header_fails(header):
    with pytest.raises(SignatureError):
        verify_stripe(BODY, header, [SECRET], NOW)


def test_stale_timestamp_fails_and_the_boundary_passes():
    stale = T - 301
    with pytest.raises(SignatureError) as excinfo:
        verify_stripe(BODY, stripe_header(BODY, SECRET, timestamp=stale), [SECRET], NOW)
    assert "old" in reason(excinfo)
    verify_stripe(BODY, stripe_header(BODY, SECRET, timestamp=T - 300), [SECRET], NOW)


def test_future_timestamp_beyond_the_skew_allowance_fails_and_the_boundary_passes():
    with pytest.raises(SignatureError) as excinfo:
        verify_stripe(BODY, stripe_header(BODY, SECRET, timestamp=T + 61), [SECRET], NOW)
    assert "future" in reason(excinfo)
    verify_stripe(BODY, stripe_header(BODY, SECRET, timestamp=T + 60), [SECRET], NOW)


def test_tolerances_are_parameters():
    header = stripe_header(BODY, SECRET, timestamp=T - 1000)
    verify_stripe(BODY, header, [SECRET], NOW, tolerance_seconds=1200)
    with pytest.raises(SignatureError):
        verify_stripe(BODY, stripe_header(BODY, SECRET, timestamp=T + 5), [SECRET], NOW, future_tolerance_seconds=0)


def test_forged_stale_request_is_reported_as_a_bad_signature():
    with pytest.raises(SignatureError) as excinfo:
        verify_stripe(BODY, stripe_header(BODY, "whsec_other", timestamp=T - 5000), [SECRET], NOW)
    assert "matches" in reason(excinfo)


@pytest.mark.parametrize("signed_with", [SECRET, OLD_SECRET])
def test_rotation_either_configured_secret_verifies(signed_with):
    verify_stripe(BODY, stripe_header(BODY, signed_with), [OLD_SECRET, SECRET], NOW)


@pytest.mark.parametrize("configured", [SECRET, OLD_SECRET])
def test_rotation_stripe_sends_one_v1_per_secret_and_any_may_match(configured):
    header = stripe_header(BODY, OLD_SECRET, SECRET)
    verify_stripe(BODY, header, [configured], NOW)


def test_header_with_spaces_and_unknown_schemes_verifies():
    header = f"t={T}, v1={stripe_v1(BODY, SECRET)}, v0=deadbeef, x=1"
    verify_stripe(BODY, header, [SECRET], NOW)


def test_no_secret_configured_is_a_deployment_error():
    with pytest.raises(ValueError, match="no webhook secret"):
        verify_stripe(BODY, stripe_header(BODY, SECRET), [], NOW)
    with pytest.raises(ValueError):
        verify_stripe(BODY, stripe_header(BODY, SECRET), [""], NOW)


def test_now_must_be_timezone_aware():
    with pytest.raises(ValueError):
        verify_stripe(BODY, stripe_header(BODY, SECRET), [SECRET], NOW.replace(tzinfo=None))


def test_now_in_another_timezone_is_the_same_instant():
    verify_stripe(BODY, stripe_header(BODY, SECRET), [SECRET], NOW.astimezone(UTC) + timedelta(0))
