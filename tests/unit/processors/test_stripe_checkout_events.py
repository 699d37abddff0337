"""Checkout Session events (the portal's "Pay now"): one PAYMENT under the PaymentIntent's id, so the payment service
counts the session event and payment_intent.succeeded as one payment."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentKind
from chalicelib.formats.processors import parse_stripe

from .conftest import stripe_event


def session(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "cs_test_1", "object": "checkout.session", "mode": "payment", "payment_status": "paid",
        "status": "complete", "amount_total": 102900, "currency": "eur", "payment_intent": "pi_7",
        "client_reference_id": "INV-2026-1001,INV-2026-1002",
        "metadata": {"invoice_numbers": "INV-2026-1001,INV-2026-1002", "dunwell_customer_id": "acme"},
        "customer_details": {"email": "ap@acme.example", "name": "Acme GmbH"},
    }
    data.update(overrides)
    return data


def one(raw: bytes) -> Any:
    batch = parse_stripe(raw)
    assert len(batch.events) + len(batch.ignored) == 1
    return batch.events[0] if batch.events else batch.ignored[0]


@pytest.mark.parametrize("event_type", ["checkout.session.completed", "checkout.session.async_payment_succeeded"])
def test_a_paid_session_is_a_payment_under_its_intent(event_type):
    event = one(stripe_event(event_type, session()))
    assert event.kind is PaymentKind.PAYMENT
    assert event.payment_ref == "pi_7"  # the same as payment_intent.succeeded: one payment id
    assert event.amount == Money.of("1029.00", "EUR")
    assert event.references == ("INV-2026-1001", "INV-2026-1002")
    assert event.customer_hint == "acme"
    assert (event.payer_email, event.payer_name) == ("ap@acme.example", "Acme GmbH")
    assert event.raw_type == event_type


def test_an_expanded_intent_and_references_from_client_reference_id_alone():
    event = one(stripe_event("checkout.session.completed",
                             session(payment_intent={"id": "pi_8", "object": "payment_intent"}, metadata={})))
    assert event.payment_ref == "pi_8"
    assert event.references == ("INV-2026-1001", "INV-2026-1002") and event.customer_hint is None


@pytest.mark.parametrize("status", ["unpaid", "no_payment_required"])
def test_a_completed_session_not_paid_yet_is_ignored(status):
    ignored = one(stripe_event("checkout.session.completed", session(payment_status=status)))
    assert "not paid yet" in ignored.reason and not ignored.needs_review


def test_an_async_failure_is_a_failure_of_that_intent():
    event = one(stripe_event("checkout.session.async_payment_failed", session(payment_status="unpaid")))
    assert event.kind is PaymentKind.FAILURE and event.payment_ref == "pi_7"


def test_a_paid_session_without_an_intent_is_kept_for_review_not_counted():
    ignored = one(stripe_event("checkout.session.completed", session(payment_intent=None)))
    assert ignored.needs_review and "payment_intent" in ignored.reason


def test_a_subscription_or_setup_session_is_not_a_payment():
    ignored = one(stripe_event("checkout.session.completed", session(mode="setup")))
    assert not ignored.needs_review and "mode setup" in ignored.reason


# ---- through the payment service (in-memory ports): the session event and its intent's event are one payment


def intent(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": "pi_7", "object": "payment_intent", "amount": 102900, "amount_received": 102900,
                            "currency": "eur", "status": "succeeded",
                            "metadata": {"invoice_numbers": "INV-2026-1001,INV-2026-1002",
                                         "dunwell_customer_id": "acme"}}
    data.update(overrides)
    return data


def world() -> Any:
    from tests.unit.services.test_payments import World, invoice

    return World(invoice("INV-2026-1001", "980.00"), invoice("INV-2026-1002", "49.00"))


@pytest.mark.parametrize("session_type", ["checkout.session.completed", "checkout.session.async_payment_succeeded"])
@pytest.mark.parametrize("session_first", [True, False])
def test_the_session_and_its_intent_count_once_in_either_order(session_type, session_first):
    w = world()
    raws = [stripe_event(session_type, session(), event_id="evt_cs"),
            stripe_event("payment_intent.succeeded", intent(), event_id="evt_pi")]
    receipts = [w.service.receive(parse_stripe(raw).events[0]) for raw in (raws if session_first else raws[::-1])]
    assert [r.outcome for r in receipts] == ["applied", "duplicate"]
    assert w.balance("INV-2026-1001").is_zero and w.balance("INV-2026-1002").is_zero
    assert w.payment("pi_7").amount == Money.of("1029.00", "EUR")


def test_an_async_failure_after_the_payment_does_not_undo_it():
    w = world()
    w.service.receive(parse_stripe(stripe_event("payment_intent.succeeded", intent(), event_id="evt_pi")).events[0])
    failed = parse_stripe(stripe_event("checkout.session.async_payment_failed", session(), event_id="evt_f"))
    receipt = w.service.receive(failed.events[0])
    assert receipt.outcome == "ignored" and w.balance("INV-2026-1001").is_zero


def test_the_example_checkout_session_completed():
    from .conftest import example

    event = one(example("stripe-checkout.session.completed.json"))
    assert event.kind is PaymentKind.PAYMENT and event.payment_ref == "pi_3SGc4pLkdIwHu7ix1Xr6Vb0Q"
    assert event.amount == Money.of("4980.50", "EUR")
    assert event.references == ("INV-2026-1001", "INV-2026-1005") and event.customer_hint == "C-1001"
    assert event.payer_email == "buchhaltung@mueller-maschinenbau.de"
