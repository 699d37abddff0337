"""Business days, public holidays by country, send windows in the customer's timezone."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.dunning.calendar import (
    InvalidTimezone,
    add_business_days,
    business_days_between,
    holidays_for,
    is_business_day,
    is_sendable_now,
    load_timezone,
    next_business_day,
    next_send_time,
)
from chalicelib.domain.dunning.policy import SendWindow

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = SendWindow()


@pytest.mark.parametrize(("day", "country", "expected"), [
    (date(2025, 10, 3), "DE", False),  # Tag der Deutschen Einheit (Friday)
    (date(2025, 10, 3), "GB", True),
    (date(2025, 12, 26), "GB", False),  # Boxing Day
    (date(2025, 10, 4), "DE", False),  # Saturday
    (date(2025, 10, 6), "DE", True),
    (date(2025, 10, 3), None, True),
    (date(2025, 10, 3), "XX", True),  # unknown country: weekends only
])
def test_is_business_day(day, country, expected):
    assert is_business_day(day, country) is expected


def test_every_day_is_a_sending_day_when_business_days_are_off():
    assert is_business_day(date(2025, 10, 4), "DE", business_days_only=False)
    assert is_business_day(date(2025, 10, 3), "DE", business_days_only=False)


def test_holidays_are_cached_per_country_and_year():
    assert holidays_for("DE", 2025) is holidays_for("DE", 2025)


def test_business_day_arithmetic():
    assert next_business_day(date(2025, 10, 3), "DE") == date(2025, 10, 6)
    assert next_business_day(date(2025, 10, 6), "DE") == date(2025, 10, 6)
    assert add_business_days(date(2025, 10, 2), 1, "DE") == date(2025, 10, 6)
    assert add_business_days(date(2025, 10, 2), 0, "DE") == date(2025, 10, 2)
    assert business_days_between(date(2025, 10, 2), date(2025, 10, 9), "DE") == 4


@pytest.mark.parametrize(("when", "expected"), [
    (date(2025, 10, 3), datetime(2025, 10, 6, 7, 0, tzinfo=UTC)),  # holiday -> Monday 09:00 CEST
    (datetime(2025, 10, 6, 5, 0, tzinfo=UTC), datetime(2025, 10, 6, 7, 0, tzinfo=UTC)),  # 07:00 local -> 09:00
    (datetime(2025, 10, 6, 10, 30, tzinfo=UTC), datetime(2025, 10, 6, 10, 30, tzinfo=UTC)),  # inside: now
    (datetime(2025, 10, 6, 15, 0, tzinfo=UTC), datetime(2025, 10, 7, 7, 0, tzinfo=UTC)),  # 17:00 local: closed
    (datetime(2025, 10, 31, 16, 0, tzinfo=UTC), datetime(2025, 11, 3, 8, 0, tzinfo=UTC)),  # Fri eve -> Mon (CET)
])
def test_next_send_time(when, expected):
    assert next_send_time(when, BERLIN, "DE", WINDOW) == expected


def test_next_send_time_rejects_naive_datetimes():
    with pytest.raises(ValueError, match="aware"):
        next_send_time(datetime(2025, 10, 6, 10), BERLIN, "DE", WINDOW)


def test_window_is_local_time_across_dst():
    # 09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    assert next_send_time(date(2025, 3, 28), BERLIN, "DE", WINDOW) == datetime(2025, 3, 28, 8, 0, tzinfo=UTC)
    assert next_send_time(date(2025, 3, 31), BERLIN, "DE", WINDOW) == datetime(2025, 3, 31, 7, 0, tzinfo=UTC)


def test_is_sendable_now():
    custom = SendWindow(time(8, 0), time(12, 0))
    assert is_sendable_now(datetime(2025, 10, 6, 8, 0, tzinfo=UTC), BERLIN, "DE", WINDOW)  # 10:00 local
    assert not is_sendable_now(datetime(2025, 10, 6, 10, 0, tzinfo=UTC), BERLIN, "DE", custom)  # 12:00 local
    assert not is_sendable_now(datetime(2025, 10, 3, 8, 0, tzinfo=UTC), BERLIN, "DE", WINDOW)  # holiday


def test_unknown_timezone():
    assert load_timezone("Pacific/Auckland").key == "Pacific/Auckland"
    for bad in ("Mars/Olympus", "../etc/passwd", ""):
        with pytest.raises(InvalidTimezone):
            load_timezone(bad)
