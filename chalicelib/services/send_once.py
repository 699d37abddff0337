"""Exactly-once messages to customers: claim -> send -> mark sent -> record, for every kind of message (dunning
reminders, instalment reminders, payment receipts). The kinds differ only in what a claim lists, how a send is
recorded and what the claim's transaction checks (the Claims adapter; InvoicesChanged when it fails); those are
the callbacks and the claims given to `SendOnce.send`. The protocol and its crash windows live here, once.

A claim is written with a condition that it does not exist, keyed by what must happen once (a customer's
channel and day, an instalment's stage and channel, a payment), then:

1. claim written (SENDING)  ->  2. handed to SES / SNS  ->  3. SENT + provider message id
   ->  4. the caller records the send (on invoices, on a plan)  ->  5. RECORDED.

What a later attempt finds after a crash:
- the provider refused, or there is no one to send to: the claim is RELEASED and a later run sends. A refused
  send never counts as sent. Kinds that are not worth a retry mark it FAILED instead.
- died between 3 and 5: the claim is SENT; it is recorded without sending (REPAIRED).
- died between 1 and 3: the claim is still SENDING after its lease, and nothing tells whether the message was
  handed over before the process died. It is NOT sent again (a second final notice with a second fee is worse
  than a missed one): one run takes it over, a human is told (task and alert), and it is recorded as sent with
  `confirmed: false` (UNCONFIRMED). At-most-once, and never silent.

Stored claims keep the item shape deployed before this module: `status` is sending | sent | unconfirmed |
failed and `recorded` says whether step 4 is done; a released claim is deleted. `state_of` reads them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from chalicelib.services.ports import AlreadyClaimed, Claim, Claims, InvoicesChanged, SendFailed


class SendState(StrEnum):
    SENDING = "sending"  # claimed; the message may be on its way
    SENT = "sent"  # the provider took it; not recorded yet
    UNKNOWN = "unknown"  # SENDING past its lease, taken over by this run (stored as SENDING until recorded)
    RECORDED = "recorded"  # sent and recorded: done (stored as status `sent`, `recorded` true)
    UNCONFIRMED = "unconfirmed"  # outcome unknown after a crash: recorded as unconfirmed, a human checks
    RELEASED = "released"  # nothing went out; the claim is deleted so a later run may send
    FAILED = "failed"  # refused and not to be retried (a courtesy message)


TRANSITIONS: dict[SendState, frozenset[SendState]] = {
    SendState.SENDING: frozenset({SendState.SENT, SendState.RELEASED, SendState.FAILED, SendState.UNKNOWN}),
    SendState.SENT: frozenset({SendState.RECORDED}),
    SendState.UNKNOWN: frozenset({SendState.UNCONFIRMED}),
    SendState.RECORDED: frozenset(),
    SendState.UNCONFIRMED: frozenset(),
    SendState.RELEASED: frozenset(),
    SendState.FAILED: frozenset(),
}


class IllegalTransition(Exception):
    """A bug, not a condition: the protocol never moves a claim backwards (a resend would follow)."""


def state_of(claim: Claim) -> SendState:
    if claim.status == "sent":
        return SendState.RECORDED if claim.recorded else SendState.SENT
    return SendState(claim.status)


class Outcome(StrEnum):
    """What one attempt at one claim did."""

    SENT = "sent"  # sent now and recorded
    REPAIRED = "repaired"  # an earlier run sent it and died before recording: recorded now, not sent
    UNCONFIRMED = "unconfirmed"  # an earlier run died while sending: recorded as unconfirmed and flagged
    DONE = "done"  # sent (or settled as unconfirmed) and recorded before: nothing to do
    IN_FLIGHT = "in_flight"  # another run holds the claim (its lease runs, or it took the claim over)
    NO_DESTINATION = "no_destination"  # nothing to send to: released
    REFUSED = "refused"  # the provider did not take it: released (or failed)
    CHANGED = "changed"  # the claim's transaction check failed: nothing written, nothing sent


RECORDS = frozenset({Outcome.SENT, Outcome.REPAIRED, Outcome.UNCONFIRMED})


@dataclass(frozen=True)
class Attempt:
    claim: Claim  # as written by this run, or as found
    outcome: Outcome
    message_id: str = ""  # the provider's, when known
    reason: str | None = None  # why the provider refused
    changed: frozenset[str] = field(default_factory=frozenset)  # what stopped being chaseable

    @property
    def records(self) -> bool:
        """The caller must record this send now (sent, repaired or unconfirmed)."""
        return self.outcome in RECORDS

    @property
    def confirmed(self) -> bool:
        return self.outcome is not Outcome.UNCONFIRMED

    @property
    def settled_before(self) -> bool:
        """Today's message under this key is out, by this attempt or an earlier one."""
        return self.outcome in (Outcome.REPAIRED, Outcome.UNCONFIRMED, Outcome.DONE)


