"""Use cases of payment plans: make one over chosen invoices, show where it stands, cancel it, and the plan sweep
that reminds of instalments and ends plans that are settled or broken. The rules are in domain/plans.py.

The plan sweep runs with the dunning sweep, before it (a plan that breaks puts its invoices back on the ladder,
and the invoice sweep that follows decides about them at once). It reads only the plans due for a look, from
the sparse `due_for_action` index of the plans table, with their customers and invoices.

Exactly once per (plan, instalment, stage, channel), by services/send_once.py: a claim keyed
`plan#<plan>#<instalment>#<stage>#<channel>` is written with a check that the plan is still active (a plan
cancelled meanwhile gets nothing), then the message goes, then the plan records the stage's channels at once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.domain.customer import Customer, destination_for
from chalicelib.domain.dunning.calendar import (
    customer_tz,
    end_of_day_anywhere,
    is_sendable_now,
    next_send_time,
    window_start,
)
from chalicelib.domain.dunning.policy import Policy
from chalicelib.domain.errors import NotAllowed, NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.masking import mask
from chalicelib.domain.money import Money
from chalicelib.domain.plans import (
    DEFAULT_GRACE_DAYS,
    InstalmentProgress,
    PaymentPlan,
    PlanAction,
    PlanDecision,
    PlanProgress,
    PlanStatus,
    create_plan,
    decide_plan,
    equal_instalments,
    instalment_json,
    progress,
    released,
    schedule,
)
from chalicelib.services.ports import (
    CLAIM_LEASE,
    RETRY_AFTER_FAILURE,
    Alerts,
    AuditEvent,
    Claim,
    Claims,
    Customers,
    DunningSettings,
    OutgoingEmail,
    Sender,
    Task,
    TaskStore,
    VersionConflict,
    conflict_retries,
    flag_unconfirmed,
)
from chalicelib.services.send_once import Attempt, Delivered, Outcome, SendOnce
from chalicelib.services.way_to_pay import never_refused

SYSTEM = "system:plans"


# ---- ports -----------------------------------------------------------------------------------------

class Plans(Protocol):
    def get(self, plan_id: str) -> PaymentPlan | None: ...
    def save(self, plan: PaymentPlan, invoices: Sequence[Invoice], events: Sequence[AuditEvent],
             now: datetime) -> tuple[PaymentPlan, list[Invoice]]:
        """All or nothing, each record at the version read; raises VersionConflict."""
    def for_customer(self, customer_id: str, limit: int, cursor: dict[str, Any] | None
                     ) -> tuple[list[PaymentPlan], dict[str, Any] | None]: ...
    def by_status(self, status: str, limit: int, cursor: dict[str, Any] | None
                  ) -> tuple[list[PaymentPlan], dict[str, Any] | None]: ...
    def due(self, until: datetime, limit: int) -> list[PaymentPlan]: ...


class Invoices(Protocol):
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]: ...


class InstalmentRenderer(Protocol):
    def instalment_line(self, plan: PaymentPlan, row: InstalmentProgress, today: date) -> Any: ...
    def email(self, tone: str, customer: Customer, contact: Any, lines: Sequence[Any], today: date,
              deadline: date | None, promise_date: date | None = None,
              payment_reference: str | None = None, portal_url: str | None = None) -> tuple[str, str, str]: ...
    def sms(self, tone: str, customer: Customer, lines: Sequence[Any], today: date, deadline: date | None,
            promise_date: date | None = None, *, portal_url: str | None = None) -> str: ...


# ---- results ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanView:
    plan: PaymentPlan
    progress: PlanProgress
    today: date


@dataclass
class PlanSweepSummary:
    plans_considered: int = 0
    reminders: Counter[str] = field(default_factory=Counter)  # per stage: instalments reminded
    sent: Counter[str] = field(default_factory=Counter)  # per channel: messages
    completed: int = 0
    broken: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failed: list[dict[str, str]] = field(default_factory=list)
    repaired: int = 0
    unconfirmed: int = 0
    more_due: bool = False
    kill_switch: bool = False
    refused: str | None = None  # why nothing may be sent at all (services/way_to_pay.py)

    def to_dict(self) -> dict[str, Any]:
        return {"plans_considered": self.plans_considered, "reminders": dict(sorted(self.reminders.items())),
                "sent": {"email": self.sent["email"], "sms": self.sent["sms"]}, "completed": self.completed,
                "broken": self.broken, "skipped": dict(sorted(self.skipped.items())), "failed": self.failed,
                "repaired": self.repaired, "unconfirmed": self.unconfirmed, "more_due": self.more_due,
                "kill_switch": self.kill_switch, "refused": self.refused}


# ---- the service -----------------------------------------------------------------------------------

class PlanService:
    def __init__(self, plans: Plans, invoices: Invoices, customers: Customers,
                 policy_for: Callable[[str | None], Policy], claims: Claims, sender: Sender,
                 renderer: InstalmentRenderer, tasks: TaskStore, alerts: Alerts, *,
                 settings: Callable[[], DunningSettings] = DunningSettings,
                 clock: Callable[[], datetime] | None = None, new_id: Callable[[], str] | None = None,
                 batch_limit: int = 1000, refusal: Callable[[str], str | None] = never_refused,
                 portal_link: Callable[[str, str, datetime], str | None] | None = None) -> None:
        self.plans = plans
        self.invoices = invoices
        self.customers = customers
        self.policy_for = policy_for
        self.claims = claims
        self.send_once = SendOnce(claims)
        self.sender = sender
        self.renderer = renderer
        self.tasks = tasks
        self.alerts = alerts
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.new_id = new_id or (lambda: f"pln_{uuid.uuid4().hex[:24]}")
        self.batch_limit = batch_limit
        self.refusal = refusal
        self.portal_link = portal_link  # a fresh personal portal link per message (PortalLinks.for_message)

    # ---- the collector's side ------------------------------------------------------------------------

    def create(self, customer_id: str, invoice_ids: Sequence[str], *,
               instalments: Sequence[tuple[date, Decimal]] | None = None, count: int | None = None,
               first_due_date: date | None = None, grace_days: int | None = None, note: str | None = None,
               actor: str, plan_id: str | None = None) -> PlanView:
        """Explicit `instalments`, or `count` equal monthly ones from `first_due_date`. `plan_id` names the plan
        (a plan request's acceptance, retried, finds the plan it made); else a new id."""
        if (instalments is None) == (count is None):
            raise NotAllowed("give either instalments or count (with first_due_date)", field="instalments")
        if count is not None and first_due_date is None:
            raise NotAllowed("count needs first_due_date", field="first_due_date")
        plan_id = plan_id or self.new_id()
        grace = DEFAULT_GRACE_DAYS if grace_days is None else grace_days
        for _attempt in conflict_retries(f"creating a payment plan for customer {customer_id}"):
            now = self.clock()
            customer = self._customer(customer_id)
            policy = self.policy_for(customer.policy_id)
            today = now.astimezone(customer_tz(customer, policy)).date()
            found = self.invoices.get_invoices(invoice_ids)
            missing = [i for i in invoice_ids if i not in found]
            if missing:
                raise NotFound("invoice", missing[0], field="invoice_ids")
            chosen = [found[i] for i in invoice_ids]
            currency = chosen[0].currency
            if instalments is not None:
                rows = schedule([(day, Money.of(amount, currency)) for day, amount in instalments])
            else:
                assert count is not None and first_due_date is not None
                owed = sum((i.balance for i in chosen), Money.zero(currency))
                rows = equal_instalments(owed, count, first_due_date)
            plan, planned = create_plan(plan_id, customer_id, chosen, rows, grace, note, actor, now, today)
            state = progress(plan, {i.invoice_id: i for i in planned}, today)
            first = decide_plan(plan, state, today)
            plan = replace(plan, next_action_at=now if first.action is PlanAction.REMIND
                           else self._send_time(first.next_check, customer, policy))
            events = [AuditEvent(f"customer#{customer_id}", "plan.created", actor, now, plan_id, {
                "plan_id": plan_id, "invoices": [i.number for i in chosen], "currency": currency,
                "total": plan.total.to_api(), "grace_days": grace, "note": note,
                "instalments": [{"number": i.number, "due_date": i.due_date.isoformat(),
                                 "amount": i.amount.to_api()} for i in plan.instalments]})]
            events += [AuditEvent(f"invoice#{i.invoice_id}", "invoice.planned", actor, now, plan_id, {
                "plan_id": plan_id, "balance": i.balance.to_api(), "currency": currency,
                "replaces_promise": found[i.invoice_id].promised_until is not None}) for i in planned]
            try:
                saved, saved_invoices = self.plans.save(plan, planned, events, now)
            except VersionConflict:
                continue  # an invoice changed (a payment, the sweep): decide again from what it is now
            return PlanView(saved, progress(saved, {i.invoice_id: i for i in saved_invoices}, today), today)
        raise AssertionError("unreachable: conflict_retries raises when it runs out")

    def view(self, plan_id: str) -> PlanView:
        plan = self._plan(plan_id)
        customer = self._customer(plan.customer_id)
        today = self.clock().astimezone(customer_tz(customer, self.policy_for(customer.policy_id))).date()
        return PlanView(plan, progress(plan, self.invoices.get_invoices(plan.invoice_ids), today), today)

    def for_customer(self, customer_id: str, limit: int, cursor: dict[str, Any] | None
                     ) -> tuple[list[PaymentPlan], dict[str, Any] | None]:
        return self.plans.for_customer(customer_id, limit, cursor)

    def by_status(self, status: PlanStatus, limit: int, cursor: dict[str, Any] | None
                  ) -> tuple[list[PaymentPlan], dict[str, Any] | None]:
        return self.plans.by_status(status.value, limit, cursor)

    def cancel(self, plan_id: str, reason: str, actor: str) -> PlanView:
        """The collector ends the plan: its invoices go back to the ladder at the step each had reached."""
        plan = self._plan(plan_id)
        ended = self._end(plan, PlanStatus.CANCELLED, reason, actor, self.clock())
        if ended is None:
            raise NotAllowed(f"payment plan {plan_id} is {self._plan(plan_id).status.value} already",
                             field="plan_id")
        return self.view(plan_id)

    # ---- the plan sweep ------------------------------------------------------------------------------

    def sweep(self, as_of: date | None = None, time_left_ms: Callable[[], int] | None = None,
              reserve_ms: int = 30_000) -> PlanSweepSummary:
        """Look at every active plan due for it: remind, complete or break. `as_of` (simulated clock) works as
        of the start of each customer's send window on that day."""
        summary = PlanSweepSummary()
        if self.settings().kill_switch:
            summary.kill_switch = True  # nothing read, nothing sent; the next run after release catches up
            return summary
        # Also no completing or breaking: a plan must not break over instalments nobody was told how to pay.
        summary.refused = self.refusal("plans")
        if summary.refused:
            return summary
        now = self.clock()
        due = self.plans.due(now if as_of is None else end_of_day_anywhere(as_of), self.batch_limit + 1)
        summary.more_due = len(due) > self.batch_limit
        due = due[:self.batch_limit]
        summary.plans_considered = len(due)
        customers = self.customers.get_customers({p.customer_id for p in due}) if due else {}
        run_id = uuid.uuid4().hex
        for plan in due:
            if time_left_ms is not None and time_left_ms() < reserve_ms:
                summary.more_due = True
                break
            stored = customers.get(plan.customer_id)
            if stored is None:
                summary.skipped["unknown_customer"] += 1
                continue
            self._look_at(plan, stored.customer, as_of, run_id, summary)
        return summary

    def _look_at(self, plan: PaymentPlan, customer: Customer, as_of: date | None, run_id: str,
                 summary: PlanSweepSummary) -> None:
        policy = self.policy_for(customer.policy_id)
        now = self.clock() if as_of is None else window_start(as_of, customer, policy)
        today = now.astimezone(customer_tz(customer, policy)).date()
        state = progress(plan, self.invoices.get_invoices(plan.invoice_ids), today)
        decision = decide_plan(plan, state, today)
        if customer.dunning_paused and decision.action is not PlanAction.COMPLETE:
            summary.skipped["customer_paused"] += 1  # no reminder and no break while a human has it paused
            self._reschedule(plan, self._send_time(decision.next_check or today + timedelta(days=1), customer,
                                                   policy), now)
            return
        tz = customer_tz(customer, policy)
        if decision.action is PlanAction.REMIND and not is_sendable_now(
                now, tz, customer.country, policy.send_window, policy.business_days_only):
            # Due now (made at night or on a weekend, or retried after a failure): it goes in the next send window.
            summary.skipped["outside_send_window"] += 1
            self._reschedule(plan, next_send_time(now, tz, customer.country, policy.send_window,
                                                  policy.business_days_only), now)
            return
        if decision.action is PlanAction.COMPLETE:
            if self._end(plan, PlanStatus.COMPLETED, decision.reason, SYSTEM, now) is not None:
                summary.completed += 1
        elif decision.action is PlanAction.BREAK:
            assert decision.instalment is not None
            missed = decision.instalment
            self.tasks.open(Task(
                f"broken_plan:{plan.plan_id}", "broken_plan",
                f"Payment plan broken: instalment {missed.instalment.number} of {customer.name} "
                f"({missed.remaining} of {missed.amount}) was due on {missed.instalment.due_date}",
                customer.customer_id, None, {"plan_id": plan.plan_id, **instalment_json(missed)}, now, SYSTEM))
            if self._end(plan, PlanStatus.BROKEN, f"instalment {missed.instalment.number} missed", SYSTEM,
                         now) is not None:
                summary.broken += 1
        elif decision.action is PlanAction.REMIND:
            self._remind(plan, customer, policy, decision, now, today, run_id, summary)
        else:
            summary.skipped[decision.reason] += 1
            self._reschedule(plan, self._send_time(decision.next_check, customer, policy), now)

    def _remind(self, plan: PaymentPlan, customer: Customer, policy: Policy, decision: PlanDecision,
                now: datetime, today: date, run_id: str, summary: PlanSweepSummary) -> None:
        row, stage = decision.instalment, decision.stage
        assert row is not None and stage is not None
        number = row.instalment.number
        channels = ["email"] + (["sms"] if stage == "overdue" else [])
        claims = [Claim(f"plan#{plan.plan_id}#{number}#{stage}#{channel}", customer.customer_id, channel, today,
                        run_id, [{"plan_id": plan.plan_id, "instalment": number, "stage": stage}],
                        lease_until=now + CLAIM_LEASE) for channel in channels]

        def deliver(claim: Claim) -> Delivered | None:
            destination = destination_for(customer, claim.channel)
            if destination is None:
                return None
            return Delivered(destination, self._send(plan, customer, row, stage, claim.channel, destination, today,
                                                     claim.message_key))

        def record(attempts: Sequence[Attempt]) -> None:
            recorded = {f"{number}:{stage}:{a.claim.channel}" for a in attempts
                        if a.records or a.outcome is Outcome.DONE}
            events = [AuditEvent(f"customer#{customer.customer_id}", "plan.reminder_sent", SYSTEM, now,
                                 a.claim.message_key, {
                                     "plan_id": plan.plan_id, "instalment": number, "stage": stage,
                                     "channel": a.claim.channel, "provider_message_id": a.message_id,
                                     "to": mask(a.claim.destination or ""), "amount": row.remaining.to_api(),
                                     "currency": plan.currency, "due_date": row.instalment.due_date.isoformat()})
                      for a in attempts if a.outcome is Outcome.SENT]
            if recorded and not any(m.startswith(f"{number}:{stage}:") for m in plan.reminders_sent):
                summary.reminders[stage] += 1
            # Refused, or another run's send not settled yet: look again soon (after its lease), not at the next
            # stage.
            outcomes = {a.outcome for a in attempts}
            next_at = now + RETRY_AFTER_FAILURE if Outcome.REFUSED in outcomes \
                else now + CLAIM_LEASE if Outcome.IN_FLIGHT in outcomes \
                else self._send_time(decision.next_check, customer, policy)
            self._record(plan, recorded, events, next_at, now)

        def flag(existing: Claim) -> None:
            flag_unconfirmed(self.tasks, self.alerts, existing, customer, now, SYSTEM, "payment plan reminder")

        for attempt in self.send_once.send(claims, now, deliver, record, flag):
            channel = attempt.claim.channel
            if attempt.outcome is Outcome.CHANGED:
                summary.skipped["plan_changed"] += 1  # cancelled or ended since the sweep read it
            elif attempt.outcome is Outcome.SENT:
                summary.sent[channel] += 1
            elif attempt.outcome is Outcome.NO_DESTINATION:
                summary.skipped[f"no_{channel}_contact"] += 1
            elif attempt.outcome is Outcome.REFUSED:
                summary.failed.append({"plan_id": plan.plan_id, "channel": channel, "reason": attempt.reason or ""})
            elif attempt.outcome is Outcome.IN_FLIGHT:
                summary.skipped["send_in_progress"] += 1
            summary.repaired += attempt.outcome is Outcome.REPAIRED
            summary.unconfirmed += attempt.outcome is Outcome.UNCONFIRMED

    def _send(self, plan: PaymentPlan, customer: Customer, row: InstalmentProgress, stage: str, channel: str,
              destination: str, today: date, message_key: str) -> str:
        lines = [self.renderer.instalment_line(plan, row, today)]
        # Overdue: pay before the grace runs out, or the plan ends.
        deadline = row.instalment.due_date + timedelta(days=plan.grace_days) if stage == "overdue" else None
        if channel == "email":
            contact = next(c for c in customer.contacts if c.email == destination)
            reference = ", ".join(i.number for i in plan.invoices[:5])
            subject, html, text = self.renderer.email("plan_instalment", customer, contact, lines, today, deadline,
                                                      payment_reference=reference,
                                                      portal_url=self._portal_url(customer, destination))
            return self.sender.send_email(OutgoingEmail(destination, subject, html, text, message_key))
        return self.sender.send_sms(destination, self.renderer.sms(
            "plan_instalment", customer, lines, today, deadline, portal_url=self._portal_url(customer, destination)),
            message_key)

    def _portal_url(self, customer: Customer, destination: str) -> str | None:
        if self.portal_link is None:
            return None
        texter = next((c for c in customer.contacts if c.phone == destination and c.email), None)
        return self.portal_link(customer.customer_id, texter.email if texter and texter.email else destination,
                                self.clock())

    # ---- writing -------------------------------------------------------------------------------------

    def _record(self, plan: PaymentPlan, markers: set[str], events: list[AuditEvent], next_at: datetime | None,
                now: datetime) -> None:
        current: PaymentPlan | None = plan
        for _attempt in conflict_retries(f"recording reminders on payment plan {plan.plan_id}"):
            if current is None:
                return
            active = current.status is PlanStatus.ACTIVE
            updated = replace(current, reminders_sent=current.reminders_sent | markers,
                              next_action_at=next_at if active else None)
            try:
                self.plans.save(updated, [], events, now)
                return
            except VersionConflict:
                current = self.plans.get(plan.plan_id)  # cancelled or changed meanwhile: merge into it

    def _reschedule(self, plan: PaymentPlan, when: datetime | None, now: datetime) -> None:
        if plan.next_action_at == when:
            return
        with suppress(VersionConflict):  # changed meanwhile (cancelled, another run): the next look decides again
            self.plans.save(replace(plan, next_action_at=when), [], [], now)

    def _end(self, plan: PaymentPlan, status: PlanStatus, reason: str, actor: str, now: datetime
             ) -> PaymentPlan | None:
        """End the plan and put its invoices back on the ladder; None when it was not active (any more)."""
        current: PaymentPlan | None = plan
        for _attempt in conflict_retries(f"ending payment plan {plan.plan_id}"):
            if current is None or current.status is not PlanStatus.ACTIVE:
                return None
            ended = current.ended(status, actor, reason, now)
            invoices = self.invoices.get_invoices(current.invoice_ids)
            back = [released(i, current.plan_id, now) for i in invoices.values() if i.plan_id == current.plan_id]
            state = progress(current, invoices, now.date())
            events = [AuditEvent(f"customer#{current.customer_id}", f"plan.{status.value}", actor, now,
                                 current.plan_id, {
                                     "plan_id": current.plan_id, "reason": reason, "currency": current.currency,
                                     "paid": state.paid.to_api(), "outstanding": state.outstanding.to_api()})]
            events += [AuditEvent(f"invoice#{i.invoice_id}", "invoice.plan_ended", actor, now, current.plan_id, {
                "plan_id": current.plan_id, "plan_status": status.value, "balance": i.balance.to_api(),
                "currency": i.currency, "status": i.status.value}) for i in back]
            try:
                saved, _invoices = self.plans.save(ended, back, events, now)
                return saved
            except VersionConflict:
                current = self.plans.get(plan.plan_id)  # a payment or the collector got there first: again
        raise AssertionError("unreachable: conflict_retries raises when it runs out")

    def _send_time(self, day: date | None, customer: Customer, policy: Policy) -> datetime | None:
        """The start of the customer's send window on `day` (or the next sending day)."""
        if day is None:
            return None
        return next_send_time(day, customer_tz(customer, policy), customer.country, policy.send_window,
                              policy.business_days_only)

    # ---- reads ---------------------------------------------------------------------------------------

    def _plan(self, plan_id: str) -> PaymentPlan:
        plan = self.plans.get(plan_id)
        if plan is None:
            raise NotFound("payment plan", plan_id, field="plan_id")
        return plan

    def _customer(self, customer_id: str) -> Customer:
        stored = self.customers.get_customers([customer_id]).get(customer_id)
        if stored is None:
            raise NotFound("customer", customer_id, field="customer_id")
        return stored.customer
