"""GoCardless: Webhook-Signature verification and payment actions normalised to PaymentEvents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentKind
from chalicelib.formats.processors import (
    MalformedWebhook,
    SignatureError,
    WebhookBatch,
    parse_gocardless,
    verify_gocardless,
)
from chalicelib.formats.processors.gocardless import INVALID_SIGNATURE_STATUS

from .conftest import body, example, gocardless_signature

SECRET = "gc_current_secret_value"
OLD_SECRET = "gc_previous_secret_value"

# Published vector: gocardless-pro-python tests/webhooks_test.py with tests/fixtures/webhook_body.json
# (the fixture is read with .strip(), so the signed bytes have no trailing newline).
PUBLISHED_BODY = (
    b'{"events":[{"id":"EV00BD05S5VM2T","created_at":"2018-07-05T09:13:51.404Z","resource_type":"subscriptions",'
    b'"action":"created","links":{"subscription":"SB0003JJQ2MR06"},"details":{"origin":"api","cause":'
    b'"subscription_created","description":"Subscription created via the API."},"metadata":{}},{"id":'
    b'"EV00BD05TB8K63","created_at":"2018-07-05T09:13:56.893Z","resource_type":"mandates","action":"created",'
    b'"links":{"mandate":"MD000AMA19XGEC"},"details":{"origin":"api","cause":"mandate_created","description":'
    b'"Mandate created via the API."},"metadata":{}}]}'
)
PUBLISHED_KEY = "ED7D658C-D8EB-4941-948B-3973214F2D49"
PUBLISHED_SIGNATURE = "2693754819d3e32d7e8fcb13c729631f316c6de8dc1cf634d6527f1c07276e7e"


def payment_event(action: str, *, event_id: str = "EV1", cause: str = "x", resource_metadata: Any = None,
                  links: Any = None, created_at: str = "2026-11-24T09:14:32.117Z",
                  resource_type: str = "payments") -> dict[str, Any]:
    event: dict[str, Any] = {"id": event_id, "created_at": created_at, "resource_type": resource_type, "action": action,
             "links": links if links is not None else {"payment": "PM1"},
             "details": {"origin": "bank", "cause": cause, "description": "..."}, "metadata": {}}
    event["resource_metadata"] = resource_metadata if resource_metadata is not None else {
        "invoice_number": "INV-2026-1005", "amount": "98050", "currency": "EUR"}
    return event


def parse(*events: dict[str, Any]) -> WebhookBatch:
    return parse_gocardless(body({"events": list(events), "meta": {"webhook_id": "WB1"}}))


def test_published_vector_verifies():
    verify_gocardless(PUBLISHED_BODY, PUBLISHED_SIGNATURE, [PUBLISHED_KEY])


def test_published_vector_with_another_key_fails():
    with pytest.raises(SignatureError):
        verify_gocardless(PUBLISHED_BODY, PUBLISHED_SIGNATURE, ["anotherkey"])


def test_published_body_holds_no_payment_events():
    batch = parse_gocardless(PUBLISHED_BODY)
    assert batch.events == ()
    assert [(i.event_id, i.type) for i in batch.ignored] == [
        ("EV00BD05S5VM2T", "subscriptions.created"), ("EV00BD05TB8K63", "mandates.created")]


def test_tampered_body_fails():
    raw = example("gocardless-payments.json")
    signature = gocardless_signature(raw, SECRET)
    with pytest.raises(SignatureError):
        verify_gocardless(raw.replace(b"98050", b"98051"), signature, [SECRET])


@pytest.mark.parametrize("header", [None, "", "  "])
def test_missing_header_fails(header):
    with pytest.raises(SignatureError, match="missing"):
        verify_gocardless(b"{}", header, [SECRET])


def test_garbage_header_fails():
    with pytest.raises(SignatureError):
        verify_gocardless(b"{}", "sha256=not-hex-\u00e9", [SECRET])


def test_uppercase_hex_and_surrounding_spaces_verify():
    raw = example("gocardless-payments.json")
    verify_gocardless(raw, f"  {gocardless_signature(raw, SECRET).upper()} ", [SECRET])


@pytest.mark.parametrize("signed_with", [SECRET, OLD_SECRET])
def test_rotation_either_secret_verifies(signed_with):
    raw = example("gocardless-payments.json")
    verify_gocardless(raw, gocardless_signature(raw, signed_with), [OLD_SECRET, SECRET])


def test_reason_does_not_echo_the_secret():
    with pytest.raises(SignatureError) as excinfo:
        verify_gocardless(b"{}", "0" * 64, [SECRET])
    assert SECRET not in excinfo.value.reason


def test_no_secret_is_a_deployment_error():
    with pytest.raises(ValueError):
        verify_gocardless(b"{}", "0" * 64, [])


def test_invalid_signature_status_is_the_documented_498():
    assert INVALID_SIGNATURE_STATUS == 498


def test_the_example_webhook():
    batch = parse_gocardless(example("gocardless-payments.json"))
    assert batch.provider == "gocardless"
    [event] = batch.events
    assert event.kind is PaymentKind.PAYMENT
    assert (event.event_id, event.payment_ref) == ("EV01JQ8W3K7T5M", "PM01JQ7R2B9XHD")
    assert event.amount == Money.of("980.50", "EUR")
    assert event.references == ("INV-2026-1005",)
    assert event.occurred_at == datetime(2026, 11, 24, 9, 14, 32, 117000, tzinfo=UTC)
    assert event.raw_type == "payments.confirmed"
    [paid_out] = batch.ignored
    assert paid_out.event_id == "EV01JQ8W3K9N2P" and "already counted" in paid_out.reason
    assert not paid_out.needs_review


def test_failed_is_a_failure():
    [event] = parse(payment_event("failed", cause="insufficient_funds")).events
    assert event.kind is PaymentKind.FAILURE and event.payment_ref == "PM1" and event.original_ref is None


@pytest.mark.parametrize("action", ["late_failure", "charged_back"])
def test_money_taken_back_after_collection_is_a_chargeback(action):
    [event] = parse(payment_event(action, event_id="EV9")).events
    assert event.kind is PaymentKind.CHARGEBACK
    assert event.event_id == "EV9"
    assert event.payment_ref == "PM1" and event.original_ref == "PM1"
    assert event.amount == Money.of("980.50", "EUR")


def test_chargeback_cancelled_needs_review():
    [ignored] = parse(payment_event("chargeback_cancelled")).ignored
    assert ignored.needs_review


@pytest.mark.parametrize("action", ["cancelled", "paid_out", "created", "submitted", "customer_approval_granted",
                                    "resubmission_requested", "chargeback_settled"])
def test_other_payment_actions_are_ignored(action):
    batch = parse(payment_event(action, cause="some_cause"))
    assert batch.events == ()
    assert not batch.ignored[0].needs_review
    assert batch.ignored[0].type == f"payments.{action}"


def test_other_resource_types_are_ignored_even_without_payment_fields():
    batch = parse({"id": "EV2", "created_at": "2026-11-24T09:14:32Z", "resource_type": "mandates",
                   "action": "cancelled", "links": {"mandate": "MD1"}})
    assert batch.events == () and batch.ignored[0].type == "mandates.cancelled"


@pytest.mark.parametrize("resource_metadata", [{}, {"invoice_number": "INV-2026-1005"},
                                               {"amount": "98050"}, {"currency": "EUR", "invoice_number": "X"}])
def test_payment_without_amount_metadata_is_flagged_never_guessed(resource_metadata):
    batch = parse(payment_event("confirmed", resource_metadata=resource_metadata))
    assert batch.events == ()
    [ignored] = batch.ignored
    assert ignored.needs_review and ignored.reason.startswith("amount unknown")


def test_event_without_resource_metadata_at_all_is_flagged():
    event = payment_event("confirmed")
    del event["resource_metadata"]
    [ignored] = parse(event).ignored
    assert ignored.needs_review and ignored.reason.startswith("amount unknown")


@pytest.mark.parametrize("amount", ["980.50", "-98050", "98 050", "1e5"])
def test_amount_metadata_must_be_integer_minor_units(amount):
    [ignored] = parse(payment_event("confirmed", resource_metadata={"amount": amount, "currency": "EUR"})).ignored
    assert ignored.needs_review


def test_unknown_currency_in_metadata_is_flagged():
    [ignored] = parse(payment_event("confirmed", resource_metadata={"amount": "100", "currency": "EURO"})).ignored
    assert ignored.needs_review


def test_several_invoice_numbers_and_several_events():
    batch = parse(
        payment_event("confirmed", event_id="EV1",
                      resource_metadata={"invoice_number": "INV-2026-1005,INV-2026-1006", "amount": "159550",
                                         "currency": "EUR"}),
        payment_event("confirmed", event_id="EV2", links={"payment": "PM2"},
                      resource_metadata={"invoice_number": "INV-2026-1002", "amount": "68040", "currency": "GBP"}),
    )
    assert [(e.event_id, e.amount, e.references) for e in batch.events] == [
        ("EV1", Money.of("1595.50", "EUR"), ("INV-2026-1005", "INV-2026-1006")),
        ("EV2", Money.of("680.40", "GBP"), ("INV-2026-1002",)),
    ]


@pytest.mark.parametrize("raw", [b"", b"nope", b"[]", b'{"events": {}}', b'{"meta": {}}', b"[" * 10_000])
def test_malformed_bodies_are_rejected(raw):
    with pytest.raises(MalformedWebhook):
        parse_gocardless(raw)


@pytest.mark.parametrize("bad", [
    "EV1",
    {"resource_type": "payments", "action": "confirmed"},
    payment_event("confirmed", event_id="EV9", links={}),
    payment_event("confirmed", event_id="EV9", created_at="2014-04-08T17:01::06.000Z"),
    payment_event("confirmed", event_id="EV9", created_at="2026-11-24T09:14:32"),
])
def test_an_unreadable_event_is_kept_for_review_and_the_rest_of_its_batch_is_read(bad):
    good = payment_event("confirmed", event_id="EV1")
    batch = parse_gocardless(body({"events": [bad, good]}))
    assert [e.event_id for e in batch.events] == ["EV1"]
    [kept] = batch.ignored
    assert kept.needs_review and kept.type == "malformed" and kept.reason.startswith("unreadable event")
    if isinstance(bad, dict) and "id" in bad:
        assert kept.event_id == "EV9"
    else:  # named by its content: the same event redelivered is the same record
        assert kept.event_id.startswith("malformed-")
        assert parse_gocardless(body({"events": [bad]})).ignored[0].event_id == kept.event_id


def test_refund_paid_is_a_refund_of_its_payment():
    [event] = parse(payment_event("paid", resource_type="refunds", links={"refund": "RF1", "payment": "PM1"},
                                  resource_metadata={"amount": "10000", "currency": "EUR"})).events
    assert event.kind is PaymentKind.REFUND
    assert (event.payment_ref, event.original_ref) == ("RF1", "PM1")
    assert event.amount == Money.of("100.00", "EUR")


@pytest.mark.parametrize("action,review", [("created", False), ("refund_settled", False),
                                           ("funds_returned", True), ("failed", True)])
def test_other_refund_actions_are_ignored(action, review):
    batch = parse(payment_event(action, resource_type="refunds", links={"refund": "RF1", "payment": "PM1"}))
    assert batch.events == ()
    assert batch.ignored[0].needs_review is review


def test_refund_without_amount_metadata_is_flagged():
    batch = parse(payment_event("paid", resource_type="refunds", links={"refund": "RF1", "payment": "PM1"},
                                resource_metadata={}))
    assert batch.events == () and batch.ignored[0].needs_review
