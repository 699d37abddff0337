"""The dunning decision: a pure function of (invoice, customer, policy, history, now).

Rules, in order:
1. Holds win: kill switch, void, paid, written off, disputed, customer paused, payment plan, promise to pay
   (up to and including the promise date, in the customer's local calendar; `state_of` adds the grace days of
   domain/collections.py). Each is a skip reason. A deduction (part of the invoice disputed) is no hold: the
   rest is chased.
2. The ladder follows the due date and the history, never the balance: a partial payment resets nothing.
   The highest step already sent is the floor; nothing at or below it is sent again, except channels of
   that very step that were not sent yet (a send interrupted between email and SMS).
3. Day one and catch-up never claim what did not happen:
   - The first notice about an invoice already past due (nothing sent for it yet) is the first overdue step
     that presupposes nothing, flagged `first_contact` (the message is a neutral overdue statement); the
     pre-due steps it passes are reported in `skipped_steps` as "superseded", never dropped silently.
   - An invoice more than `max_catch_up_days` overdue when Dunwell first saw it is not chased until a
     collector releases it (skip "needs_review").
   - After that the ladder moves one step at a time. When it is behind (a later step is reached already), the
     next notice waits `min_notice_gap_days` after the last one (or the ladder's own gap, if shorter).
   - A step that presupposes earlier notices (final notice, escalation, credit hold, agency hand-off) needs
     MIN_PRIOR_NOTICES notices really sent and the full gap after the last one; a ladder that cannot get
     there asks for a person (skip "too_few_notices"). Escalation actions come only from the step sent.
4. When: only on a sending day (business day and not a public holiday of the customer's country, unless
   the policy says otherwise), inside the local send window, and at most once a day per customer.
   The sweep decides all of a customer's invoices from one history snapshot and consolidates the "send"
   decisions of one day into one message per customer and step.
5. `next_action_at` is when the invoice next needs attention (for the sweep's index): the next send
   window for a pending step, else the next step's date moved to its first send window; None when the
   ladder is done or a hold is lifted only by an event (payment, dispute resolution, plan end, unpause).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from chalicelib.domain.collections import promise_hold_end
from chalicelib.domain.customer import Customer
from chalicelib.domain.dunning.calendar import (
    InvalidTimezone,
    has_holiday_calendar,
    is_business_day,
    is_holiday,
    load_timezone,
    next_send_time,
)
from chalicelib.domain.dunning.charges import (
    DEFAULT_RATE_TABLE,
    Charge,
    EarlyPaymentDiscount,
    RateTable,
    charges_due,
    early_payment_discount,
)
from chalicelib.domain.dunning.policy import CHANNELS, FALLBACK_CHANNELS, MIN_PRIOR_NOTICES, Channel, Policy, Step
from chalicelib.domain.invoice import Invoice, InvoiceStatus

DecisionAction = Literal["send", "skip", "wait"]


@dataclass(frozen=True, slots=True)
class InvoiceState:
    """The domain invoice plus the dunning-relevant facts kept beside it."""

    invoice: Invoice
    promised_until: date | None = None
    in_plan: bool = False


@dataclass(frozen=True, slots=True)
class History:
    sent: frozenset[tuple[str, str]] = frozenset()  # (step name, channel) already sent for this invoice
    charged_keys: frozenset[str] = frozenset()  # Charge.key values already charged for this invoice
    customer_last_sent_on: date | None = None  # customer's local date of their last message (any invoice)
    last_notice_on: date | None = None  # customer's local date of the last notice about this invoice

    @property
    def notices_sent(self) -> int:
        """Steps of the ladder really sent for this invoice, on any channel."""
        return len({name for name, _channel in self.sent})


@dataclass(frozen=True, slots=True)
class Decision:
    action: DecisionAction
    reason: str
    step: Step | None = None
    channels: tuple[Channel, ...] = ()
    charges: tuple[Charge, ...] = ()
    skipped_steps: tuple[tuple[str, str], ...] = ()  # (step name, reason)
    actions: tuple[str, ...] = ()  # escalation actions: credit_hold, collector_task, ...
    next_action_at: datetime | None = None
    discount: EarlyPaymentDiscount | None = None
    unreachable_channels: tuple[Channel, ...] = ()  # step channels the customer has no contact for
    warnings: tuple[str, ...] = field(default=())
    first_contact: bool = False  # the first notice about an invoice already past due: claims no earlier contact


EARLIEST_UTC_OFFSET = timedelta(hours=14)  # Kiribati (UTC+14): the first place where a day begins


def first_review_at(due_date: date, earliest_step_offset: int) -> datetime:
    """The first moment a step `earliest_step_offset` days from `due_date` could be due anywhere on Earth:
    when a new invoice first needs the sweep's attention."""
    day = due_date + timedelta(days=earliest_step_offset)
    return datetime.combine(day, time(0), UTC) - EARLIEST_UTC_OFFSET


