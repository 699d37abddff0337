"""The point-in-time ledger: what an invoice change moved, and on which day; those movements summed per period.

A change of an invoice (its state before and after, and the day it takes effect) becomes movements: flows
(counters in minor units or counts, see FLOWS) and `by_due`, the change of the open balance per due date. They
are summed per period at three levels, `Y#2025`, `M#2025-03` and `D#2025-03-14`, per scope (a currency, and a
customer in that currency). The cumulative sum up to the end of day t, `Aggregates.at(t)`, is then a sum of a
few periods: every year before t's year, the months of that year before t's month, the days of t's month up to
t (whole months and years where t ends one). It reads only movements effective on or before t, so a figure as
of t never changes when movements effective later arrive, whenever they are recorded.

AR(t) is the sum of `by_due` at t; its part with due date on or after t is current AR(t).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from chalicelib.domain.invoice import Invoice, InvoiceStatus
from chalicelib.domain.money import Money

# Flows: money in minor units of the scope's currency unless the name says count or days.
SALES = "sales"  # invoice totals issued (an amendment's change; a void takes the total back)
CREDITED = "credited"  # credit notes applied (they subtract from sales)
COLLECTED = "collected"  # payments (refunds and chargebacks negative)
WRITTEN_OFF = "written_off"
CHARGED = "charged"  # late fees, compensation, interest
SETTLED_AMOUNT = "settled_amount"  # totals of invoices paid off
SETTLED_AMOUNT_DAYS = "settled_amount_days"  # total x days late, summed
SETTLED_COUNT = "settled_count"
ON_TIME_COUNT = "on_time_count"
PROMISES_KEPT = "promises_kept"
PROMISES_BROKEN = "promises_broken"
DEDUCTIONS = "deductions"  # the change of what open disputes hold back
DISCOUNTED = "discounted"  # early-payment discounts booked (a reduction like a credit: they subtract from sales)
FLOWS = (SALES, CREDITED, COLLECTED, WRITTEN_OFF, CHARGED, SETTLED_AMOUNT, SETTLED_AMOUNT_DAYS, SETTLED_COUNT,
         ON_TIME_COUNT, PROMISES_KEPT, PROMISES_BROKEN, DEDUCTIONS, DISCOUNTED)


@dataclass
class Totals:
    """Flows and open-balance changes by due date, summed (one period, or everything up to a day)."""

    flows: dict[str, int] = field(default_factory=dict)
    by_due: dict[date, int] = field(default_factory=dict)

    def add(self, other: Totals, sign: int = 1) -> Totals:
        for name, value in other.flows.items():
            self.flows[name] = self.flows.get(name, 0) + sign * value
        for due, value in other.by_due.items():
            self.by_due[due] = self.by_due.get(due, 0) + sign * value
        return self

    def flow(self, name: str) -> int:
        return self.flows.get(name, 0)

    @property
    def balance(self) -> int:
        return sum(self.by_due.values())

    def current(self, t: date) -> int:
        """The part of the balance not yet past due at t (due on or after t)."""
        return sum(v for due, v in self.by_due.items() if due >= t)

    def compact(self) -> Totals:
        return Totals({k: v for k, v in self.flows.items() if v},
                      {d: v for d, v in self.by_due.items() if v})


@dataclass(frozen=True)
class Movement:
    on: date
    customer_id: str
    currency: str
    totals: Totals


def _effective_total(invoice: Invoice | None) -> int:
    return 0 if invoice is None or invoice.void else invoice.total.minor


def _minor(invoice: Invoice | None, name: str) -> int:
    if invoice is None:
        return 0
    if name == COLLECTED:
        return invoice.paid.minor
    if name == CREDITED:
        return invoice.credited.minor
    if name == WRITTEN_OFF:
        return invoice.written_off.minor
    if name == DISCOUNTED:
        return invoice.discounted.minor
    return 0


def _balance(invoice: Invoice | None) -> int:
    return 0 if invoice is None else invoice.balance.minor


def _deduction(invoice: Invoice | None) -> int:
    return 0 if invoice is None else invoice.disputed_open.minor


def _settled(invoice: Invoice | None) -> bool:
    return invoice is not None and invoice.status is InvoiceStatus.PAID


def movements(before: Invoice | None, after: Invoice | None, effective_on: date) -> list[Movement]:
    """What one change of an invoice moved, and when: a pure function of the two states and the change's effective
    date. Charges take effect on their own `charged_on`; everything else on `effective_on`."""
    subject = after or before
    if subject is None:
        return []
    main = Totals()
    flows = main.flows
    flows[SALES] = _effective_total(after) - _effective_total(before)
    for name in (COLLECTED, CREDITED, WRITTEN_OFF, DISCOUNTED):
        flows[name] = _minor(after, name) - _minor(before, name)
    flows[DEDUCTIONS] = _deduction(after) - _deduction(before)
    if before is not None:
        main.by_due[before.due_date] = -_balance(before)
    if after is not None:
        main.by_due[after.due_date] = main.by_due.get(after.due_date, 0) + _balance(after)
    # Settled by a change seen here; an invoice imported already paid has no known pay date, so no days late.
    if before is not None and _settled(after) and not _settled(before):
        assert after is not None
        days_late = (effective_on - after.due_date).days
        amount = after.total.minor
        flows[SETTLED_AMOUNT] = amount
        flows[SETTLED_AMOUNT_DAYS] = amount * days_late
        flows[SETTLED_COUNT] = 1
        flows[ON_TIME_COUNT] = 1 if days_late <= 0 else 0
    if before is not None and before.promised_until is not None and (after is None or after.promised_until is None):
        if after is not None and after.broken_promise == before.promised_until:
            flows[PROMISES_BROKEN] = 1
        elif after is not None and not (after.in_plan and not before.in_plan):  # moved into a plan: neither
            flows[PROMISES_KEPT] = 1
    result: list[Movement] = []
    # Charges: each new one on its own day; it raised the balance at the invoice's due date.
    known = {c.key for c in before.charges} if before is not None else set()
    now_keys = {c.key for c in after.charges} if after is not None else set()
    due = subject.due_date
    for charge in (after.charges if after is not None else ()):
        if charge.key in known:
            continue
        charged = Totals({CHARGED: charge.amount.minor})
        charged.by_due[due] = charge.amount.minor
        main.by_due[due] = main.by_due.get(due, 0) - charge.amount.minor
        result.append(Movement(charge.charged_on, subject.customer_id, subject.currency, charged))
    for charge in (before.charges if before is not None else ()):
        if charge.key not in now_keys:  # a charge taken back (never today, but not lost if it happens)
            flows[CHARGED] = flows.get(CHARGED, 0) - charge.amount.minor
    compact = main.compact()
    if compact.flows or compact.by_due:
        result.insert(0, Movement(effective_on, subject.customer_id, subject.currency, compact))
    return [m for m in result if m.totals.compact().flows or m.totals.compact().by_due]


def baseline_states(invoice: Invoice, recorded_on: date) -> list[tuple[Invoice | None, Invoice, date]]:
    """An invoice first seen in the state it is in now (a ledger older than the projection), as two changes:
    issued on its issue date (nothing paid, credited, charged or disputed), then brought to its state on
    `recorded_on` (the day it last changed, the best date known for what happened to it since)."""
    zero = Money.zero(invoice.currency)
    issued = replace(invoice, paid_in_source=zero, applied_payments=zero, credited=zero, written_off=zero,
                     discount_granted=None, discount_payment_id=None, charges=(), disputed=False,
                     disputed_amount=None, promised_until=None, promised_amount=None,
                     promise_balance=None, broken_promise=None, in_plan=False, version=invoice.version - 1)
    return [(None, issued, invoice.issue_date), (issued, invoice, max(recorded_on, invoice.issue_date))]


# Due dates more than 90 days before the last day a period item is read for are all "over 90 days past due" to every
# report that reads it, so the item keeps them as one: LONG_PAST_DUE (bounded items: a year's item holds the due
# dates of its last quarter, not of the whole year).
LONG_PAST_DUE = date.min
LONG_PAST_DUE_DAYS = 90


def period_end(key: str) -> date:
    """The last day of a period: a report reads its item only for days from then on."""
    level, year = parse_key(key)
    if level == "Y":
        return date(year, 12, 31)
    if level == "M":
        return month_end(year, int(key[7:9]))
    return date.fromisoformat(key[2:])


def collapsed(by_due: Mapping[date, int], read_from: date) -> dict[date, int]:
    """`by_due` as an item read only for days on or after `read_from` keeps it: due dates over 90 days before it,
    summed as LONG_PAST_DUE. The balance, current AR and aging at any such day are unchanged."""
    floor = read_from - timedelta(days=LONG_PAST_DUE_DAYS)
    out: dict[date, int] = {}
    for due, amount in by_due.items():
        key = LONG_PAST_DUE if due < floor else due
        out[key] = out.get(key, 0) + amount
    return out


def currency_scope(currency: str) -> str:
    """The scope of everything in one currency."""
    return f"cur#{currency}"


def customer_scope(customer_id: str, currency: str) -> str:
    """The scope of one customer's invoices in one currency."""
    return f"cust#{customer_id}#{currency}"


