"""Use cases of payment plan requests: a customer asks for a plan through the portal (services/portal_actions.py);
a collector sees the request as a task with the proposal, accepts it into a real plan (through PlanService.create,
the same use case as `POST /customers/{id}/payment-plans`) or declines it with a reason; the customer is told by
email either way. The rules are in domain/plan_requests.py.

Safe to run twice: the same request on the same day is one request (its id is derived from what was asked); its
task is keyed by the request; an accepted request names its plan by an id derived from the request, so an
acceptance retried after a crash finds the plan it made instead of failing on invoices "already in a plan"; the
answer to the customer goes through SendOnce under `<customer id>#plan_request#<id>#<answer>` (once, whatever the
retries).
Accepting or declining a request that was answered that way already answers it again (and sends nothing twice);
the other answer is a conflict (409).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from chalicelib.domain.customer import Customer
from chalicelib.domain.errors import NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.masking import mask
from chalicelib.domain.plan_requests import (
    PlanRequest,
    PlanRequestDecided,
    PlanRequestStatus,
    accepted,
    declined,
    make_request,
    request_id_for,
)
from chalicelib.domain.plans import Instalment
from chalicelib.services.plans import PlanService, PlanView
from chalicelib.services.ports import (
    CLAIM_LEASE,
    AuditEvent,
    Claim,
    Claims,
    OutgoingEmail,
    Sender,
    StoredCustomer,
    Task,
    TaskStore,
    VersionConflict,
    conflict_retries,
    utc_now,
)
from chalicelib.services.send_once import Attempt, Delivered, Outcome, SendOnce

log = logging.getLogger(__name__)
TASK_KIND = "plan_request"


# ---- ports -----------------------------------------------------------------------------------------

class PlanRequestStore(Protocol):
    def get(self, request_id: str) -> PlanRequest | None: ...
    def save(self, request: PlanRequest, events: Sequence[AuditEvent], now: datetime) -> PlanRequest:
        """The request (new when its version is 0, else at that version) and its events, all or nothing; raises
        VersionConflict when it exists already (new) or changed since it was read."""
    def by_status(self, status: str, limit: int, cursor: dict[str, Any] | None
                  ) -> tuple[list[PlanRequest], dict[str, Any] | None]: ...
    def for_customer(self, customer_id: str, limit: int, cursor: dict[str, Any] | None
                     ) -> tuple[list[PlanRequest], dict[str, Any] | None]: ...


class InvoiceReader(Protocol):
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]: ...


class CustomerReader(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...


@dataclass(frozen=True)
class AnswerMail:
    subject: str
    html: str
    text: str


class AnswerRenderer(Protocol):
    def __call__(self, language: str | None, name: str, answer: str, numbers: Sequence[str],
                 instalments: Sequence[Instalment], reason: str | None) -> AnswerMail: ...


@dataclass(frozen=True)
class Acceptance:
    request: PlanRequest
    plan: PlanView


def plan_id_for(request_id: str) -> str:
    return f"pln_{hashlib.sha256(f'plan-request:{request_id}'.encode()).hexdigest()[:24]}"


def _instalments_json(rows: Sequence[Instalment]) -> list[dict[str, Any]]:
    return [{"number": i.number, "due_date": i.due_date.isoformat(), "amount": i.amount.to_api()} for i in rows]


# ---- the service -----------------------------------------------------------------------------------

class PlanRequests:
    def __init__(self, store: PlanRequestStore, invoices: InvoiceReader, customers: CustomerReader,
                 plans: PlanService, tasks: TaskStore, claims: Claims, sender: Sender, render: AnswerRenderer,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.invoices = invoices
        self.customers = customers
        self.plans = plans
        self.tasks = tasks
        self.sender = sender
        self.render = render
        self.send_once = SendOnce(claims, retry_refused=True)
        self.clock = clock or utc_now

    # ---- the customer's side (through PortalActions) ------------------------------------------------

    def request(self, customer_id: str, contact_email: str, invoices: Sequence[Invoice], instalments: int,
                first_date: date, today: date, actor: str) -> PlanRequest:
        """Store the request and open the collector's task; the same request again the same day is the first."""
        request_id = request_id_for(customer_id, [i.invoice_id for i in invoices], instalments, first_date, today)
        existing = self.store.get(request_id)
        if existing is None:
            now = self.clock()
            request = make_request(request_id, customer_id, contact_email, invoices, instalments, first_date, actor,
                                   now, today)
            data = {"request_id": request_id, "invoices": list(request.invoice_numbers), "currency": request.currency,
                    "total": request.total.to_api(), "instalments": instalments,
                    "first_date": first_date.isoformat(), "proposal": _instalments_json(request.proposal),
                    "contact": mask(contact_email)}
            events = [AuditEvent(f"customer#{customer_id}", "plan.requested", actor, now, request_id, data)]
            events += [AuditEvent(f"invoice#{i.invoice_id}", "invoice.plan_requested", actor, now, request_id, {
                "request_id": request_id, "instalments": instalments, "first_date": first_date.isoformat(),
                "balance": i.balance.to_api(), "currency": i.currency}) for i in invoices]
            try:
                existing = self.store.save(request, events, now)
            except VersionConflict:
                existing = self.store.get(request_id)  # the same request, saved by a concurrent submit
                if existing is None:
                    raise
        if existing.status is PlanRequestStatus.PENDING:
            self._open_task(existing)  # idempotent: keyed by the request
        return existing

    def _open_task(self, request: PlanRequest) -> None:
        stored = self.customers.get_customers([request.customer_id]).get(request.customer_id)
        name = stored.customer.name if stored is not None else request.customer_id
        first = request.proposal[0]
        self.tasks.open(Task(
            request.task_id, TASK_KIND,
            f"Payment plan requested by {name}: {request.instalments} instalments of about {first.amount} from "
            f"{request.first_date} for {', '.join(request.invoice_numbers[:5])}"
            + (" and more" if len(request.invoice_numbers) > 5 else ""),
            request.customer_id, request.invoice_ids[0] if len(request.invoice_ids) == 1 else None, {
                "request_id": request.request_id, "invoice_ids": list(request.invoice_ids),
                "invoices": list(request.invoice_numbers), "currency": request.currency,
                "total": request.total.to_api(), "instalments": request.instalments,
                "first_date": request.first_date.isoformat(), "proposal": _instalments_json(request.proposal),
                "accept": f"POST /plan-requests/{request.request_id}/accept",
                "decline": f"POST /plan-requests/{request.request_id}/decline"},
            request.requested_at, request.requested_by))

    # ---- the collector's side -----------------------------------------------------------------------

    def get(self, request_id: str) -> PlanRequest:
        request = self.store.get(request_id)
        if request is None:
            raise NotFound("plan request", request_id, field="request_id")
        return request

    def by_status(self, status: PlanRequestStatus, limit: int, cursor: dict[str, Any] | None
                  ) -> tuple[list[PlanRequest], dict[str, Any] | None]:
        return self.store.by_status(status.value, limit, cursor)

    def for_customer(self, customer_id: str, limit: int, cursor: dict[str, Any] | None
                     ) -> tuple[list[PlanRequest], dict[str, Any] | None]:
        return self.store.for_customer(customer_id, limit, cursor)

    def accept(self, request_id: str, actor: str, *, instalments: int | None = None,
               first_date: date | None = None, grace_days: int | None = None) -> Acceptance:
        """Make the plan (the request's proposal, or the collector's count / first date), mark the request accepted,
        close its task and tell the customer."""
        request = self.get(request_id)
        if request.status is PlanRequestStatus.DECLINED:
            raise PlanRequestDecided(f"plan request {request_id} was declined already", field="request_id")
        plan_id = request.plan_id or plan_id_for(request_id)
        try:
            view = self.plans.view(plan_id)  # made by an earlier attempt (or this request was accepted already)
        except NotFound:
            count = request.instalments if instalments is None else instalments
            first = request.first_date if first_date is None else first_date
            view = self.plans.create(request.customer_id, list(request.invoice_ids), count=count,
                                     first_due_date=first, grace_days=grace_days,
                                     note=f"from plan request {request_id}", actor=actor, plan_id=plan_id)
        def accept(request: PlanRequest, now: datetime) -> tuple[PlanRequest, AuditEvent]:
            return accepted(request, plan_id, actor, now), AuditEvent(
                f"customer#{request.customer_id}", "plan.request_accepted", actor, now, request_id, {
                    "request_id": request_id, "plan_id": plan_id, "instalments": len(view.plan.instalments),
                    "first_date": view.plan.instalments[0].due_date.isoformat(), "total": view.plan.total.to_api(),
                    "currency": view.plan.currency})

        request = self._decide(request, PlanRequestStatus.ACCEPTED, accept, actor)
        self._tell(request, "accepted", view.plan.instalments, None)
        return Acceptance(request, view)

    def decline(self, request_id: str, reason: str, actor: str) -> PlanRequest:
        request = self.get(request_id)
        def decline(request: PlanRequest, now: datetime) -> tuple[PlanRequest, AuditEvent]:
            done = declined(request, reason, actor, now)  # PlanRequestDecided when accepted already
            return done, AuditEvent(
                f"customer#{request.customer_id}", "plan.request_declined", actor, now, request_id, {
                    "request_id": request_id, "reason": done.decline_reason, "invoices": list(request.invoice_numbers)})

        request = self._decide(request, PlanRequestStatus.DECLINED, decline, actor)
        self._tell(request, "declined", (), request.decline_reason)
        return request

    def _decide(self, request: PlanRequest, status: PlanRequestStatus,
                decide: Callable[[PlanRequest, datetime], tuple[PlanRequest, AuditEvent]], actor: str) -> PlanRequest:
        """The request answered (`decide`: the request as answered and its audit event), saved against its version
        (read again on a conflict; answered already: as it is), and its collector task completed."""
        for _attempt in conflict_retries(f"answering plan request {request.request_id}"):
            if request.status is status:
                break
            now = self.clock()
            done, event = decide(request, now)
            try:
                request = self.store.save(done, [event], now)
                break
            except VersionConflict:
                request = self.get(request.request_id)
        self.tasks.complete(request.task_id, actor, self.clock())
        return request

    # ---- telling the customer -------------------------------------------------------------------------

    def _tell(self, request: PlanRequest, answer: str, instalments: Sequence[Instalment],
              reason: str | None) -> Attempt | None:
        stored = self.customers.get_customers([request.customer_id]).get(request.customer_id)
        if stored is None:
            return None
        customer = stored.customer
        now = self.clock()
        # Keyed by the customer first, as reminders are: a bounce of this mail finds the customer (services/bounces.py).
        claim = Claim(f"{customer.customer_id}#plan_request#{request.request_id}#{answer}", customer.customer_id,
                      "email", now.date(), uuid.uuid4().hex, [], lease_until=now + CLAIM_LEASE)

        def deliver(claim: Claim) -> Delivered | None:
            contact = _answer_contact(customer, request.contact_email)
            if contact is None:
                return None
            email, name, language = contact
            mail = self.render(language or customer.language, name or customer.name, answer,
                               request.invoice_numbers, instalments, reason)
            return Delivered(email, self.sender.send_email(OutgoingEmail(email, mail.subject, mail.html, mail.text,
                                                                         claim.message_key, tag="plan_request")))

        def record(attempts: Sequence[Attempt]) -> None:
            for attempt in attempts:
                if attempt.records:
                    self._record_answer(request, answer, attempt, now)

        [attempt] = self.send_once.send([claim], now, deliver, record, unknown_outcome=None)
        if attempt.outcome in (Outcome.REFUSED, Outcome.NO_DESTINATION):
            log.warning("plan request answer not sent: %s", attempt.outcome.value,
                        extra={"request_id": request.request_id})
        return attempt

    def _record_answer(self, request: PlanRequest, answer: str, attempt: Attempt, now: datetime) -> None:
        event = AuditEvent(f"customer#{request.customer_id}", "plan.request_answer_sent", "system:plan_requests",
                           now, attempt.claim.message_key, {
                               "request_id": request.request_id, "answer": answer, "channel": "email",
                               "provider_message_id": attempt.message_id, "to": mask(attempt.claim.destination or ""),
                               "confirmed": attempt.confirmed})
        for _attempt in conflict_retries(f"recording the answer to plan request {request.request_id}"):
            current = self.get(request.request_id)
            try:
                self.store.save(current, [event], now)
                return
            except VersionConflict:
                continue


def _answer_contact(customer: Customer, asked_by: str) -> tuple[str, str | None, str | None] | None:
    """Who asked, while still on file and not bouncing; else another contact with a working address (as reminders
    fall back after a bounce)."""
    usable = [c for c in customer.contacts if c.email and not c.email_suppressed]
    chosen = next((c for c in usable if c.email is not None and c.email.lower() == asked_by.lower()), None)
    chosen = chosen or (usable[0] if usable else None)
    if chosen is None or chosen.email is None:
        return None
    return chosen.email, chosen.name, chosen.language
