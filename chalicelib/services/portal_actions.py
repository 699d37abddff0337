"""What a customer does from the portal: dispute an invoice (or part of it), promise to pay, ask for a payment plan.

Each goes through the same use case as the staff API (CollectionsService for disputes and promises, as behind
`POST /invoices/{id}/disputes` and `/promises`; PlanRequests for a plan request, whose acceptance makes the plan
through PlanService), with the actor `portal:<contact email>`, so it lands on the same timeline with the same
rules. The portal session says which customer is asking: an invoice of any other customer (or none) is NotFound,
worded exactly as an unknown id, so the portal never tells that it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Protocol

from chalicelib.domain.collections import MAX_PROMISE_DAYS, Dispute
from chalicelib.domain.errors import CurrencyMismatch, InvalidDocument, InvalidMoney, NotAllowed, NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.plan_requests import PlanRequest
from chalicelib.domain.plans import MAX_PLAN_INVOICES
from chalicelib.services.collections import CollectionsService
from chalicelib.services.plan_requests import PlanRequests

MAX_COMMENT = 2000


class InvoiceReader(Protocol):
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]: ...


def portal_actor(contact_email: str) -> str:
    return f"portal:{contact_email}"


class PortalActions:
    def __init__(self, invoices: InvoiceReader, collections: CollectionsService,
                 plan_requests: Callable[[], PlanRequests]) -> None:
        self.invoices = invoices
        self.collections = collections
        self._plan_requests = plan_requests  # built when first asked for (it needs the sender)

    # ---- disputes ----------------------------------------------------------------------------------

    def dispute(self, customer_id: str, contact_email: str, invoice_id: str, reason: str, amount: Money | None,
                comment: str) -> Dispute:
        """`reason`: one of DISPUTE_REASONS (as `POST /invoices/{id}/disputes`); `amount` None disputes the whole
        invoice, else a deduction in the invoice's currency; `comment` the customer's words (the dispute's note)."""
        [invoice] = self._own(customer_id, [invoice_id])
        if amount is not None and amount.currency != invoice.currency:
            raise CurrencyMismatch(f"the amount must be in {invoice.currency}", field="amount")
        note = comment.strip()[:MAX_COMMENT] or None
        change = self.collections.open_dispute(invoice.invoice_id, reason, None if amount is None else amount.amount,
                                               note, portal_actor(contact_email))
        return change.dispute

    # ---- promises ----------------------------------------------------------------------------------

    def promise(self, customer_id: str, contact_email: str, invoice_ids: Sequence[str], until: date,
                amount: Money | None, today: date) -> list[Invoice]:
        """A promise to pay by `until` (at most MAX_PROMISE_DAYS after `today`, the customer's date). `amount` None
        promises what is open on each invoice; an amount is spread over the invoices in the order given (each up to
        its balance): invoices it does not reach get no promise. Returns the invoices promised, as saved."""
        if until > today + timedelta(days=MAX_PROMISE_DAYS):
            raise InvalidDocument(f"a promise is at most {MAX_PROMISE_DAYS} days ahead (until "
                                  f"{today + timedelta(days=MAX_PROMISE_DAYS)}); ask for a payment plan instead",
                                  field="date")
        if until < today:
            raise InvalidDocument(f"the promised date {until} is in the past", field="date")
        invoices = self._own(customer_id, invoice_ids)
        shares = _spread(invoices, amount)
        actor = portal_actor(contact_email)
        return [self.collections.promise(invoice.invoice_id, until, share.amount, actor)
                for invoice, share in shares]

    # ---- plan requests -----------------------------------------------------------------------------

    def request_plan(self, customer_id: str, contact_email: str, invoice_ids: Sequence[str], instalments: int,
                     first_date: date, today: date) -> PlanRequest:
        """Ask for `instalments` equal monthly instalments from `first_date`: stored, and a collector task with the
        proposal; the collector accepts (a real plan) or declines, and the customer is told by email. The same
        request again on the same day is the same request."""
        invoices = self._own(customer_id, invoice_ids)
        return self._plan_requests().request(customer_id, contact_email, invoices, instalments, first_date, today,
                                             portal_actor(contact_email))

    def plan_requests(self, customer_id: str, limit: int = 20) -> list[PlanRequest]:
        """This customer's plan requests, newest first (pending, accepted with their plan, declined with why)."""
        requests, _cursor = self._plan_requests().for_customer(customer_id, limit, None)
        return requests

    # ---- whose invoices ------------------------------------------------------------------------------

    def _own(self, customer_id: str, invoice_ids: Sequence[str]) -> list[Invoice]:
        """The invoices, in the order given, each this customer's; NotFound (as for an unknown id) otherwise."""
        ids = list(dict.fromkeys(invoice_ids))
        if not ids:
            raise NotAllowed("choose at least one invoice", field="invoice_ids")
        if len(ids) > MAX_PLAN_INVOICES:
            raise NotAllowed(f"choose at most {MAX_PLAN_INVOICES} invoices", field="invoice_ids")
        found = self.invoices.get_invoices(ids)
        for invoice_id in ids:
            invoice = found.get(invoice_id)
            if invoice is None or invoice.customer_id != customer_id:
                raise NotFound("invoice", invoice_id, field="invoice_id")
        return [found[i] for i in ids]


def _spread(invoices: Sequence[Invoice], amount: Money | None) -> list[tuple[Invoice, Money]]:
    if amount is None:
        return [(i, i.balance) for i in invoices if not i.balance.is_zero]
    if amount.amount <= 0:
        raise InvalidMoney("the amount must be more than zero", field="amount")
    currencies = {i.currency for i in invoices}
    if currencies != {amount.currency}:
        raise CurrencyMismatch(f"the amount must be in the invoices' currency ({', '.join(sorted(currencies))})",
                               field="amount")
    owed = sum((i.balance for i in invoices), Money.zero(amount.currency))
    if amount > owed:
        raise InvalidMoney(f"the amount is more than the {owed} open on these invoices", field="amount")
    left, shares = amount, []
    for invoice in invoices:
        if left.is_zero:
            break
        share = min(left, invoice.balance)
        if not share.is_zero:
            shares.append((invoice, share))
            left = left - share
    return shares