# ---- periods --------------------------------------------------------------------------------------------------

def year_key(year: int) -> str:
    return f"Y#{year:04d}"


def month_key(year: int, month: int) -> str:
    return f"M#{year:04d}-{month:02d}"


def day_key(day: date) -> str:
    return f"D#{day.isoformat()}"


def period_keys(day: date) -> tuple[str, str, str]:
    """The year, month and day a movement on `day` is summed in."""
    return year_key(day.year), month_key(day.year, day.month), day_key(day)


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def is_month_end(day: date) -> bool:
    return day == month_end(day.year, day.month)


def prefix_keys(t: date) -> tuple[int, list[str]]:
    """Everything effective up to the end of day t is: every year before the returned year, plus the returned
    month and day periods (whole months, then the days of t's month; a year's or month's last day takes the
    whole year or month)."""
    if t.month == 12 and t.day == 31:
        return t.year + 1, []
    whole_months = t.month if is_month_end(t) else t.month - 1
    keys = [month_key(t.year, m) for m in range(1, whole_months + 1)]
    if not is_month_end(t):
        keys += [day_key(date(t.year, t.month, d)) for d in range(1, t.day + 1)]
    return t.year, keys


def parse_key(key: str) -> tuple[str, int]:
    """('Y' | 'M' | 'D', year) of a period key."""
    return key[0], int(key[2:6])


