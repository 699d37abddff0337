"""EventBridge schedule expressions: `rate(...)` and the 6-field AWS `cron(...)`, evaluated in UTC.

`parse("rate(15 minutes)")` or `parse("cron(0 6 ? * MON-FRI *)")` returns a Schedule whose
`next_after(moment)` is the first firing strictly after `moment`. Supported in cron fields: `*`, `?`, numbers,
names (JAN-DEC, SUN-SAT), lists, ranges and steps (`0/15`, `*/5`, `10-50/10`). `L`, `W` and `#` are rejected
with a clear error: add them here if the app ever needs them. Day of week runs 1-7 = SUN-SAT, as in AWS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
SEARCH_DAYS = 366 * 5  # an expression that fires less than once in five years is treated as never firing


class ScheduleError(ValueError):
    """The expression is not a valid (or not a supported) EventBridge schedule expression."""


@dataclass(frozen=True)
class RateSchedule:
    expression: str
    seconds: int

    def next_after(self, moment: datetime, anchor: datetime | None = None) -> datetime:
        """The next tick of a rate counted from `anchor` (AWS counts from the rule's creation)."""
        start = anchor or moment
        if moment < start:
            return start + timedelta(seconds=self.seconds)
        elapsed = (moment - start).total_seconds()
        ticks = int(elapsed // self.seconds) + 1
        return start + timedelta(seconds=ticks * self.seconds)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: `?` (the day of week decides)
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # 1-7 = SUN-SAT; None: `?`
    years: frozenset[int]

    def next_after(self, moment: datetime, anchor: datetime | None = None) -> datetime | None:
        moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
        first_minute = moment + timedelta(minutes=1)
        day = first_minute.date()
        for _ in range(SEARCH_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                        if candidate >= first_minute:
                            return candidate
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days_of_month is not None and day.day not in self.days_of_month:
            return False
        aws_weekday = day.isoweekday() % 7 + 1  # Monday=1..Sunday=7 -> SUN=1..SAT=7
        return self.days_of_week is None or aws_weekday in self.days_of_week


Schedule = RateSchedule | CronSchedule

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")


def parse(expression: str) -> Schedule:
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            raise ScheduleError(f"{expression}: the rate must be a positive whole number")
        if (value == 1) != (not unit.endswith("s")):
            raise ScheduleError(f"{expression}: AWS wants a singular unit for 1 and a plural one otherwise")
        return RateSchedule(expression, value * RATE_UNITS[unit.rstrip("s")])
    cron = _CRON.match(text)
    if not cron:
        raise ScheduleError(f"{expression}: expected rate(N unit) or cron(min hour dom month dow year)")
    return _parse_cron(expression, cron.group(1).split())


def _parse_cron(expression: str, fields: list[str]) -> CronSchedule:
    if len(fields) != 6:
        raise ScheduleError(f"{expression}: an AWS cron has 6 fields (min hour day-of-month month day-of-week year)")
    minute, hour, dom, month, dow, year = fields
    for name, value in (("day-of-month", dom), ("day-of-week", dow)):
        residue = re.sub("|".join(WEEKDAYS), "", value.upper())  # WED holds a W
        if any(mark in residue for mark in ("L", "W", "#")):
            raise ScheduleError(f"{expression}: {name} '{value}' uses L, W or #, which the local scheduler rejects")
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
    return CronSchedule(
        expression=expression,
        minutes=_field(expression, minute, 0, 59),
        hours=_field(expression, hour, 0, 23),
        days_of_month=None if dom == "?" else _field(expression, dom, 1, 31),
        months=_field(expression, month, 1, 12, MONTHS),
        days_of_week=None if dow == "?" else _field(expression, dow, 1, 7, WEEKDAYS),
        years=_field(expression, year, 1970, 2199),
    )


def _field(expression: str, text: str, low: int, high: int, names: tuple[str, ...] = ()) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        values.update(_part(expression, part, low, high, names))
    return frozenset(values)


def _part(expression: str, part: str, low: int, high: int, names: tuple[str, ...]) -> range:
    base, _, step_text = part.partition("/")
    step = _number(expression, step_text, 1, high - low + 1, ()) if step_text else 1
    if base == "*":
        start, end = low, high
    elif "-" in base:
        first, _, last = base.partition("-")
        start, end = _number(expression, first, low, high, names), _number(expression, last, low, high, names)
        if start > end:
            raise ScheduleError(f"{expression}: range '{base}' runs backwards")
    else:
        start = _number(expression, base, low, high, names)
        end = high if step_text else start  # "0/15" means from 0 every 15
    return range(start, end + 1, step)


def _number(expression: str, text: str, low: int, high: int, names: tuple[str, ...]) -> int:
    token = text.strip().upper()
    if token in names:
        return names.index(token) + low
    if not token.isdigit():
        raise ScheduleError(f"{expression}: '{text}' is not a number or a name in this field")
    value = int(token)
    if not low <= value <= high:
        raise ScheduleError(f"{expression}: {value} is outside {low}-{high}")
    return value
