"""The weekly digest: Monday from 07:00 in the seller's time zone, once per week and recipient (send-once claims),
on a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.formats.dashboard import render_digest
from chalicelib.services.digest import WeeklyDigest, message_key
from chalicelib.services.ports import SendFailed
from tests.dashboard_fakes import full_dashboard
from tests.unit.services.fakes import Metrics
from tests.unit.services.sending_fakes import Claims, Sender


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


class RefusingSender(Sender):
    def __init__(self, refuse):
        super().__init__()
        self.refuse = set(refuse)

    def send_email(self, email):
        if email.to in self.refuse:
            raise SendFailed("throttled")
        return super().send_email(email)


def digest(clock, sender=None, recipients=("cfo@example.com", "ar@example.com"), tz="Europe/Berlin", claims=None):
    dashboard = full_dashboard()
    seen = []

    def render(figures):
        seen.append(figures.as_of)
        return render_digest(figures, seller_name="Test Seller", dashboard_url=None)

    service = WeeklyDigest(dashboard, render, sender or Sender(), claims or Claims(None), Metrics(),
                           recipients=recipients, timezone=tz, currency="EUR", clock=clock)
    return service, seen


# Monday 7 December 2026; Berlin is UTC+1 in winter.
MONDAY_0700_BERLIN = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize("now", [
    MONDAY_0700_BERLIN - timedelta(minutes=1),  # 06:59 local
    datetime(2026, 12, 6, 23, 30, tzinfo=UTC),  # Monday 00:30 local, before 07:00
    datetime(2026, 12, 8, 6, 0, tzinfo=UTC),  # Tuesday 07:00 local
    datetime(2026, 12, 13, 22, 0, tzinfo=UTC),  # Sunday 23:00 local
])
def test_nothing_is_sent_outside_monday_morning_local_time(now):
    sender = Sender()
    service, seen = digest(Clock(now), sender)
    run = service.run()
    assert not run.due and sender.emails == [] and seen == []


def test_monday_at_seven_local_sends_once_to_each_recipient_with_the_figures_to_sunday():
    sender, claims, clock = Sender(), Claims(None), Clock(MONDAY_0700_BERLIN + timedelta(minutes=2))
    service, seen = digest(clock, sender, claims=claims)
    run = service.run()
    assert run.due and run.week == "2026-W50" and str(run.as_of) == "2026-12-06"
    assert run.outcomes == {"sent": 2}
    assert sorted(e.to for e in sender.emails) == ["ar@example.com", "cfo@example.com"]
    assert seen == [run.as_of.__class__(2026, 12, 6)]  # the figures read once for both
    email = sender.emails[0]
    assert email.subject == "Test Seller: collections digest for the week to 2026-12-06 (EUR)"
    assert "EUR 1,820,971.00" in email.text and "<table" in email.html
    assert email.message_key == message_key("2026-W50", email.to) and email.to not in email.message_key
    # Every later hourly run that Monday, and a retried invocation, sends nothing and reads no figures.
    for hours in (0, 1, 5, 16):
        clock.now = MONDAY_0700_BERLIN + timedelta(hours=hours, minutes=3)
        again = service.run()
        assert again.outcomes == {"done": 2}
    assert len(sender.emails) == 2 and len(seen) == 1
    # The next Monday is another week.
    clock.now = MONDAY_0700_BERLIN + timedelta(days=7)
    assert service.run().outcomes == {"sent": 2} and len(sender.emails) == 4


def test_a_refused_send_is_tried_again_at_the_next_hourly_run_and_only_for_that_recipient():
    sender, claims, clock = RefusingSender({"ar@example.com"}), Claims(None), Clock(MONDAY_0700_BERLIN)
    service, _ = digest(clock, sender, claims=claims)
    assert service.run().outcomes == {"sent": 1, "refused": 1}
    sender.refuse.clear()
    clock.now += timedelta(hours=1)
    assert service.run().outcomes == {"done": 1, "sent": 1}
    assert sorted(e.to for e in sender.emails) == ["ar@example.com", "cfo@example.com"]


def test_monday_seven_follows_the_sellers_time_zone_across_daylight_saving():
    # New York in summer (UTC-4): Monday 6 July 2026 07:00 local is 11:00 UTC.
    sender = Sender()
    service, _ = digest(Clock(datetime(2026, 7, 6, 10, 59, tzinfo=UTC)), sender, tz="America/New_York")
    assert not service.run().due
    service.clock.now = datetime(2026, 7, 6, 11, 0, tzinfo=UTC)
    assert service.run().outcomes == {"sent": 2}


def test_no_recipients_no_digest():
    sender = Sender()
    service, seen = digest(Clock(MONDAY_0700_BERLIN), sender, recipients=())
    run = service.run()
    assert not run.due and "DIGEST_RECIPIENTS" in run.reason and sender.emails == [] and seen == []
