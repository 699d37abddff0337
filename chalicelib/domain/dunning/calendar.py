"""When a reminder may go: the customer's timezone, a local send window, business days and holidays.

All functions are pure: the current instant is an argument (an aware datetime), never read from a clock.
Holidays come from the `holidays` package, looked up once per (country, year) and cached. It is imported on first
use (~140 ms): the webhook and stream functions import this module through shared code but never ask for a holiday.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain.customer import Customer
from chalicelib.domain.dunning.policy import Policy, SendWindow
from chalicelib.domain.errors import DomainError

WEEKDAYS = frozenset(range(5))  # Monday..Friday
_MAX_SCAN_DAYS = 400  # a year of holidays cannot hide every business day; a bound keeps loops finite


class InvalidTimezone(DomainError):
    code = "invalid_timezone"


def load_timezone(name: str) -> ZoneInfo:
    """The IANA zone `name`; InvalidTimezone for anything zoneinfo does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise InvalidTimezone(f"{name!r} is not an IANA timezone", field="timezone") from exc


@lru_cache(maxsize=1024)
def holidays_for(country: str, year: int) -> frozenset[date]:
    """Public (national) holidays of `country` (ISO 3166 alpha-2) in `year`; empty if unknown."""
    import holidays

    try:
        calendar = holidays.country_holidays(country.upper(), years=year)
    except NotImplementedError:
        return frozenset()
    return frozenset(calendar.keys())


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())


def has_holiday_calendar(country: str | None) -> bool:
    return bool(country) and str(country).upper() in _supported_countries()


def is_holiday(day: date, country: str | None) -> bool:
    return bool(country) and day in holidays_for(str(country), day.year)


def is_business_day(day: date, country: str | None, business_days_only: bool = True,
                    weekdays: Iterable[int] = WEEKDAYS) -> bool:
    """With `business_days_only` off every day is a sending day (weekends and holidays included)."""
    if not business_days_only:
        return True
    return day.weekday() in frozenset(weekdays) and not is_holiday(day, country)


def next_business_day(day: date, country: str | None, business_days_only: bool = True) -> date:
    """`day` itself if it is a business day, else the first one after it."""
    for n in range(_MAX_SCAN_DAYS):
        candidate = day + timedelta(days=n)
        if is_business_day(candidate, country, business_days_only):
            return candidate
    raise DomainError(f"no business day within {_MAX_SCAN_DAYS} days of {day}")


def add_business_days(day: date, count: int, country: str | None, business_days_only: bool = True) -> date:
    """`day` moved forward by `count` business days (count >= 0); add_business_days(d, 0) == d."""
    if count < 0:
        raise ValueError("count must be >= 0")
    current = day
    for _ in range(count):
        current = next_business_day(current + timedelta(days=1), country, business_days_only)
    return current


def business_days_between(start: date, end: date, country: str | None, business_days_only: bool = True) -> int:
    """Business days d with start < d <= end."""
    return sum(1 for n in range(1, (end - start).days + 1)
               if is_business_day(start + timedelta(days=n), country, business_days_only))


def _window_start_utc(day: date, tz: ZoneInfo, window: SendWindow) -> datetime:
    return datetime.combine(day, window.start, tzinfo=tz).astimezone(UTC)


def next_send_time(when: date | datetime, tz: ZoneInfo, country: str | None, window: SendWindow,
                   business_days_only: bool = True) -> datetime:
    """The earliest instant (UTC) at or after `when` at which a message may go.

    A `date` is a local calendar date: the answer is the window's start on the first sending day on or
    after it. An aware `datetime` is an instant: if it is inside today's window on a sending day it is
    returned as is, before the window it moves to the window's start, after it to the next sending day.
    """
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("next_send_time needs an aware datetime (or a local date)")
        local = when.astimezone(tz)
        today = local.date()
        if is_business_day(today, country, business_days_only):
            if window.start <= local.time() < window.end:
                return when.astimezone(UTC)
            if local.time() < window.start:
                return _window_start_utc(today, tz, window)
        day = next_business_day(today + timedelta(days=1), country, business_days_only)
        return _window_start_utc(day, tz, window)
    day = next_business_day(when, country, business_days_only)
    return _window_start_utc(day, tz, window)


def is_sendable_now(now_utc: datetime, tz: ZoneInfo, country: str | None, window: SendWindow,
                    business_days_only: bool = True) -> bool:
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be an aware datetime")
    local = now_utc.astimezone(tz)
    return is_business_day(local.date(), country, business_days_only) and window.start <= local.time() < window.end


def end_of_day_anywhere(day: date) -> datetime:
    """The last moment of `day` anywhere on Earth (UTC-12): every invoice due for action on that day."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=12)


def customer_tz(customer: Customer, policy: Policy) -> ZoneInfo:
    """The customer's own timezone; the policy's default when it has none or names none that exists."""
    try:
        return load_timezone(customer.timezone or policy.default_timezone)
    except InvalidTimezone:
        return load_timezone(policy.default_timezone)


def window_start(day: date, customer: Customer, policy: Policy) -> datetime:
    """Simulated clock: the start of the customer's send window on `day` (their local time)."""
    tz = customer_tz(customer, policy)
    return datetime.combine(day, policy.send_window.start, tz).astimezone(UTC)
