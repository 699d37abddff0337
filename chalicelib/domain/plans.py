"""Payment plans, pure: a customer agrees to pay chosen invoices in instalments. Takes `today` / `now` and data,
returns new values; no I/O, no clock.

- **Making one.** The plan covers the open balances of its invoices (same customer, one currency, outstanding,
  no open dispute, not in another plan). The instalments are given explicitly (their sum must be the total) or
  as n equal monthly ones (the minor units left over go to the first instalments). The invoices leave the
  dunning ladder (`in_plan`); a promise to pay on one of them is replaced by the plan.
- **Payments apply to instalments in order.** Nothing is written to the plan when money arrives: its progress is
  derived from its invoices. What was paid on them since the plan was made covers the instalments in due-date
  order (an early or large payment covers the next ones too). Credits and write-offs since the plan reduce
  what is owed, from the last instalment backwards: the schedule ends earlier, the next payment stays as agreed.
- **Reminders per instalment.** `REMIND_BEFORE_DAYS` before the due date, on it, and `OVERDUE_REMINDER_DAYS`
  after it, each once (catch-up sends only the latest stage reached).
- **Ends.** All its invoices settled: completed. An instalment still unpaid `grace_days` after its due date:
  broken. The collector may cancel it. Either way the invoices go back to the ladder, which resumes at the
  step each had reached (its history is kept), for what is left.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from chalicelib.domain.cash_application import OpenItem, PlanTarget
from chalicelib.domain.errors import InvalidMoney, NotAllowed
from chalicelib.domain.invoice import OUTSTANDING_STATUSES, Invoice, InvoiceStatus
from chalicelib.domain.money import Money

DEFAULT_GRACE_DAYS: Final = 5
MAX_GRACE_DAYS: Final = 30
REMIND_BEFORE_DAYS: Final = 3
OVERDUE_REMINDER_DAYS: Final = 2
MAX_INSTALMENTS: Final = 36
MAX_PLAN_INVOICES: Final = 40  # one transaction writes the plan, its invoices and their events (100 items)
MAX_PLAN_DAYS: Final = 3 * 366  # the last instalment at most about three years ahead
STAGES: Final = ("before", "due", "overdue")


class PlanStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    BROKEN = "broken"
    CANCELLED = "cancelled"


class InstalmentState(StrEnum):
    PAID = "paid"
    UPCOMING = "upcoming"
    DUE = "due"  # due today
    OVERDUE = "overdue"  # past due, within the grace
    MISSED = "missed"  # past due and grace: breaks the plan


@dataclass(frozen=True, slots=True)
class Instalment:
    number: int  # 1-based, in due-date order
    due_date: date
    amount: Money


@dataclass(frozen=True, slots=True)
class PlanInvoice:
    """An invoice as it was when the plan was made: what was owed, paid and reduced (credited, written off,
    discounted)."""

    invoice_id: str
    number: str
    balance: Money
    paid: Money
    reduced: Money

    @classmethod
    def of(cls, invoice: Invoice) -> PlanInvoice:
        return cls(invoice.invoice_id, invoice.number, invoice.balance, invoice.paid,
                   invoice.credited + invoice.written_off + invoice.discounted)


@dataclass(frozen=True, slots=True)
class PaymentPlan:
    plan_id: str
    customer_id: str
    currency: str
    invoices: tuple[PlanInvoice, ...]
    instalments: tuple[Instalment, ...]
    grace_days: int
    created_at: datetime
    created_by: str
    note: str | None = None
    status: PlanStatus = PlanStatus.ACTIVE
    reminders_sent: frozenset[str] = frozenset()  # "<instalment>:<stage>:<channel>"
    next_action_at: datetime | None = None  # when the plan sweep should look at it again
    ended_at: datetime | None = None
    ended_by: str | None = None
    end_reason: str | None = None
    version: int = 0

    @property
    def total(self) -> Money:
        return _sum((i.amount for i in self.instalments), self.currency)

    @property
    def invoice_ids(self) -> tuple[str, ...]:
        return tuple(i.invoice_id for i in self.invoices)

    def ended(self, status: PlanStatus, actor: str, reason: str, now: datetime) -> PaymentPlan:
        if self.status is not PlanStatus.ACTIVE:
            raise NotAllowed(f"payment plan {self.plan_id} is {self.status.value} already", field="plan_id")
        return replace(self, status=status, ended_at=now, ended_by=actor, end_reason=reason, next_action_at=None)


# ---- making a plan ----------------------------------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or the month's last day (Jan 31 + 1 month: Feb 28/29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def equal_instalments(total: Money, count: int, first_due: date) -> tuple[Instalment, ...]:
    """`count` monthly instalments from `first_due` summing exactly to `total`: the minor units that do not
    divide evenly go one each to the first instalments (100.00 in 3: 33.34, 33.33, 33.33)."""
    if not 1 <= count <= MAX_INSTALMENTS:
        raise NotAllowed(f"a plan has 1 to {MAX_INSTALMENTS} instalments", field="count")
    share, extra = divmod(total.minor, count)
    if share == 0:
        raise InvalidMoney(f"{total} cannot be paid in {count} instalments of at least one minor unit",
                           field="count")
    return tuple(Instalment(n + 1, add_months(first_due, n),
                            Money.from_minor(share + (1 if n < extra else 0), total.currency))
                 for n in range(count))


def schedule(rows: Sequence[tuple[date, Money]]) -> tuple[Instalment, ...]:
    """Explicit instalments, numbered in due-date order."""
    ordered = sorted(rows, key=lambda row: row[0])
    return tuple(Instalment(n + 1, day, amount) for n, (day, amount) in enumerate(ordered))


def create_plan(plan_id: str, customer_id: str, invoices: Sequence[Invoice], instalments: Sequence[Instalment],
                grace_days: int, note: str | None, actor: str, now: datetime, today: date
                ) -> tuple[PaymentPlan, list[Invoice]]:
    """The plan, and its invoices taken off the ladder. `today` is the customer's date."""
    if not invoices:
        raise NotAllowed("a plan needs at least one invoice", field="invoice_ids")
    if len(invoices) > MAX_PLAN_INVOICES:
        raise NotAllowed(f"a plan covers at most {MAX_PLAN_INVOICES} invoices", field="invoice_ids")
    if len({i.invoice_id for i in invoices}) != len(invoices):
        raise NotAllowed("an invoice is listed twice", field="invoice_ids")
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise NotAllowed(f"grace_days is 0 to {MAX_GRACE_DAYS}", field="grace_days")
    currency = invoices[0].currency
    for invoice in invoices:
        if invoice.customer_id != customer_id:
            raise NotAllowed(f"invoice {invoice.number} belongs to another customer", field="invoice_ids")
        if invoice.currency != currency:
            raise NotAllowed(f"a plan is in one currency: {invoice.number} is in {invoice.currency}, "
                             f"{invoices[0].number} in {currency}", field="invoice_ids")
        if invoice.status not in OUTSTANDING_STATUSES or invoice.balance.is_zero:
            raise NotAllowed(f"invoice {invoice.number} is {invoice.status.value}: nothing is open",
                             field="invoice_ids")
        if invoice.status is InvoiceStatus.DISPUTED or invoice.dispute_id is not None:
            raise NotAllowed(f"invoice {invoice.number} has an open dispute: resolve it first", field="invoice_ids")
        if invoice.in_plan:
            raise NotAllowed(f"invoice {invoice.number} is in payment plan {invoice.plan_id} already",
                             field="invoice_ids")
    owed = _sum((i.balance for i in invoices), currency)
    _check_schedule(instalments, owed, today)
    plan = PaymentPlan(plan_id, customer_id, currency, tuple(PlanInvoice.of(i) for i in invoices),
                       tuple(instalments), grace_days, now, actor, note)
    planned = [replace(i.without_promise(), in_plan=True, plan_id=plan_id, broken_promise=None,
                       next_action_at=None) for i in invoices]
    return plan, planned