def state_of(invoice: Invoice) -> InvoiceState:
    # A promise holds through its date and the grace days after it; then the sweep settles it (kept or broken).
    return InvoiceState(invoice, promised_until=promise_hold_end(invoice), in_plan=invoice.in_plan)


def history_of(invoice: Invoice, customer_last_sent_on: date | None = None) -> History:
    """What the invoice item records: "<step>:<channel>" sends (other markers, such as actions, have more parts)."""
    sent = frozenset(
        (parts[0], parts[1]) for parts in (entry.split(":") for entry in invoice.reminders_sent) if len(parts) == 2)
    return History(sent=sent, charged_keys=invoice.charge_keys(), customer_last_sent_on=customer_last_sent_on,
                   last_notice_on=invoice.last_notice_on)


def reachable_channels(customer: Customer) -> frozenset[Channel]:
    out: set[Channel] = set()
    if any(c.email and not c.email_suppressed for c in customer.contacts):
        out.add("email")
    if any(c.phone for c in customer.contacts):
        out.add("sms")
    if customer.address is not None:
        out.add("letter")
    return frozenset(out)


def _hold_reason(state: InvoiceState, today: date, customer_paused: bool, kill_switch: bool) -> str | None:
    status = state.invoice.status
    if kill_switch:
        return "kill_switch"
    if status is InvoiceStatus.VOID:
        return "void"
    if status is InvoiceStatus.PAID:
        return "paid"
    if status is InvoiceStatus.WRITTEN_OFF:
        return "written_off"
    if status is InvoiceStatus.DISPUTED:
        return "disputed"
    if customer_paused:
        return "customer_paused"
    if state.in_plan:
        return "in_payment_plan"
    if state.promised_until is not None and today <= state.promised_until:
        return "promised"
    return None