@dataclass
class Aggregates:
    """Period sums of one scope, as loaded: `years` every year period there is, `periods` the month and day
    periods loaded (a period not loaded counts as nothing moved: load what `prefix_keys` names)."""

    years: Mapping[int, Totals]
    periods: Mapping[str, Totals]

    def at(self, t: date) -> Totals:
        """Everything effective up to the end of day t."""
        bound, keys = prefix_keys(t)
        total = Totals()
        for year, totals in self.years.items():
            if year < bound:
                total.add(totals)
        for key in keys:
            found = self.periods.get(key)
            if found is not None:
                total.add(found)
        return total

    def between(self, start: date, end: date) -> Totals:
        """What moved from the start of `start` to the end of `end`."""
        return self.at(end).add(self.at(start - timedelta(days=1)), sign=-1)


def summed(items: Iterable[tuple[str, Totals]]) -> dict[str, Totals]:
    """Period totals keyed by period key."""
    out: dict[str, Totals] = {}
    for key, totals in items:
        out.setdefault(key, Totals()).add(totals)
    return out


def months_between(start: date, end: date) -> Iterator[tuple[date, date]]:
    """The calendar months from start's to end's, each clipped to [start, end]."""
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        first, last = date(year, month, 1), month_end(year, month)
        yield max(first, start), min(last, end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