def _check_schedule(instalments: Sequence[Instalment], owed: Money, today: date) -> None:
    if not 1 <= len(instalments) <= MAX_INSTALMENTS:
        raise NotAllowed(f"a plan has 1 to {MAX_INSTALMENTS} instalments", field="instalments")
    days = [i.due_date for i in instalments]
    if len(set(days)) != len(days):
        raise NotAllowed("two instalments fall on the same day", field="instalments")
    if min(days) < today:
        raise NotAllowed(f"the first instalment ({min(days)}) is in the past", field="instalments")
    if max(days) > today + timedelta(days=MAX_PLAN_DAYS):
        raise NotAllowed(f"the last instalment is at most {MAX_PLAN_DAYS} days ahead", field="instalments")
    for instalment in instalments:
        if instalment.amount.currency != owed.currency:
            raise InvalidMoney(f"instalments are in {owed.currency}, the invoices' currency", field="instalments")
        if instalment.amount.amount <= 0:
            raise InvalidMoney("every instalment is more than zero", field="instalments")
    total = _sum((i.amount for i in instalments), owed.currency)
    if total != owed:
        raise InvalidMoney(f"the instalments sum to {total}; the invoices' open balance is {owed}",
                           field="instalments")


# ---- progress: what has been paid, what is due -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class InstalmentProgress:
    instalment: Instalment
    amount: Money  # after credits and write-offs since the plan (taken from the last instalments)
    covered: Money  # paid towards it, in order
    state: InstalmentState

    @property
    def remaining(self) -> Money:
        return self.amount - self.covered


