"""The send-once protocol with an in-memory claims store and a sender that can die at each step: every crash
window, once, for every kind of message."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.services.ports import CLAIM_LEASE, AlreadyClaimed, Claim, SendFailed
from chalicelib.services.send_once import (
    TRANSITIONS,
    Delivered,
    Outcome,
    SendOnce,
    SendState,
    state_of,
)
from tests.unit.services.sending_fakes import Claims, Died

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
AFTER_LEASE = NOW + CLAIM_LEASE + timedelta(seconds=1)


class Provider:
    """SES as the component sees it: takes a message, or refuses, or the process dies around the hand-over."""

    def __init__(self):
        self.sent = []
        self.refuse = False
        self.die_before = False
        self.destination = "ap@acme.test"

    def __call__(self, claim):
        if self.die_before:
            raise Died
        if self.refuse:
            raise SendFailed("Throttling")
        if self.destination is None:
            return None
        self.sent.append(claim.message_key)
        return Delivered(self.destination, f"ses-{len(self.sent)}")


class Recorder:
    def __init__(self):
        self.calls = []
        self.die = False

    def __call__(self, attempts):
        if self.die:
            raise Died
        self.calls.append([(a.claim.message_key, a.outcome, a.message_id, a.confirmed) for a in attempts])


def claim(key="acme#2026-11-24#email", run_id="run-1", invoices=("INV-1",)):
    return Claim(key, "acme", "email", date(2026, 11, 24), run_id,
                 [{"invoice_id": i} for i in invoices], lease_until=NOW + CLAIM_LEASE)


def attempt(claims, provider, recorder, flagged, now=NOW, run_id="run-1", **kwargs):
    return SendOnce(claims, **kwargs).send([claim(run_id=run_id)], now, provider, recorder, flagged.append)[0]


@pytest.fixture
def world():
    return Claims(), Provider(), Recorder(), []


def test_a_message_is_claimed_sent_marked_with_the_provider_id_and_recorded(world):
    claims, provider, recorder, flagged = world
    done = attempt(claims, provider, recorder, flagged)
    assert done.outcome is Outcome.SENT and done.message_id == "ses-1"
    assert recorder.calls == [[("acme#2026-11-24#email", Outcome.SENT, "ses-1", True)]]
    item = claims.items["acme#2026-11-24#email"]
    assert (state_of(item), item.provider_message_id, item.destination) == (SendState.RECORDED, "ses-1",
                                                                             "ap@acme.test")
    assert flagged == []


def test_a_message_recorded_before_is_neither_sent_nor_recorded_again(world):
    claims, provider, recorder, flagged = world
    attempt(claims, provider, recorder, flagged)
    again = attempt(claims, provider, recorder, flagged, now=AFTER_LEASE, run_id="run-2")
    assert again.outcome is Outcome.DONE and again.settled_before
    assert provider.sent == ["acme#2026-11-24#email"]
    assert [call[0][1] for call in recorder.calls] == [Outcome.SENT, Outcome.DONE]  # the caller sees it, writes nothing


def test_a_refused_message_is_released_and_a_later_run_sends_it(world):
    claims, provider, recorder, flagged = world
    provider.refuse = True
    refused = attempt(claims, provider, recorder, flagged)
    assert (refused.outcome, refused.reason, refused.records) == (Outcome.REFUSED, "Throttling", False)
    assert claims.state("acme#2026-11-24#email") is SendState.RELEASED
    provider.refuse = False
    assert attempt(claims, provider, recorder, flagged, run_id="run-2").outcome is Outcome.SENT


def test_a_refused_courtesy_message_fails_for_good(world):
    claims, provider, recorder, flagged = world
    provider.refuse = True
    attempt(claims, provider, recorder, flagged, retry_refused=False)
    provider.refuse = False
    again = attempt(claims, provider, recorder, flagged, now=AFTER_LEASE, run_id="run-2", retry_refused=False)
    assert claims.state("acme#2026-11-24#email") is SendState.FAILED
    assert again.outcome is Outcome.DONE and provider.sent == []


def test_no_one_to_send_to_releases_the_claim(world):
    claims, provider, recorder, flagged = world
    provider.destination = None
    assert attempt(claims, provider, recorder, flagged).outcome is Outcome.NO_DESTINATION
    assert claims.state("acme#2026-11-24#email") is SendState.RELEASED


@pytest.mark.parametrize("dies", ["before the hand-over", "between the hand-over and marking it sent"])
def test_a_run_that_died_while_sending_is_never_sent_again_but_flagged_and_recorded_unconfirmed(world, dies):
    claims, provider, recorder, flagged = world
    if dies == "before the hand-over":
        provider.die_before = True
    else:
        claims.die_at = "mark_sent"
    with pytest.raises(Died):
        attempt(claims, provider, recorder, flagged)
    provider.die_before, claims.die_at = False, None
    sent_before = list(provider.sent)

    during_lease = attempt(claims, provider, recorder, flagged, run_id="run-2")
    assert during_lease.outcome is Outcome.IN_FLIGHT and recorder.calls == [[
        ("acme#2026-11-24#email", Outcome.IN_FLIGHT, "", True)]]

    after_lease = attempt(claims, provider, recorder, flagged, now=AFTER_LEASE, run_id="run-3")
    assert after_lease.outcome is Outcome.UNCONFIRMED and not after_lease.confirmed
    assert provider.sent == sent_before  # never twice
    assert [c.message_key for c in flagged] == ["acme#2026-11-24#email"]
    assert recorder.calls[-1] == [("acme#2026-11-24#email", Outcome.UNCONFIRMED, "", False)]
    assert claims.state("acme#2026-11-24#email") is SendState.UNCONFIRMED

    later = attempt(claims, provider, recorder, flagged, now=AFTER_LEASE, run_id="run-4")
    assert later.outcome is Outcome.DONE and len(flagged) == 1


def test_of_two_runs_finding_the_same_stuck_claim_only_one_flags_it(world):
    claims, provider, recorder, flagged = world
    claims.die_at = "mark_sent"
    with pytest.raises(Died):
        attempt(claims, provider, recorder, flagged)
    claims.die_at = None
    found = claims.claim(claim(run_id="run-2"), AFTER_LEASE)
    assert isinstance(found, AlreadyClaimed)
    first = SendOnce(claims)._existing(found.existing, AFTER_LEASE, flagged.append)
    second = SendOnce(claims)._existing(found.existing, AFTER_LEASE, flagged.append)
    assert (first.outcome, second.outcome, len(flagged)) == (Outcome.UNCONFIRMED, Outcome.IN_FLIGHT, 1)


def test_a_stuck_claim_of_a_kind_without_a_flag_is_left_alone(world):
    claims, provider, recorder, _flagged = world
    claims.die_at = "mark_sent"
    with pytest.raises(Died):
        attempt(claims, provider, recorder, [])
    claims.die_at = None
    stuck = SendOnce(claims).send([claim(run_id="run-2")], AFTER_LEASE, provider, recorder, None)[0]
    assert stuck.outcome is Outcome.IN_FLIGHT and claims.state("acme#2026-11-24#email") is SendState.SENDING


@pytest.mark.parametrize("dies", ["recording", "marking it recorded"])
def test_a_run_that_died_after_sending_is_repaired_by_recording_without_sending(world, dies):
    claims, provider, recorder, flagged = world
    if dies == "recording":
        recorder.die = True
    else:
        claims.die_at = "mark"
    with pytest.raises(Died):
        attempt(claims, provider, recorder, flagged)
    recorder.die, claims.die_at = False, None
    assert claims.state("acme#2026-11-24#email") is SendState.SENT

    repaired = attempt(claims, provider, recorder, flagged, now=AFTER_LEASE, run_id="run-2")
    assert repaired.outcome is Outcome.REPAIRED and repaired.settled_before
    assert provider.sent == ["acme#2026-11-24#email"]
    assert recorder.calls[-1] == [("acme#2026-11-24#email", Outcome.REPAIRED, "ses-1", True)]
    assert claims.state("acme#2026-11-24#email") is SendState.RECORDED and flagged == []


def test_a_claim_whose_invoices_changed_sends_nothing_and_stops_the_batch():
    claims, provider, recorder = Claims(unchaseable={"INV-2"}), Provider(), Recorder()
    batch = [claim("k1", invoices=("INV-1",)), claim("k2", invoices=("INV-1", "INV-2")), claim("k3")]
    attempts = SendOnce(claims).send(batch, NOW, provider, recorder, None)
    assert [a.outcome for a in attempts] == [Outcome.SENT, Outcome.CHANGED]
    assert attempts[1].changed == {"INV-2"} and provider.sent == ["k1"]
    assert [[key for key, *_ in call] for call in recorder.calls] == [["k1", "k2"]]  # what went out is recorded


def test_nothing_is_recorded_when_the_first_claim_changed():
    claims, provider, recorder = Claims(unchaseable={"INV-1"}), Provider(), Recorder()
    attempts = SendOnce(claims).send([claim()], NOW, provider, recorder, None)
    assert [a.outcome for a in attempts] == [Outcome.CHANGED] and recorder.calls == [] and claims.items == {}


def test_a_batch_is_recorded_once_with_every_attempt(world):
    claims, provider, recorder, flagged = world
    attempts = SendOnce(claims).send([claim("email"), claim("sms")], NOW, provider, recorder, flagged.append)
    assert [a.outcome for a in attempts] == [Outcome.SENT, Outcome.SENT]
    assert [[key for key, *_ in call] for call in recorder.calls] == [["email", "sms"]]


@pytest.mark.parametrize(("status", "recorded", "state"), [
    ("sending", False, SendState.SENDING), ("sent", False, SendState.SENT), ("sent", True, SendState.RECORDED),
    ("unconfirmed", True, SendState.UNCONFIRMED), ("failed", True, SendState.FAILED),
])
def test_claims_stored_before_the_component_are_read(status, recorded, state):
    assert state_of(replace(claim(), status=status, recorded=recorded)) is state


def test_no_transition_leads_back_to_a_state_that_could_send_again():
    assert all(SendState.SENDING not in after for after in TRANSITIONS.values())
    terminal = {SendState.RECORDED, SendState.UNCONFIRMED, SendState.RELEASED, SendState.FAILED}
    assert all(not TRANSITIONS[state] for state in terminal)
