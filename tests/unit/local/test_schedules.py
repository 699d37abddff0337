"""The local scheduler's reading of EventBridge schedule expressions (AWS semantics, UTC)."""

from datetime import UTC, datetime

import pytest

from chalicelib.local.schedules import CronSchedule, RateSchedule, ScheduleError, parse


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(15 minutes)", 900), ("rate(1 hour)", 3600), ("rate(2 hours)", 7200),
     ("rate(1 day)", 86400), ("rate(7 days)", 604800), ("  rate( 5 minutes )  ", 300)],
)
def test_rate_units(expression, seconds):
    schedule = parse(expression)
    assert isinstance(schedule, RateSchedule)
    assert schedule.seconds == seconds


def test_rate_ticks_from_its_anchor():
    schedule = parse("rate(15 minutes)")
    anchor = at("2026-11-22T10:07:30")
    assert schedule.next_after(anchor, anchor) == at("2026-11-22T10:22:30")
    assert schedule.next_after(at("2026-11-22T10:22:30"), anchor) == at("2026-11-22T10:37:30")
    assert schedule.next_after(at("2026-11-22T11:00:00"), anchor) == at("2026-11-22T11:07:30")


@pytest.mark.parametrize("expression", ["rate(5 minute)", "rate(1 minutes)", "rate(0 minutes)", "rate(1 week)",
                                        "rate(-1 days)", "rate(1.5 hours)", "every 5 minutes"])
def test_bad_rates(expression):
    with pytest.raises(ScheduleError):
        parse(expression)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # every day at 06:00 UTC
        ("cron(0 6 * * ? *)", "2026-11-22T05:59:00", "2026-11-22T06:00:00"),
        ("cron(0 6 * * ? *)", "2026-11-22T06:00:00", "2026-11-23T06:00:00"),
        # steps: 0/15 and */15 and a range with a step
        ("cron(0/15 * * * ? *)", "2026-11-22T10:07:00", "2026-11-22T10:15:00"),
        ("cron(*/15 * * * ? *)", "2026-11-22T10:45:00", "2026-11-22T11:00:00"),
        ("cron(10-50/20 * * * ? *)", "2026-11-22T10:31:00", "2026-11-22T10:50:00"),
        ("cron(10-50/20 * * * ? *)", "2026-11-22T10:51:00", "2026-11-22T11:10:00"),
        # weekdays by name: 2026-11-22 is a Sunday
        ("cron(0 8 ? * MON-FRI *)", "2026-11-22T12:00:00", "2026-11-23T08:00:00"),
        ("cron(0 8 ? * MON-FRI *)", "2026-11-27T08:00:00", "2026-11-30T08:00:00"),
        # weekdays by number: 1 = SUN, 7 = SAT (AWS, not crontab)
        ("cron(0 9 ? * 1 *)", "2026-11-22T09:30:00", "2026-11-29T09:00:00"),
        ("cron(0 9 ? * 7 *)", "2026-11-22T09:30:00", "2026-11-28T09:00:00"),
        ("cron(0 9 ? * SUN,SAT *)", "2026-11-22T08:00:00", "2026-11-22T09:00:00"),
        # lists, months by name, day of month; 31st only in long months
        ("cron(30 1,13 * * ? *)", "2026-11-22T02:00:00", "2026-11-22T13:30:00"),
        ("cron(0 0 1 JAN,JUL ? *)", "2026-11-22T00:00:00", "2027-01-01T00:00:00"),
        ("cron(0 12 31 * ? *)", "2026-11-22T00:00:00", "2026-12-31T12:00:00"),
        ("cron(0 0 29 2 ? *)", "2026-01-01T00:00:00", "2028-02-29T00:00:00"),
        # a year field
        ("cron(0 0 1 1 ? 2030)", "2026-11-22T00:00:00", "2030-01-01T00:00:00"),
        # seconds of `after` are ignored: the next whole minute that matches
        ("cron(* * * * ? *)", "2026-11-22T10:00:59", "2026-11-22T10:01:00"),
    ],
)
def test_cron_next_after(expression, after, expected):
    schedule = parse(expression)
    assert isinstance(schedule, CronSchedule)
    assert schedule.next_after(at(after)) == at(expected)


def test_cron_that_never_fires_again():
    assert parse("cron(0 0 1 1 ? 2020)").next_after(at("2026-11-22T00:00:00")) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 6 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 6 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 6 * * ?)", "6 fields"),
        ("cron(0 6 L * ? *)", "L, W or #"),
        ("cron(0 6 15W * ? *)", "L, W or #"),
        ("cron(0 6 ? * 6L *)", "L, W or #"),
        ("cron(0 6 ? * MON#2 *)", "L, W or #"),
        ("cron(60 6 * * ? *)", "outside 0-59"),
        ("cron(0 24 * * ? *)", "outside 0-23"),
        ("cron(0 6 ? * 0 *)", "outside 1-7"),
        ("cron(0 6 * FOO ? *)", "not a number"),
        ("cron(0 6 20-10 * ? *)", "backwards"),
    ],
)
def test_bad_or_unsupported_crons(expression, message):
    with pytest.raises(ScheduleError, match=message):
        parse(expression)


def test_wednesday_is_not_mistaken_for_w():
    schedule = parse("cron(0 7 ? * WED *)")
    assert schedule.next_after(at("2026-11-22T00:00:00")) == at("2026-11-25T07:00:00")


def test_chalice_expressions_parse():
    from chalice import Cron, Rate

    assert parse(Rate(15, unit=Rate.MINUTES).to_string()) == RateSchedule("rate(15 minutes)", 900)
    assert parse(Rate(1, unit=Rate.DAYS).to_string()).seconds == 86400
    assert parse(Cron(0, 6, "?", "*", "MON-FRI", "*").to_string()).next_after(at("2026-11-22T00:00:00")) == at(
        "2026-11-23T06:00:00"
    )