@dataclass(frozen=True, slots=True)
class PlanProgress:
    paid: Money  # paid on the plan's invoices since it was made
    reduced: Money  # credited, written off or discounted since
    outstanding: Money  # still open on the plan's invoices
    instalments: tuple[InstalmentProgress, ...]
    settled: bool  # every invoice settled

    @property
    def next_unpaid(self) -> InstalmentProgress | None:
        return next((i for i in self.instalments if not i.remaining.is_zero), None)

    @property
    def missed(self) -> InstalmentProgress | None:
        return next((i for i in self.instalments if i.state is InstalmentState.MISSED), None)


def progress(plan: PaymentPlan, current: Mapping[str, Invoice], today: date, *, missing_paid: bool = False
             ) -> PlanProgress:
    """Where the plan stands on `today` (the customer's date), from its invoices as they are now. An invoice
    missing from `current` counts as it was when the plan was made, or (`missing_paid`) as paid in full."""
    zero = Money.zero(plan.currency)
    paid = reduced = outstanding = zero
    for opening in plan.invoices:
        invoice = current.get(opening.invoice_id)
        if invoice is None:
            if missing_paid:
                paid += opening.balance
            else:
                outstanding += opening.balance
            continue
        if invoice.void:  # cancelled in the ERP: nothing of it is owed any more
            reduced += opening.balance
            continue
        paid += invoice.paid - opening.paid
        reduced += invoice.credited + invoice.written_off + invoice.discounted - opening.reduced
        outstanding += invoice.balance
    paid, reduced = max(paid, zero), max(reduced, zero)
    amounts = _reduce_from_the_end([i.amount for i in plan.instalments], reduced)
    left = paid
    rows = []
    for instalment, amount in zip(plan.instalments, amounts, strict=True):
        covered = min(left, amount)
        left -= covered
        rows.append(InstalmentProgress(instalment, amount, covered,
                                       _state(instalment, amount - covered, plan.grace_days, today)))
    settled = all(current[i.invoice_id].balance.is_zero if i.invoice_id in current else missing_paid
                  for i in plan.invoices)
    return PlanProgress(paid, reduced, outstanding, tuple(rows), settled)


def _reduce_from_the_end(amounts: list[Money], reduction: Money) -> list[Money]:
    out = list(amounts)
    left = reduction
    for index in range(len(out) - 1, -1, -1):
        if left.is_zero:
            break
        taken = min(left, out[index])
        out[index] -= taken
        left -= taken
    return out


def _state(instalment: Instalment, remaining: Money, grace_days: int, today: date) -> InstalmentState:
    if remaining.is_zero:
        return InstalmentState.PAID
    if today < instalment.due_date:
        return InstalmentState.UPCOMING
    if today == instalment.due_date:
        return InstalmentState.DUE
    if today <= instalment.due_date + timedelta(days=grace_days):
        return InstalmentState.OVERDUE
    return InstalmentState.MISSED


