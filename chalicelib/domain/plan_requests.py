"""Payment plan requests, pure: a customer asks (through the portal) to pay chosen invoices in n monthly
instalments from a first date; a collector accepts the request into a real plan (domain/plans.py) or declines it
with a reason. Takes `now` / `today` and data, returns new values; no I/O, no clock.

The proposal is checked with the very rules a plan is made by (`create_plan`), so a request that could never
become a plan is refused when it is made, not when the collector accepts it. Accepting makes the plan from the
invoices as they are then (a payment since the request lowers what is planned).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from chalicelib.domain.errors import NotAllowed, StateConflict
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.plans import DEFAULT_GRACE_DAYS, Instalment, create_plan, equal_instalments

MAX_DECLINE_REASON: Final = 500


class PlanRequestStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class PlanRequestDecided(StateConflict):
    """The request was accepted or declined already."""

    code = "plan_request_decided"


@dataclass(frozen=True, slots=True)
class PlanRequest:
    request_id: str
    customer_id: str
    contact_email: str  # who asked (and who is told the answer)
    invoice_ids: tuple[str, ...]
    invoice_numbers: tuple[str, ...]
    currency: str
    total: Money  # what was open on the invoices when it was asked
    instalments: int
    first_date: date
    proposal: tuple[Instalment, ...]  # equal monthly instalments from first_date summing to total
    requested_at: datetime
    requested_by: str  # "portal:<contact email>"
    status: PlanRequestStatus = PlanRequestStatus.PENDING
    decided_at: datetime | None = None
    decided_by: str | None = None
    decline_reason: str | None = None
    plan_id: str | None = None  # the plan it became
    version: int = 0

    @property
    def task_id(self) -> str:
        return f"plan_request:{self.request_id}"


def request_id_for(customer_id: str, invoice_ids: Sequence[str], instalments: int, first_date: date,
                   today: date) -> str:
    """The same request sent twice on one day (a double click, a retried form) is one request."""
    raw = "|".join([customer_id, ",".join(sorted(invoice_ids)), str(instalments), first_date.isoformat(),
                    today.isoformat()])
    return f"prq_{hashlib.sha256(raw.encode()).hexdigest()[:24]}"


def make_request(request_id: str, customer_id: str, contact_email: str, invoices: Sequence[Invoice],
                 instalments: int, first_date: date, actor: str, now: datetime, today: date) -> PlanRequest:
    """The request, checked by the rules of a plan (invoices outstanding, one currency, not disputed nor in a plan,
    instalments 1 to MAX_INSTALMENTS, first date not in the past, last within MAX_PLAN_DAYS)."""
    if not invoices:
        raise NotAllowed("a plan needs at least one invoice", field="invoice_ids")
    currency = invoices[0].currency
    if any(i.currency != currency for i in invoices):
        raise NotAllowed("a plan is in one currency: choose invoices in one currency", field="invoice_ids")
    total = sum((i.balance for i in invoices), Money.zero(currency))
    proposal = equal_instalments(total, instalments, first_date)
    create_plan(request_id, customer_id, invoices, proposal, DEFAULT_GRACE_DAYS, None, actor, now, today)
    return PlanRequest(request_id, customer_id, contact_email, tuple(i.invoice_id for i in invoices),
                       tuple(i.number for i in invoices), currency, total, instalments, first_date, proposal, now,
                       actor)


def _pending(request: PlanRequest) -> None:
    if request.status is not PlanRequestStatus.PENDING:
        raise PlanRequestDecided(f"plan request {request.request_id} was {request.status.value} already",
                                 field="request_id")


def accepted(request: PlanRequest, plan_id: str, actor: str, now: datetime) -> PlanRequest:
    _pending(request)
    return replace(request, status=PlanRequestStatus.ACCEPTED, decided_at=now, decided_by=actor, plan_id=plan_id)


def declined(request: PlanRequest, reason: str, actor: str, now: datetime) -> PlanRequest:
    _pending(request)
    if not reason.strip() or len(reason) > MAX_DECLINE_REASON:
        raise NotAllowed(f"a reason of 1 to {MAX_DECLINE_REASON} characters is needed", field="reason")
    return replace(request, status=PlanRequestStatus.DECLINED, decided_at=now, decided_by=actor,
                   decline_reason=reason.strip())