@dataclass(frozen=True)
class Delivered:
    destination: str
    message_id: str


Deliver = Callable[[Claim], Delivered | None]  # send the claim's message; None when there is no one to send to
Record = Callable[[Sequence[Attempt]], None]  # record the sends of a batch (attempts that do not record included)
Flag = Callable[[Claim], None]  # tell a human about a message whose outcome is unknown


class SendOnce:
    """`retry_refused` False marks a refused send FAILED instead of releasing it for a later run (a courtesy
    message: a duplicate is worse than a missing one)."""

    def __init__(self, claims: Claims, *, retry_refused: bool = True) -> None:
        self.claims = claims
        self.retry_refused = retry_refused

    def send(self, batch: Sequence[Claim], now: datetime, deliver: Deliver, record: Record,
             unknown_outcome: Flag | None) -> list[Attempt]:
        """Claim and send each claim of `batch` in turn, then record them all with one call of `record`, then mark
        them recorded. A failed transaction check (InvoicesChanged) stops the batch: the rest would fail too.
        `unknown_outcome` None leaves a claim stuck in SENDING as it is (a receipt is not worth a person's time)."""
        attempts: list[Attempt] = []
        for claim in batch:
            attempt = self._attempt(claim, now, deliver, unknown_outcome)
            attempts.append(attempt)
            if attempt.outcome is Outcome.CHANGED:
                break
        if any(a.outcome is not Outcome.CHANGED for a in attempts):
            record(attempts)
        for attempt in attempts:
            if attempt.records:
                final = SendState.UNCONFIRMED if attempt.outcome is Outcome.UNCONFIRMED else SendState.RECORDED
                self._mark(attempt.claim, final)
        return attempts

    def _attempt(self, claim: Claim, now: datetime, deliver: Deliver, unknown_outcome: Flag | None) -> Attempt:
        try:
            result = self.claims.claim(claim, now)
        except InvoicesChanged as changed:
            return Attempt(claim, Outcome.CHANGED, changed=changed.invoice_ids)
        if isinstance(result, AlreadyClaimed):
            return self._existing(result.existing, now, unknown_outcome)
        try:
            delivered = deliver(claim)
        except SendFailed as exc:
            self._move(claim, SendState.SENDING, SendState.RELEASED if self.retry_refused else SendState.FAILED)
            return Attempt(claim, Outcome.REFUSED, reason=str(exc))
        if delivered is None:
            self._move(claim, SendState.SENDING, SendState.RELEASED)
            return Attempt(claim, Outcome.NO_DESTINATION)
        claim.destination = delivered.destination
        self._move(claim, SendState.SENDING, SendState.SENT, delivered, now)
        return Attempt(claim, Outcome.SENT, delivered.message_id)

    def _existing(self, existing: Claim, now: datetime, unknown_outcome: Flag | None) -> Attempt:
        state = state_of(existing)
        if state is SendState.SENT:
            return Attempt(existing, Outcome.REPAIRED, existing.provider_message_id or "")
        if state is not SendState.SENDING:
            return Attempt(existing, Outcome.DONE, existing.provider_message_id or "")
        lease_over = existing.lease_until is not None and existing.lease_until < now
        if not lease_over or unknown_outcome is None or not self._move(existing, SendState.SENDING,
                                                                        SendState.UNKNOWN, now=now):
            return Attempt(existing, Outcome.IN_FLIGHT)
        unknown_outcome(existing)  # before recording: if recording fails, a person knows already
        return Attempt(existing, Outcome.UNCONFIRMED)

    def _mark(self, claim: Claim, final: SendState) -> None:
        self._move(claim, SendState.UNKNOWN if final is SendState.UNCONFIRMED else SendState.SENT, final)

    def _move(self, claim: Claim, before: SendState, after: SendState, delivered: Delivered | None = None,
              now: datetime | None = None) -> bool:
        """The store's write for one transition; False when another run made it first (a take-over)."""
        if after not in TRANSITIONS[before]:
            raise IllegalTransition(f"claim {claim.message_key}: {before} -> {after}")
        if after is SendState.SENT:
            assert delivered is not None and now is not None
            self.claims.mark_sent(claim, delivered.message_id, delivered.destination, now)
        elif after is SendState.RELEASED:
            self.claims.release(claim)
        elif after is SendState.FAILED:
            self.claims.mark(claim, "failed", recorded=True)
        elif after is SendState.UNKNOWN:
            assert now is not None
            # The take-over's run id marks the claim as this run's: only one run flags and records it.
            return self.claims.take_over(claim, "unconfirmed", now)
        elif after is SendState.UNCONFIRMED:
            self.claims.mark(claim, "unconfirmed", recorded=True)
        else:
            self.claims.mark(claim, "sent", recorded=True)
        return True