# ---- what the sweep does with a plan -----------------------------------------------------------------------

class PlanAction(StrEnum):
    REMIND = "remind"
    BREAK = "break"
    COMPLETE = "complete"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class PlanDecision:
    action: PlanAction
    reason: str
    instalment: InstalmentProgress | None = None
    stage: str | None = None
    next_check: date | None = None  # the customer's date to look again (after a reminder is sent, too)


def decide_plan(plan: PaymentPlan, state: PlanProgress, today: date) -> PlanDecision:
    if plan.status is not PlanStatus.ACTIVE:
        return PlanDecision(PlanAction.WAIT, f"plan_{plan.status.value}")
    if state.settled:
        return PlanDecision(PlanAction.COMPLETE, "invoices_settled")
    missed = state.missed
    if missed is not None:
        return PlanDecision(PlanAction.BREAK, "instalment_missed", missed)
    unpaid = state.next_unpaid
    if unpaid is None:
        # Every instalment is paid, yet something is open (an amendment raised a total): the plan is done and
        # the ladder chases the rest.
        return PlanDecision(PlanAction.COMPLETE, "instalments_paid")
    due = unpaid.instalment.due_date
    stage = _stage(due, today)
    checks = [due - timedelta(days=REMIND_BEFORE_DAYS), due, due + timedelta(days=OVERDUE_REMINDER_DAYS),
              due + timedelta(days=plan.grace_days + 1)]
    next_check = min(day for day in checks if day > today)
    if stage is not None and not any(m.startswith(f"{unpaid.instalment.number}:{stage}:")
                                     for m in plan.reminders_sent):
        return PlanDecision(PlanAction.REMIND, f"instalment_{stage}", unpaid, stage, next_check)
    return PlanDecision(PlanAction.WAIT, "instalment_not_due" if stage is None else "reminded",
                        unpaid, stage, next_check)


def _stage(due: date, today: date) -> str | None:
    if today >= due + timedelta(days=OVERDUE_REMINDER_DAYS):
        return "overdue"
    if today >= due:
        return "due"
    if today >= due - timedelta(days=REMIND_BEFORE_DAYS):
        return "before"
    return None


def instalment_json(row: InstalmentProgress) -> dict[str, str | int]:
    return {"number": row.instalment.number, "due_date": row.instalment.due_date.isoformat(),
            "amount": row.amount.to_api(), "paid": row.covered.to_api(), "remaining": row.remaining.to_api(),
            "state": row.state.value}


def plan_target(plan: PaymentPlan, open_invoices: Mapping[str, Invoice], today: date) -> PlanTarget | None:
    """What cash application needs to recognise an instalment payment: the amounts that pay the next instalment,
    the next two, ..., or all that is left; None when the plan is not active or nothing is due on it. The plan's
    invoices not among `open_invoices` count as paid."""
    if plan.status is not PlanStatus.ACTIVE:
        return None
    current = open_invoices
    state = progress(plan, current, today, missing_paid=True)
    amounts: list[Money] = []
    running = Money.zero(plan.currency)
    for row in state.instalments:
        if row.remaining.is_zero:
            continue
        running += row.remaining
        amounts.append(running)
    if not state.outstanding.is_zero and state.outstanding not in amounts:
        amounts.append(state.outstanding)
    if not amounts:
        return None
    items = tuple(OpenItem.of(current[i]) for i in plan.invoice_ids if i in current)
    return PlanTarget(plan.plan_id, plan.customer_id, items, tuple(amounts))


def released(invoice: Invoice, plan_id: str, now: datetime) -> Invoice:
    """The invoice back on the ladder: the sweep decides about it now, at the step its history says."""
    if invoice.plan_id != plan_id:
        return invoice
    back = replace(invoice, in_plan=False, plan_id=None)
    return back.needs_review(now) if back.status in OUTSTANDING_STATUSES else back


def _sum(amounts: Iterable[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for amount in amounts:
        total += amount
    return total
