"""Use case: the weekly digest, the dashboard's figures by email to the seller's finance recipients.

An hourly schedule calls `run`; it sends only on Monday from SEND_HOUR (07:00) in the seller's time zone, with
the figures at the end of the Sunday before (the last whole day), in the reporting currency. Once per week and
recipient, through services/send_once.py: the claim `digest#<ISO week>#<recipient hash>` is written before the
mail goes, so the hourly runs after the first, a retried invocation or two overlapping ones send nothing twice.
A send SES refuses is released and tried again at the next hourly run that Monday; a run that died between
claim and send is not sent again (a missing digest is found on the dashboard; a duplicate only annoys)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.services.ports import (
    CLAIM_LEASE,
    Claim,
    Claims,
    DashboardFigures,
    DashboardSource,
    Metrics,
    OutgoingEmail,
    RenderedEmail,
    Sender,
)
from chalicelib.services.send_once import Delivered, Outcome, SendOnce

log = logging.getLogger(__name__)
SEND_WEEKDAY = 0  # Monday
SEND_HOUR = 7




@dataclass(frozen=True)
class DigestRun:
    due: bool
    week: str | None = None
    as_of: date | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"due": self.due, "week": self.week, "as_of": self.as_of.isoformat() if self.as_of else None,
                "outcomes": self.outcomes, "reason": self.reason}


def week_key(local_day: date) -> str:
    year, week, _ = local_day.isocalendar()
    return f"{year}-W{week:02d}"


def message_key(week: str, recipient: str) -> str:
    """The claim's key: the week and a hash of the address (no address in a key that logs and metrics may show)."""
    digest = hashlib.sha256(recipient.strip().lower().encode("utf-8")).hexdigest()[:16]
    return f"digest#{week}#{digest}"


class WeeklyDigest:
    def __init__(self, dashboard: DashboardSource, render: Callable[[DashboardFigures], RenderedEmail], sender: Sender,
                 claims: Claims, metrics: Metrics, *, recipients: Sequence[str], timezone: str, currency: str,
                 clock: Callable[[], datetime], send_hour: int = SEND_HOUR) -> None:
        self.dashboard = dashboard
        self.render = render
        self.sender = sender
        self.metrics = metrics
        self.send_once = SendOnce(claims, retry_refused=True)
        self.recipients = list(dict.fromkeys(r.strip() for r in recipients if r.strip()))
        self.zone = ZoneInfo(timezone)
        self.currency = currency
        self.clock = clock
        self.send_hour = send_hour

    def run(self) -> DigestRun:
        now = self.clock()
        local = now.astimezone(self.zone)
        if not self.recipients:
            return DigestRun(False, reason="no recipients: set DIGEST_RECIPIENTS")
        if local.weekday() != SEND_WEEKDAY or local.hour < self.send_hour:
            return DigestRun(False, reason=f"not Monday {self.send_hour:02d}:00 or later in {self.zone.key}")
        week = week_key(local.date())
        as_of = local.date() - timedelta(days=1)
        rendered: list[RenderedEmail] = []

        def email() -> RenderedEmail:  # the figures are read only when a claim is won, not by every hourly run
            if not rendered:
                rendered.append(self.render(self.dashboard.figures(as_of, self.currency)))
            return rendered[0]

        by_key = {message_key(week, r): r for r in self.recipients}
        batch = [Claim(key, "staff", "email", local.date(), uuid.uuid4().hex, [], lease_until=now + CLAIM_LEASE)
                 for key in by_key]

        def deliver(claim: Claim) -> Delivered:
            to = by_key[claim.message_key]
            content = email()
            return Delivered(to, self.sender.send_email(OutgoingEmail(to, content.subject, content.html,
                                                                      content.text, claim.message_key)))

        attempts = self.send_once.send(batch, now, deliver, lambda _attempts: None, unknown_outcome=None)
        outcomes: dict[str, int] = {}
        for attempt in attempts:
            outcomes[attempt.outcome.value] = outcomes.get(attempt.outcome.value, 0) + 1
            if attempt.outcome is Outcome.REFUSED:
                log.warning("weekly digest refused; the next hourly run tries again",
                            extra={"message_key": attempt.claim.message_key, "reason": attempt.reason})
        if outcomes.get(Outcome.SENT.value):
            self.metrics.count("DigestsSent", outcomes[Outcome.SENT.value], {"channel": "email"})
        return DigestRun(True, week, as_of, outcomes)