def decide(state: InvoiceState, customer: Customer, policy: Policy, history: History, now_utc: datetime, *,
           customer_paused: bool = False, kill_switch: bool = False,
           rate_table: RateTable = DEFAULT_RATE_TABLE, max_catch_up_days: int | None = None) -> Decision:
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be an aware datetime")
    invoice = state.invoice
    warnings: list[str] = []
    tz_name = customer.timezone or policy.default_timezone
    try:
        tz = load_timezone(tz_name)
    except InvalidTimezone:
        warnings.append(f"customer timezone {tz_name!r} unknown; using {policy.default_timezone}")
        tz = load_timezone(policy.default_timezone)
    country = customer.country
    if country and not has_holiday_calendar(country):
        warnings.append(f"no holiday calendar for country {country!r}; weekends only")
    window, bdo = policy.send_window, policy.business_days_only
    local_now = now_utc.astimezone(tz)
    today = local_now.date()

    def window_on(day: date) -> datetime:
        return next_send_time(day, tz, country, window, bdo)

    steps = policy.steps
    sent_indices = []
    for name, _channel in history.sent:
        index = policy.index_of(name)
        if index is None:
            warnings.append(f"history names step {name!r}, which this policy does not have")
        else:
            sent_indices.append(index)
    floor = max(sent_indices, default=-1)
    reached = [i for i, s in enumerate(steps) if invoice.due_date + timedelta(days=s.offset_days) <= today]
    top = max(reached, default=-1)
    reachable = reachable_channels(customer)

    def earliest(index: int, after: int, last_notice: date | None) -> date:
        """The first day step `index` may go when step `after` was the last sent, on `last_notice`: its own date,
        and never sooner after the last notice than the ladder's gap (capped at the policy's minimum gap), or
        the full minimum gap before a step that presupposes earlier notices."""
        day = invoice.due_date + timedelta(days=steps[index].offset_days)
        if after < 0 or last_notice is None:
            return day
        step = steps[index]
        gap = policy.min_notice_gap_days if step.presupposes_notices else min(
            policy.min_notice_gap_days, step.offset_days - steps[after].offset_days)
        return max(day, last_notice + timedelta(days=gap))

    # The next step on the ladder (sent when its day has come), and the steps it passes on first contact.
    first_contact = False
    passed: tuple[Step, ...] = ()
    candidate: int | None
    if floor >= 0:
        candidate = floor + 1 if floor + 1 < len(steps) else None
        if candidate is not None and top >= 0 and steps[candidate].offset_days <= 0 < steps[top].offset_days:
            # Past due already: a "due soon" or "due today" reminder would be stale; on to the first overdue step.
            later = next((i for i in range(candidate, len(steps)) if steps[i].offset_days > 0), None)
            candidate, passed = later, steps[candidate:later]
    elif top < 0:
        candidate = 0
    elif steps[top].offset_days <= 0:
        candidate, passed = top, steps[:top]  # pre-due: the latest reminder reached, once
    else:
        candidate = next((i for i, s in enumerate(steps) if s.offset_days > 0 and not s.presupposes_notices), None)
        first_contact = candidate is not None and candidate <= top
        passed = steps[:candidate] if first_contact and candidate is not None else ()
    candidate_day = None if candidate is None else earliest(candidate, floor, history.last_notice_on)
    # The floor step itself while some of its reachable channels were never sent (a send interrupted between
    # email and SMS, a phone number added since).
    floor_unfinished = top == floor >= 0 and any(
        (steps[top].name, c) not in history.sent and c in reachable for c in steps[top].channels)
    target: int | None = floor if floor_unfinished else (
        candidate if candidate_day is not None and candidate_day <= today else None)
    next_step_at: datetime | None = None
    if target is not None and target + 1 < len(steps):
        next_step_at = window_on(earliest(target + 1, target, today))
    elif target is None and candidate_day is not None:
        next_step_at = window_on(candidate_day)
    sorted_warnings = tuple(dict.fromkeys(warnings))

    hold = _hold_reason(state, today, customer_paused, kill_switch)
    if hold is not None:
        next_at: datetime | None = None
        pending_at = next_send_time(now_utc, tz, country, window, bdo) if target is not None else next_step_at
        if hold == "kill_switch":
            next_at = pending_at
        elif hold == "promised":
            assert state.promised_until is not None
            # Look again the day the hold ends, even with no step pending: the promise is settled then.
            next_at = window_on(state.promised_until + timedelta(days=1))
        return Decision("skip", hold, next_action_at=next_at, warnings=sorted_warnings)

    if floor < 0 and top >= 0 and steps[top].offset_days > 0 and candidate is None:
        return Decision("skip", "too_few_notices", warnings=(
            *sorted_warnings, "the policy has no overdue step that presupposes nothing: a first notice needs one"))
    if first_contact and max_catch_up_days is not None and not invoice.review_released:
        seen = min(invoice.first_seen_on or today, today)
        if (seen - invoice.due_date).days > max_catch_up_days:
            return Decision("skip", "needs_review", warnings=sorted_warnings)

    if target is None:
        if candidate is None:
            return Decision("wait", "ladder_complete", warnings=sorted_warnings)
        assert candidate_day is not None
        reason = "notice_gap" if candidate <= top else "no_step_due"
        return Decision("wait", reason, next_action_at=next_step_at, warnings=sorted_warnings)

    step = steps[target]
    if step.presupposes_notices and target != floor and history.notices_sent < MIN_PRIOR_NOTICES:
        return Decision("skip", "too_few_notices", step=step, warnings=(
            *sorted_warnings, f"{step.name} presupposes {MIN_PRIOR_NOTICES} earlier notices; "
                              f"{history.notices_sent} sent"))
    channels = tuple(c for c in step.channels if c in reachable and (step.name, c) not in history.sent)
    unreachable = tuple(c for c in step.channels if c not in reachable)
    if not channels and unreachable and not any((step.name, c) in history.sent for c in CHANNELS):
        # Every channel of the step is unreachable (no contact, or a bounced address): use another one.
        channels = tuple(c for c in FALLBACK_CHANNELS if c in reachable and c not in step.channels)
    if not channels:
        return Decision("skip", "no_contact", step=step, unreachable_channels=unreachable,
                        next_action_at=window_on(today + timedelta(days=1)), warnings=sorted_warnings)

    if not is_business_day(today, country, bdo):
        reason = "holiday" if is_holiday(today, country) and today.weekday() < 5 else "weekend"
        return Decision("wait", reason, step=step,
                        next_action_at=next_send_time(now_utc, tz, country, window, bdo), warnings=sorted_warnings)
    if local_now.time() < window.start or local_now.time() >= window.end:
        reason = "before_send_window" if local_now.time() < window.start else "after_send_window"
        return Decision("wait", reason, step=step,
                        next_action_at=next_send_time(now_utc, tz, country, window, bdo), warnings=sorted_warnings)
    if history.customer_last_sent_on is not None and history.customer_last_sent_on >= today:
        return Decision("wait", "customer_contacted_today", step=step,
                        next_action_at=window_on(today + timedelta(days=1)), warnings=sorted_warnings)

    # Statutory compensation and interest accrue without reminders: the passed steps still count for them.
    result = charges_due(invoice, policy, step, history.charged_keys, today, rate_table, entitlement_steps=passed)
    discount = early_payment_discount(invoice, customer.payment_terms, today) if step.offset_days <= 0 else None
    if target == floor:
        reason = "remaining_channels"
    elif first_contact:
        reason = "first_contact"
    elif passed:
        reason = "catch_up"
    else:
        reason = "step_due"
    return Decision(
        "send", reason, step=step, channels=channels, charges=result.charges,
        skipped_steps=tuple((s.name, "superseded") for s in passed), actions=step.actions,
        next_action_at=next_step_at, discount=discount, unreachable_channels=unreachable,
        warnings=tuple(dict.fromkeys((*sorted_warnings, *result.warnings))), first_contact=first_contact,
    )


__all__ = ["CHANNELS", "Decision", "History", "InvoiceState", "decide", "first_review_at", "history_of",
           "reachable_channels", "state_of"]
