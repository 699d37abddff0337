"""Collector workflows, pure: disputes (of a whole invoice or a deduction) and their resolution, promises to pay
and how they end. Takes `today` / `now` and data, returns new values; no I/O, no clock.

How each one changes what dunning does:
- A dispute of the whole invoice makes it DISPUTED: dunning holds until the dispute is resolved. A deduction
  holds back only its amount: the reminders ask for the rest (`Invoice.principal_to_chase`).
- Resolving: `accepted` credits what was held, `rejected` lifts the hold, `partial` credits part of it and lifts
  the hold on the rest. The ladder's history is kept, so dunning resumes at the step it had reached.
- A promise holds dunning through its date and `PROMISE_GRACE_DAYS` more (a transfer sent on the promised day
  may take a few days to arrive). Then the sweep settles it: kept when the balance fell by the amount promised
  (or the invoice is settled), broken otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from chalicelib.domain.errors import DisputeResolved, InvalidMoney, NotAllowed
from chalicelib.domain.invoice import OUTSTANDING_STATUSES, Invoice
from chalicelib.domain.money import Money

DISPUTE_REASONS: Final = ("pricing", "quantity", "damaged", "not_received", "duplicate", "other")
PROMISE_GRACE_DAYS: Final = 3
MAX_PROMISE_DAYS: Final = 90
EARLIEST_UTC_OFFSET: Final = timedelta(hours=14)  # Kiribati: where a day begins first


class DisputeStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the customer is right: what was held is credited
    REJECTED = "rejected"  # the customer owes it all: the hold is lifted
    PARTIAL = "partial"  # part of it is credited, the rest is chased again


@dataclass(frozen=True, slots=True)
class Dispute:
    dispute_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str
    reason: str
    amount: Money | None  # a deduction; None: the whole invoice
    balance_at_opening: Money
    opened_at: datetime
    opened_by: str
    note: str | None = None
    from_chargeback: bool = False  # took over the hold a chargeback had put on the invoice
    status: DisputeStatus = DisputeStatus.OPEN
    outcome: Outcome | None = None
    credited: Money | None = None
    resolution_note: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    version: int = 0

    @property
    def currency(self) -> str:
        return self.balance_at_opening.currency

    def age_days(self, today: date) -> int:
        """Days open so far, or days it took to resolve."""
        end = self.resolved_at.date() if self.resolved_at is not None else today
        return max(0, (end - self.opened_at.date()).days)


def open_dispute(invoice: Invoice, dispute_id: str, reason: str, amount: Money | None, note: str | None,
                 actor: str, now: datetime) -> tuple[Dispute, Invoice]:
    if reason not in DISPUTE_REASONS:
        raise NotAllowed(f"reason must be one of {', '.join(DISPUTE_REASONS)}", field="reason")
    from_chargeback = invoice.disputed and invoice.dispute_id is None
    disputed = invoice.with_dispute(dispute_id, amount)
    dispute = Dispute(dispute_id, invoice.invoice_id, invoice.number, invoice.customer_id, reason, amount,
                      invoice.balance, now, actor, note=note, from_chargeback=from_chargeback)
    return dispute, disputed


def resolve_dispute(dispute: Dispute, invoice: Invoice, outcome: Outcome, credit_amount: Money | None,
                    note: str | None, actor: str, now: datetime) -> tuple[Dispute, Invoice]:
    """Close the dispute and apply its outcome to the invoice (which should be the dispute's invoice, read now).

    What is held is `invoice.disputed_open` at this moment: a payment since the dispute was opened may have
    reduced it, and a credit never exceeds it. The invoice asks the sweep to look at it again at `now`."""
    if dispute.status is DisputeStatus.RESOLVED:
        raise DisputeResolved(f"dispute {dispute.dispute_id} was resolved already ({dispute.outcome})",
                              field="dispute_id")
    if invoice.invoice_id != dispute.invoice_id:
        raise ValueError("the invoice is not the dispute's")
    holds = invoice.dispute_id == dispute.dispute_id
    held = invoice.disputed_open if holds else Money.zero(invoice.currency)
    if outcome is Outcome.PARTIAL:
        if credit_amount is None:
            raise InvalidMoney("a partial resolution needs credit_amount", field="credit_amount")
        if credit_amount.currency != invoice.currency:
            raise InvalidMoney(f"credit_amount must be in {invoice.currency}", field="credit_amount")
        if credit_amount.amount <= 0 or credit_amount > held:
            raise InvalidMoney(f"credit_amount must be more than zero and at most the {held} held by the dispute",
                               field="credit_amount")
        credit = credit_amount
    elif credit_amount is not None:
        raise InvalidMoney(f"credit_amount is only for a partial resolution, not {outcome.value}",
                           field="credit_amount")
    else:
        credit = held if outcome is Outcome.ACCEPTED else Money.zero(invoice.currency)
    resolved = invoice.without_dispute() if holds else invoice
    if not credit.is_zero:
        resolved, _left = resolved.with_credit(credit)  # credit <= held <= balance: nothing is left over
    if resolved.status in OUTSTANDING_STATUSES:
        resolved = resolved.needs_review(now)  # the sweep decides again; the ladder's history is kept
    closed = replace(dispute, status=DisputeStatus.RESOLVED, outcome=outcome, credited=credit,
                     resolution_note=note, resolved_at=now, resolved_by=actor)
    return closed, resolved


# ---- promises to pay --------------------------------------------------------------------------------------

class PromiseOutcome(StrEnum):
    KEPT = "kept"
    BROKEN = "broken"


def make_promise(invoice: Invoice, until: date, amount: Money, today: date) -> Invoice:
    """A promise to pay `amount` by `until`: today at the earliest, at most MAX_PROMISE_DAYS ahead. The sweep is
    asked to look at the invoice when the hold ends, wherever the customer is, so the promise is settled even
    when no reminder step is left."""
    if until < today:
        raise NotAllowed(f"the promised date {until} is in the past", field="date")
    if until > today + timedelta(days=MAX_PROMISE_DAYS):
        raise NotAllowed(f"a promise is at most {MAX_PROMISE_DAYS} days ahead (until "
                         f"{today + timedelta(days=MAX_PROMISE_DAYS)}); offer a payment plan instead", field="date")
    promised = invoice.with_promise(until, amount)
    end = promise_hold_end(promised)
    assert end is not None
    return promised.needs_review(datetime.combine(end + timedelta(days=1), time(0), UTC) - EARLIEST_UTC_OFFSET)


def promise_hold_end(invoice: Invoice) -> date | None:
    """The last day a promise holds dunning: its date plus the grace days."""
    if invoice.promised_until is None:
        return None
    return invoice.promised_until + timedelta(days=PROMISE_GRACE_DAYS)


def promise_kept(invoice: Invoice) -> bool:
    """The balance fell by at least the amount promised since the promise (or nothing is open any more)."""
    if invoice.status not in OUTSTANDING_STATUSES:
        return True
    if invoice.promise_balance is None or invoice.promised_amount is None:
        return invoice.balance.is_zero
    return invoice.balance <= invoice.promise_balance - invoice.promised_amount


def promise_outcome(invoice: Invoice, today: date) -> PromiseOutcome | None:
    """How a promise ended, once its date and grace have passed (in the customer's calendar); None while it
    still holds or when there is none."""
    end = promise_hold_end(invoice)
    if end is None or today <= end:
        return None
    return PromiseOutcome.KEPT if promise_kept(invoice) else PromiseOutcome.BROKEN


def settle_promise(invoice: Invoice, outcome: PromiseOutcome) -> Invoice:
    return invoice.without_promise(broken=outcome is PromiseOutcome.BROKEN)
