"""Stripe events normalised to PaymentEvents: amounts per currency, refund deltas, what is ignored."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentKind
from chalicelib.formats.processors import MalformedWebhook, parse_stripe

from .conftest import T, example, stripe_event


def one(raw: bytes) -> Any:
    batch = parse_stripe(raw)
    assert batch.provider == "stripe"
    assert len(batch.events) + len(batch.ignored) == 1
    return batch.events[0] if batch.events else batch.ignored[0]


def intent(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": "pi_1", "object": "payment_intent", "amount": 400000, "amount_received": 400000,
            "currency": "eur", "metadata": {"invoice_number": "INV-2026-1001"}, "status": "succeeded"}
    data.update(overrides)
    return data


def charge(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "ch_1", "object": "charge", "amount": 10000, "amount_captured": 10000, "amount_refunded": 0,
        "currency": "usd", "payment_intent": "pi_1", "metadata": {"invoice_number": "INV-2026-1008"},
        "billing_details": {"email": "billing@northwind-analytics.com", "name": "Northwind Analytics Inc."},
    }
    data.update(overrides)
    return data


def test_the_example_payment_intent_succeeded():
    event = one(example("stripe-payment_intent.succeeded.json"))
    assert event.kind is PaymentKind.PAYMENT
    assert event.event_id == "evt_3SFkq2LkdIwHu7ix0Rw9Yx1a"
    assert event.dedupe_key == "stripe:evt_3SFkq2LkdIwHu7ix0Rw9Yx1a"
    assert event.payment_ref == "pi_3SFkq2LkdIwHu7ix0n1Hq8Zt"
    assert event.amount == Money.of("4000.00", "EUR")
    assert event.references == ("INV-2026-1001",)
    assert event.customer_hint == "C-1001"
    assert event.payer_email == "buchhaltung@mueller-maschinenbau.de"
    assert event.occurred_at == datetime.fromtimestamp(1795597200, tz=UTC)
    assert event.raw_type == "payment_intent.succeeded"
    assert event.original_ref is None


def test_invoice_numbers_from_both_metadata_keys_are_merged():
    metadata = {"invoice_number": "INV-2026-1001", "invoice_numbers": "INV-2026-1005, INV-2026-1001 ,,INV-2026-1006"}
    event = one(stripe_event("payment_intent.succeeded", intent(metadata=metadata)))
    assert event.references == ("INV-2026-1001", "INV-2026-1005", "INV-2026-1006")
    assert event.customer_hint is None


@pytest.mark.parametrize(("currency", "minor", "expected"), [
    ("eur", 123456, Money.of("1234.56", "EUR")),
    ("jpy", 385000, Money.of(385000, "JPY")),  # zero-decimal: the integer is yen
    ("krw", 1500000, Money.of(1500000, "KRW")),
    ("xof", 25000, Money.of(25000, "XOF")),
    ("kwd", 12340, Money.of("12.340", "KWD")),  # three-decimal
    ("bhd", 5000, Money.of("5.000", "BHD")),
    ("isk", 50000, Money.of(500, "ISK")),  # Stripe keeps two decimals for ISK: 50000 is ISK 500
    ("huf", 100050, Money.of("1000.50", "HUF")),  # HUF/TWD are special only for payouts
    ("twd", 99900, Money.of("999.00", "TWD")),
    ("ugx", 75000, Money.of(75000, "UGX")),  # zero-decimal in Stripe and ISO
    ("mga", 500, Money.of(500, "MGA")),  # zero-decimal in Stripe, two decimals in ISO
])
def test_amounts_in_stripe_minor_units(currency, minor, expected):
    event = one(stripe_event("payment_intent.succeeded", intent(amount=minor, amount_received=minor,
                                                                currency=currency)))
    assert event.amount == expected


def test_fractional_isk_cannot_be_money_and_is_flagged_for_review():
    ignored = one(stripe_event("payment_intent.succeeded", intent(amount_received=50050, currency="isk")))
    assert ignored.needs_review and "ISK" in ignored.reason


def test_unknown_currency_is_flagged_for_review():
    ignored = one(stripe_event("payment_intent.succeeded", intent(currency="xyz")))
    assert ignored.needs_review and ignored.event_id == "evt_1" and ignored.type == "payment_intent.succeeded"


def test_nothing_received_is_ignored():
    ignored = one(stripe_event("payment_intent.succeeded", intent(amount_received=0)))
    assert not ignored.needs_review


def test_intent_of_a_stripe_invoice_is_left_to_invoice_paid():
    ignored = one(stripe_event("payment_intent.succeeded", intent(invoice="in_1")))
    assert "invoice.paid" in ignored.reason


def test_payment_failed_is_a_failure_for_the_intended_amount():
    failed = intent(amount_received=0, status="requires_payment_method")
    event = one(stripe_event("payment_intent.payment_failed", failed))
    assert event.kind is PaymentKind.FAILURE
    assert event.amount == Money.of("4000.00", "EUR")
    assert event.payment_ref == "pi_1"
    assert event.references == ("INV-2026-1001",)


def test_charge_of_an_intent_is_counted_once_through_the_intent():
    ignored = one(stripe_event("charge.succeeded", charge()))
    assert "payment_intent.succeeded" in ignored.reason and not ignored.needs_review


def test_legacy_charge_without_an_intent_is_a_payment():
    event = one(stripe_event("charge.succeeded", charge(payment_intent=None)))
    assert event.kind is PaymentKind.PAYMENT
    assert event.payment_ref == "ch_1"
    assert event.amount == Money.of("100.00", "USD")
    assert event.payer_email == "billing@northwind-analytics.com"
    assert event.payer_name == "Northwind Analytics Inc."
    assert event.references == ("INV-2026-1008",)


def test_partial_refund_is_the_delta_from_previous_attributes():
    refunds = {"object": "list", "data": [
        {"id": "re_2", "object": "refund", "amount": 4000, "created": T, "charge": "ch_1"},
        {"id": "re_1", "object": "refund", "amount": 3000, "created": T - 86400, "charge": "ch_1"},
    ]}
    raw = stripe_event("charge.refunded", charge(amount_refunded=7000, refunds=refunds),
                       previous={"amount_refunded": 3000, "refunds": {"data": refunds["data"][1:]}})
    event = one(raw)
    assert event.kind is PaymentKind.REFUND
    assert event.amount == Money.of("40.00", "USD")  # not the cumulative 70.00
    assert event.payment_ref == "re_2"
    assert event.original_ref == "pi_1"  # the PAYMENT's payment_ref
    assert event.references == ("INV-2026-1008",)


def test_partial_refund_without_refund_objects_gets_a_step_reference():
    raw = stripe_event("charge.refunded", charge(amount_refunded=7000), previous={"amount_refunded": 3000})
    event = one(raw)
    assert event.amount == Money.of("40.00", "USD")
    assert event.payment_ref == "ch_1:refunded:7000"


def test_delta_that_does_not_match_the_newest_refund_object_keeps_the_step_reference():
    refunds = {"data": [{"id": "re_9", "amount": 999, "created": T}]}
    event = one(stripe_event("charge.refunded", charge(amount_refunded=7000, refunds=refunds),
                             previous={"amount_refunded": 3000}))
    assert event.amount == Money.of("40.00", "USD")
    assert event.payment_ref == "ch_1:refunded:7000"


def test_refund_without_previous_attributes_carries_the_refunded_total():
    refunds = {"data": [{"id": "re_1", "amount": 3000, "created": T - 10},
                        {"id": "re_2", "amount": 2500, "created": T}]}
    event = one(stripe_event("charge.refunded", charge(amount_refunded=5500, refunds=refunds, payment_intent=None)))
    # The payment service subtracts what it recorded as refunded on the payment (tests/unit/services).
    assert event.kind is PaymentKind.REFUND and event.refunded_total == Money.of("55.00", "USD")
    assert event.payment_ref == "ch_1:refunded:5500"  # one id per refund step, whichever event announces it
    assert event.original_ref == "ch_1"  # a legacy charge: the charge is the payment


def test_full_first_refund():
    refunds = {"data": [{"id": "re_1", "amount": 10000, "created": T}]}
    event = one(stripe_event("charge.refunded", charge(amount_refunded=10000, refunds=refunds),
                             previous={"amount_refunded": 0, "refunded": False}))
    assert event.amount == Money.of("100.00", "USD") and event.payment_ref == "re_1"


def test_refund_without_previous_attributes_or_refund_objects_carries_the_refunded_total_too():
    event = one(stripe_event("charge.refunded", charge(amount_refunded=7000)))
    assert event.refunded_total == Money.of("70.00", "USD") and event.original_ref == "pi_1"


def test_refund_event_without_new_money_is_ignored():
    ignored = one(stripe_event("charge.refunded", charge(amount_refunded=3000), previous={"amount_refunded": 3000}))
    assert not ignored.needs_review


def test_jpy_refund_delta():
    event = one(stripe_event("charge.refunded", charge(currency="jpy", amount=385000, amount_refunded=100000),
                             previous={"amount_refunded": 0}))
    assert event.amount == Money.of(100000, "JPY")


def test_dispute_is_a_chargeback_linked_to_the_payment():
    dispute = {"id": "dp_1", "object": "dispute", "amount": 10000, "currency": "usd", "charge": "ch_1",
               "payment_intent": "pi_1", "reason": "fraudulent", "status": "needs_response", "metadata": {}}
    event = one(stripe_event("charge.dispute.created", dispute))
    assert event.kind is PaymentKind.CHARGEBACK
    assert event.payment_ref == "dp_1"
    assert event.original_ref == "pi_1"
    assert event.amount == Money.of("100.00", "USD")
    legacy = one(stripe_event("charge.dispute.created", {**dispute, "payment_intent": None}))
    assert legacy.original_ref == "ch_1"


def test_invoice_paid_legacy_links_to_its_intent():
    invoice = {"id": "in_1", "object": "invoice", "amount_paid": 117040, "currency": "gbp", "number": "HF-2231",
               "payment_intent": "pi_9", "customer_email": "accounts@harbourfinch.co.uk",
               "customer_name": "Harbour & Finch, Ltd", "metadata": {"invoice_number": "INV-2026-1002",
                                                                       "dunwell_customer_id": "C-1002"}}
    event = one(stripe_event("invoice.paid", invoice))
    assert event.kind is PaymentKind.PAYMENT
    assert event.amount == Money.of("1170.40", "GBP")
    assert event.payment_ref == "pi_9"
    assert event.references == ("INV-2026-1002", "HF-2231")
    assert (event.customer_hint, event.payer_email, event.payer_name) == (
        "C-1002", "accounts@harbourfinch.co.uk", "Harbour & Finch, Ltd")


def test_invoice_paid_basil_takes_the_intent_from_payments_or_falls_back_to_the_invoice():
    base = {"id": "in_1", "object": "invoice", "amount_paid": 1000, "currency": "eur", "number": "A1B2-0001",
            "metadata": {}}
    payments = {"data": [{"id": "inpay_1", "payment": {"type": "payment_intent", "payment_intent": "pi_7"}}]}
    assert one(stripe_event("invoice.paid", {**base, "payments": payments})).payment_ref == "pi_7"
    event = one(stripe_event("invoice.paid", base))
    assert event.payment_ref == "in_1"
    assert event.references == ("A1B2-0001",)


def test_invoice_paid_without_money_is_ignored():
    invoice = {"id": "in_1", "object": "invoice", "amount_paid": 0, "currency": "eur", "metadata": {}}
    assert not one(stripe_event("invoice.paid", invoice)).needs_review


@pytest.mark.parametrize("event_type", ["customer.created", "payment_intent.created", "charge.dispute.closed",
                                        "invoice.finalized", "payout.paid"])
def test_other_types_are_ignored(event_type):
    ignored = one(stripe_event(event_type, {"id": "x_1", "object": "whatever"}))
    assert ignored.type == event_type and not ignored.needs_review


@pytest.mark.parametrize("raw", [
    b"", b"not json", b"[1, 2]", b'{"id": "evt_1"}', b"\xff\xfe{}",
    stripe_event("payment_intent.succeeded", intent()).replace(b'"evt_1"', b"null"),
    stripe_event("payment_intent.succeeded", intent()).replace(b'"created": ', b'"created": "x", "c": '),
    stripe_event("payment_intent.succeeded", intent(amount_received=4000.5)),
    stripe_event("payment_intent.succeeded", intent(amount_received="400000")),
    stripe_event("payment_intent.succeeded", intent(amount_received=True)),
    stripe_event("payment_intent.succeeded", intent(id=None)),
    stripe_event("payment_intent.succeeded", intent(currency=None)),
    stripe_event("payment_intent.succeeded", intent(metadata="INV-2026-1001")),
    stripe_event("charge.refunded", charge(amount_refunded=None)),
    b'{"id": "evt_1", "type": "payment_intent.succeeded", "created": 1, "data": {"object": {"amount_received": NaN}}}',
])
def test_malformed_bodies_are_rejected(raw):
    with pytest.raises(MalformedWebhook):
        parse_stripe(raw)


def test_amounts_never_pass_through_float():
    raw = stripe_event("payment_intent.succeeded", intent(amount_received=400000))
    assert one(raw).amount.amount == Decimal("4000.00")
