"""Collector workflows in the domain: deductions, dispute resolution, write-offs and promises to pay (pure)."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.collections import (
    MAX_PROMISE_DAYS,
    PROMISE_GRACE_DAYS,
    DisputeStatus,
    Outcome,
    PromiseOutcome,
    make_promise,
    open_dispute,
    promise_hold_end,
    promise_outcome,
    resolve_dispute,
    settle_promise,
)
from chalicelib.domain.errors import CurrencyMismatch, DisputeOpen, DisputeResolved, InvalidMoney, NotAllowed
from chalicelib.domain.invoice import Document, DocumentKind, Invoice, InvoiceStatus, LedgerCharge
from chalicelib.domain.money import Money

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
TODAY = NOW.date()


def eur(value):
    return Money.of(value, "EUR")


def cents(minor):
    return Money.from_minor(minor, "EUR")


def invoice(total="1000.00", **kw):
    document = Document(kind=DocumentKind.INVOICE, number="INV-1", customer_id="acme", issue_date=date(2026, 11, 1),
                        due_date=date(2026, 12, 1), total=eur(total), paid_in_source=eur("0"))
    return replace(Invoice.from_document(document), version=3, **kw)


def assert_ledger(inv):
    assert not inv.balance.is_negative
    assert inv.total + inv.charged == inv.balance + inv.paid + inv.credited + inv.written_off


# ---- strategies: an invoice with some of it paid, and amounts within its balance ----------------------------

@st.composite
def open_invoice(draw):
    total = draw(st.integers(min_value=2, max_value=10_000_000))
    paid = draw(st.integers(min_value=0, max_value=total - 1))
    fee = draw(st.integers(min_value=0, max_value=10_000))
    charges = (LedgerCharge("fee", cents(fee), "late fee", "INV-1:fee:x", date(2026, 12, 8)),) if fee else ()
    return invoice(total=str(cents(total).amount), applied_payments=cents(paid), charges=charges)


def within(balance_minor):
    return st.integers(min_value=1, max_value=balance_minor)


# ---- disputes ----------------------------------------------------------------------------------------------

@given(open_invoice(), st.data())
def test_a_deduction_holds_back_only_its_amount(inv, data):
    deduction = cents(data.draw(within(inv.balance.minor)))
    disputed = inv.with_dispute("dsp_1", deduction)
    assert disputed.balance == inv.balance  # a dispute moves no money
    assert disputed.disputed_open == deduction
    assert disputed.undisputed_balance == inv.balance - deduction
    assert disputed.disputed_open + disputed.undisputed_balance == disputed.balance
    # Only a deduction of everything still open stops dunning (status DISPUTED, a hold in decide()).
    assert (disputed.status is InvoiceStatus.DISPUTED) == (deduction == inv.balance)
    principal = disputed.principal_open()
    assert disputed.principal_to_chase() == principal - min(principal, deduction)
    assert_ledger(disputed)


@given(open_invoice(), st.data())
def test_payments_eat_into_a_deduction_never_below_zero(inv, data):
    deduction = cents(data.draw(within(inv.balance.minor)))
    disputed = inv.with_dispute("dsp_1", deduction)
    paid, _left = disputed.with_payment(cents(data.draw(within(inv.balance.minor))))
    assert paid.disputed_open == min(deduction, paid.balance)
    assert not paid.undisputed_balance.is_negative
    assert_ledger(paid)


def test_a_whole_dispute_holds_everything():
    disputed = invoice().with_dispute("dsp_1", None)
    assert disputed.disputed and disputed.status is InvoiceStatus.DISPUTED
    assert disputed.disputed_open == eur("1000.00") and disputed.undisputed_balance == eur("0.00")
    assert disputed.principal_to_chase() == eur("0.00")


@pytest.mark.parametrize(("amount", "error"), [
    (eur("0.00"), InvalidMoney), (eur("-1.00"), InvalidMoney), (eur("1000.01"), InvalidMoney),
    (Money.of("10", "USD"), CurrencyMismatch),
])
def test_a_deduction_is_more_than_zero_and_at_most_the_balance(amount, error):
    with pytest.raises(error) as raised:
        invoice().with_dispute("dsp_1", amount)
    assert raised.value.field == "amount"


def test_one_open_dispute_per_invoice_and_none_on_a_settled_one():
    disputed = invoice().with_dispute("dsp_1", eur("100.00"))
    with pytest.raises(DisputeOpen):
        disputed.with_dispute("dsp_2", None)
    with pytest.raises(NotAllowed):
        invoice(applied_payments=eur("1000.00")).with_dispute("dsp_1", None)


def test_a_dispute_takes_over_a_chargebacks_hold():
    charged_back = invoice(disputed=True)  # services/payments.py: a chargeback disputes without a record
    dispute, disputed = open_dispute(charged_back, "dsp_1", "not_received", None, None, "key:ann", NOW)
    assert dispute.from_chargeback and disputed.dispute_id == "dsp_1"
    _closed, resolved = resolve_dispute(dispute, disputed, Outcome.REJECTED, None, None, "key:ann", NOW)
    assert not resolved.disputed and resolved.status is InvoiceStatus.OPEN


def test_open_dispute_checks_the_reason():
    with pytest.raises(NotAllowed):
        open_dispute(invoice(), "dsp_1", "because", None, None, "key:ann", NOW)


def resolve(inv, amount, outcome, credit=None):
    dispute, disputed = open_dispute(inv, "dsp_1", "pricing", amount, "too dear", "key:ann", NOW - timedelta(days=9))
    closed, resolved = resolve_dispute(dispute, disputed, outcome, credit, "agreed", "key:bob", NOW)
    return dispute, closed, resolved


def test_accepted_credits_what_was_held():
    _dispute, closed, resolved = resolve(invoice(), eur("300.00"), Outcome.ACCEPTED)
    assert closed.status is DisputeStatus.RESOLVED and closed.credited == eur("300.00")
    assert (resolved.balance, resolved.credited) == (eur("700.00"), eur("300.00"))
    assert resolved.dispute_id is None and resolved.disputed_amount is None
    assert closed.age_days(TODAY + timedelta(days=30)) == 9  # days it took, once resolved

    _dispute, closed, whole = resolve(invoice(), None, Outcome.ACCEPTED)
    assert closed.credited == eur("1000.00") and whole.status is InvoiceStatus.PAID


def test_rejected_lifts_the_hold_keeps_the_history_and_asks_the_sweep_to_look():
    inv = invoice(reminders_sent=frozenset({"upcoming:email", "due_today:email"}), next_action_at=None)
    _dispute, closed, resolved = resolve(inv, None, Outcome.REJECTED)
    assert closed.credited == eur("0.00") and closed.outcome is Outcome.REJECTED
    assert resolved.status is InvoiceStatus.OPEN and resolved.balance == eur("1000.00")
    assert resolved.reminders_sent == inv.reminders_sent  # the ladder resumes where it was
    assert resolved.next_action_at == NOW


@given(open_invoice(), st.data())
def test_partial_credits_the_part_agreed_and_chases_the_rest(inv, data):
    deduction = cents(data.draw(within(inv.balance.minor)))
    credit = cents(data.draw(within(deduction.minor)))
    _dispute, closed, resolved = resolve(inv, deduction, Outcome.PARTIAL, credit)
    assert closed.credited == credit
    assert resolved.balance == inv.balance - credit
    assert resolved.disputed_open.is_zero and resolved.undisputed_balance == resolved.balance
    assert_ledger(resolved)


@pytest.mark.parametrize(("outcome", "credit"), [
    (Outcome.PARTIAL, None), (Outcome.PARTIAL, eur("0.00")), (Outcome.PARTIAL, eur("300.01")),
    (Outcome.ACCEPTED, eur("10.00")), (Outcome.REJECTED, eur("10.00")),
])
def test_credit_amount_only_for_partial_and_within_what_is_held(outcome, credit):
    with pytest.raises(InvalidMoney) as raised:
        resolve(invoice(), eur("300.00"), outcome, credit)
    assert raised.value.field == "credit_amount"


def test_a_dispute_is_resolved_once():
    _dispute, closed, resolved = resolve(invoice(), eur("300.00"), Outcome.REJECTED)
    with pytest.raises(DisputeResolved):
        resolve_dispute(closed, resolved, Outcome.ACCEPTED, None, None, "key:bob", NOW)


def test_a_dispute_open_while_the_customer_paid_credits_only_what_is_still_open():
    dispute, disputed = open_dispute(invoice(), "dsp_1", "damaged", eur("300.00"), None, "key:ann", NOW)
    paid, _ = disputed.with_payment(eur("900.00"))  # 100 left: the deduction now holds 100
    closed, resolved = resolve_dispute(dispute, paid, Outcome.ACCEPTED, None, None, "key:bob", NOW)
    assert closed.credited == eur("100.00") and resolved.status is InvoiceStatus.PAID
    assert_ledger(resolved)


# ---- write-offs --------------------------------------------------------------------------------------------

@given(open_invoice(), st.data())
def test_a_write_off_reduces_the_balance_and_keeps_the_ledger(inv, data):
    amount = cents(data.draw(within(inv.balance.minor)))
    written = inv.with_write_off(amount)
    assert written.balance == inv.balance - amount
    assert written.written_off == inv.written_off + amount
    assert (written.status is InvoiceStatus.WRITTEN_OFF) == (amount == inv.balance)
    assert_ledger(written)


@pytest.mark.parametrize(("inv", "amount", "error"), [
    (invoice(), eur("0.00"), InvalidMoney), (invoice(), eur("1000.01"), InvalidMoney),
    (invoice(), Money.of("1", "USD"), CurrencyMismatch), (invoice(void=True), eur("1.00"), NotAllowed),
    (invoice(applied_payments=eur("1000.00")), eur("1.00"), InvalidMoney),
])
def test_a_write_off_is_more_than_zero_and_at_most_the_balance(inv, amount, error):
    with pytest.raises(error):
        inv.with_write_off(amount)


# ---- promises ----------------------------------------------------------------------------------------------

def test_a_promise_is_for_today_or_later_within_the_limit_and_the_balance():
    promised = make_promise(invoice(), TODAY, eur("400.00"), TODAY)
    assert (promised.promised_until, promised.promised_amount, promised.promise_balance) == (
        TODAY, eur("400.00"), eur("1000.00"))
    assert make_promise(invoice(), TODAY + timedelta(days=MAX_PROMISE_DAYS), eur("1.00"), TODAY).promised_until
    # The sweep looks again when the hold ends (the day after date + grace, as it begins anywhere on Earth), or
    # sooner if it was due to anyway.
    assert promised.next_action_at == datetime(2026, 12, 13, 10, 0, tzinfo=UTC)
    sooner = replace(invoice(), next_action_at=NOW)
    assert make_promise(sooner, TODAY, eur("1.00"), TODAY).next_action_at == NOW
    for until in (TODAY - timedelta(days=1), TODAY + timedelta(days=MAX_PROMISE_DAYS + 1)):
        with pytest.raises(NotAllowed) as raised:
            make_promise(invoice(), until, eur("1.00"), TODAY)
        assert raised.value.field == "date"
    for amount in (eur("0.00"), eur("1000.01")):
        with pytest.raises(InvalidMoney):
            make_promise(invoice(), TODAY, amount, TODAY)
    with pytest.raises(NotAllowed):
        make_promise(invoice(disputed=True), TODAY, eur("1.00"), TODAY)


def test_a_new_promise_replaces_a_broken_one():
    broken = settle_promise(make_promise(invoice(), TODAY, eur("1.00"), TODAY), PromiseOutcome.BROKEN)
    assert broken.broken_promise == TODAY and broken.promised_until is None
    again = make_promise(broken, TODAY + timedelta(days=5), eur("1.00"), TODAY)
    assert again.broken_promise is None


@given(st.integers(min_value=0, max_value=MAX_PROMISE_DAYS), st.integers(min_value=-5, max_value=20),
       st.integers(min_value=1, max_value=100_000), st.integers(min_value=0, max_value=100_000))
def test_a_promise_holds_through_its_grace_then_is_kept_or_broken(days, after, promised_minor, paid_minor):
    inv = invoice(total="1000.00")
    promise_day = TODAY + timedelta(days=days)
    promised = make_promise(inv, promise_day, cents(promised_minor), TODAY)
    paid, _ = promised.with_payment(cents(paid_minor)) if paid_minor else (promised, None)
    assert promise_hold_end(paid) == promise_day + timedelta(days=PROMISE_GRACE_DAYS)
    today = promise_day + timedelta(days=PROMISE_GRACE_DAYS + after)
    outcome = promise_outcome(paid, today)
    if after <= 0:
        assert outcome is None  # the date and the grace days: still holding
    elif paid_minor >= promised_minor:
        assert outcome is PromiseOutcome.KEPT
    else:
        assert outcome is PromiseOutcome.BROKEN


def test_settling_a_promise_lifts_the_hold():
    promised = make_promise(invoice(), TODAY, eur("400.00"), TODAY)
    kept = settle_promise(promised, PromiseOutcome.KEPT)
    assert (kept.promised_until, kept.promised_amount, kept.promise_balance, kept.broken_promise) == (
        None, None, None, None)
    broken = settle_promise(promised, PromiseOutcome.BROKEN)
    assert broken.promised_until is None and broken.broken_promise == TODAY
    assert promise_outcome(invoice(), TODAY) is None
