"""Use case: money arrives (or goes back) and is applied to invoices exactly once.

Every notification is first recorded by its provider event id (a retry or duplicate changes nothing).
The money movement itself has an id derived from the provider's payment reference, and is written in
one transaction with every invoice it touches (at the version read), so two notifications of the
same money, or a crash halfway, can never count it twice. Conflicting writers retry on fresh reads.

Out of order is expected: a refund or chargeback whose payment is unknown waits, and is applied when
the payment arrives; a failure after a success does not undo it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol

from chalicelib.domain.cash_application import (
    Allocation,
    MatchMethod,
    MatchResult,
    OpenItem,
    PlanTarget,
    allocate_oldest_first,
    match_payment,
    net_allocations,
    refund_allocations,
)
from chalicelib.domain.discounts import DiscountDecision, DiscountOutcome, apply_payment, open_item, take_back
from chalicelib.domain.errors import DomainError, IdempotencyKeyReused, InvalidDocument, NotFound
from chalicelib.domain.ids import invoice_id, reference_key
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentEvent, PaymentKind, PaymentRecord, payment_id_for
from chalicelib.domain.plans import PaymentPlan, plan_target
from chalicelib.domain.terms import PaymentTerms
from chalicelib.services.ports import (
    AlreadyRecorded,
    AuditEvent,
    Backoff,
    Metrics,
    ProviderEventRecord,
    StoredCustomer,
    Task,
    TaskStore,
    VersionConflict,
    conflict_retries,
    utc_now,
)

MAX_REFERENCES = 40  # keeps one application inside one 100-item transaction
ATTEMPTS = 8  # writers racing for one invoice: each round one wins, the others re-read (after a jittered pause)


class PaymentStore(Protocol):
    def get(self, payment_id: str) -> PaymentRecord | None: ...
    def waiting_for(self, provider: str, payment_ref: str) -> list[PaymentRecord]: ...
    def open_invoices(self, customer_id: str) -> list[Invoice]: ...
    def commit(self, *, new: Sequence[PaymentRecord] = (), changed: Sequence[PaymentRecord] = (),
               invoices: Sequence[Invoice] = (), events: Sequence[AuditEvent] = (),
               notification: ProviderEventRecord | None = None, now: datetime) -> None: ...


class NotificationStore(Protocol):
    def claim(self, record: ProviderEventRecord) -> bool: ...
    def get(self, dedupe_key: str) -> ProviderEventRecord | None: ...
    def save(self, record: ProviderEventRecord) -> None: ...


class InvoiceReader(Protocol):
    def get_invoices(self, invoice_ids: Any) -> dict[str, Invoice]: ...
    def find_by_reference(self, keys: Any, limit: int = 10) -> dict[str, Invoice]: ...


class CustomerCheck(Protocol):
    def get_stored(self, customer_id: str) -> StoredCustomer | None: ...


class PlanReader(Protocol):
    def get(self, plan_id: str) -> PaymentPlan | None: ...


@dataclass(frozen=True)
class Matched:
    result: MatchResult
    invoices: dict[str, Invoice]  # read to make the match: applying it reads nothing again
    terms: dict[str, PaymentTerms | None] = field(default_factory=dict)  # customers' terms read for discounts


@dataclass(frozen=True)
class Applied:
    """One invoice with an allocation applied: its audit events, and the discount decision it made."""

    invoice: Invoice
    events: list[AuditEvent]
    decision: DiscountDecision
    amount: Money


DISCOUNT_TASK = "discount_taken_late"
DISCOUNT_TAKEN_LATE = "invoice.discount_taken_late"


def discount_task(event: AuditEvent) -> Task | None:
    """The collector task an `invoice.discount_taken_late` audit event calls for (None for any other event): one per
    invoice and payment, the same whoever opens it (the payment's own path right after its commit, or the events
    stream if that process stopped in between: opening it twice changes nothing)."""
    if event.type != DISCOUNT_TAKEN_LATE:
        return None
    data = event.data
    invoice_id = event.entity.removeprefix("invoice#")
    currency = str(data.get("currency", ""))
    initiated = f" (initiated on {data['initiated_on']})" if data.get("initiated_on") else ""
    detail = {key: data.get(key) for key in ("payment_id", "amount", "currency", "last_day", "received_on", "paid",
                                             "balance")}
    if data.get("initiated_on"):
        detail["initiated_on"] = data.get("initiated_on")
    return Task(
        f"{DISCOUNT_TASK}:{invoice_id}:{data.get('payment_id')}", DISCOUNT_TASK,
        f"Discount taken late on invoice {data.get('number', invoice_id)}: {data.get('amount')} {currency} deducted "
        f"from a payment received on {data.get('received_on')}{initiated}, after the last day "
        f"{data.get('last_day')}; chase the difference or write it off",
        data.get("customer_id"), invoice_id, detail, event.at, event.actor)


class Alerts(Protocol):
    def publish(self, subject: str, message: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Receipt:
    dedupe_key: str
    outcome: str  # applied | waiting | reversed | ignored | duplicate
    payment_id: str | None = None
    detail: str | None = None


def _same_request(recorded: PaymentRecord, key: str, request: str | None) -> PaymentRecord:
    if recorded.request and request and recorded.request != request:
        raise IdempotencyKeyReused(key)
    return recorded


class UnknownCustomer(DomainError):
    """Staff named a payer Dunwell does not know: the money would be parked against nobody. The API answers 422."""

    code = "unknown_customer"


class PaymentService:
    def __init__(self, payments: PaymentStore, notifications: NotificationStore, invoices: InvoiceReader,
                 customers: CustomerCheck, alerts: Alerts, clock: Callable[[], datetime] | None = None,
                 plans: PlanReader | None = None, tasks: TaskStore | None = None, metrics: Metrics | None = None,
                 backoff: Backoff | None = None) -> None:
        self.payments = payments
        self.notifications = notifications
        self.invoices = invoices
        self.customers = customers
        self.alerts = alerts
        self.clock = clock or utc_now
        self.plans = plans
        self.tasks = tasks
        self.metrics = metrics
        self.backoff = backoff or Backoff()

    # ---- notifications (webhooks, bank statement lines) --------------------------------------------

    def receive(self, event: PaymentEvent, raw_key: str | None = None) -> Receipt:
        now = self.clock()
        note = ProviderEventRecord(event.dedupe_key, "received", event.raw_type, now, raw_key=raw_key)
        if not self.notifications.claim(note):
            prior = self.notifications.get(event.dedupe_key)
            if prior is not None and prior.status != "received":
                return Receipt(event.dedupe_key, "duplicate", prior.payment_id, "already processed")
            # "received": an earlier delivery stopped before finishing; the writes below are idempotent.
        if event.kind is PaymentKind.PAYMENT:
            return self._receive_payment(event, note)
        if event.kind is PaymentKind.FAILURE:
            return self._receive_failure(event, note)
        return self._receive_reversal(event, note)

    def record_ignored(self, dedupe_key: str, type_: str, reason: str, raw_key: str | None,
                       needs_review: bool = False) -> Receipt:
        """A notification Dunwell does not act on: remembered, so its retries are cheap. One that is
        authentic but cannot be read as money (an unknown currency, a missing amount) is kept for
        review and finance staff are told."""
        status = "needs_review" if needs_review else "ignored"
        record = ProviderEventRecord(dedupe_key, status, type_, self.clock(), None, raw_key, reason)
        recorded = self.notifications.claim(record)
        if not recorded:
            prior = self.notifications.get(dedupe_key)
            if prior is not None and prior.status == "received":
                # An attempt to apply it that stopped (its values broke a rule of the ledger): this is its outcome.
                self.notifications.save(record)
                recorded = True
        if recorded and needs_review:
            self.alerts.publish("Payment notification needs review", {
                "notification": dedupe_key, "type": type_, "reason": reason, "raw_key": raw_key})
        return Receipt(dedupe_key, status, None, reason)

    def _receive_payment(self, event: PaymentEvent, note: ProviderEventRecord) -> Receipt:
        payment_id = payment_id_for(event.provider, PaymentKind.PAYMENT, event.payment_ref)
        for _attempt in self._retries(f"payment {payment_id}: its invoices kept changing; the provider will retry"):
            now = self.clock()
            matched = self._match(event.amount, event.references, event.customer_hint,
                                  event.occurred_at.astimezone(UTC).date(), event.initiated_on)
            match = matched.result
            record = PaymentRecord(
                payment_id=payment_id, provider=event.provider, payment_ref=event.payment_ref,
                kind=PaymentKind.PAYMENT, amount=event.amount, allocations=match.allocations,
                unapplied=match.unapplied, occurred_at=event.occurred_at, recorded_at=now,
                recorded_by=f"provider:{event.provider}", customer_id=match.customer_id, method=match.method.value,
                reason=match.reason, references=event.references[:MAX_REFERENCES], payer_name=event.payer_name,
                payer_email=event.payer_email, raw_type=event.raw_type, initiated_on=event.initiated_on)
            try:
                self._apply(record, replace(note, status="applied", payment_id=payment_id), now, matched)
            except VersionConflict:
                continue
            except AlreadyRecorded:
                self.notifications.save(replace(note, status="duplicate", payment_id=payment_id,
                                                detail="the same money was recorded from another notification"))
                return Receipt(note.dedupe_key, "duplicate", payment_id, "money already recorded")
            for waiting in self.payments.waiting_for(event.provider, event.payment_ref):
                self._complete_reversal(waiting)
            return Receipt(note.dedupe_key, "applied", payment_id, match.reason)
        raise AssertionError("unreachable: conflict_retries raises when it runs out")

    def _terms(self, customer_id: str, cache: dict[str, PaymentTerms | None]) -> PaymentTerms | None:
        """A customer's payment terms (their early-payment discount), read once per application."""
        if customer_id not in cache:
            stored = self.customers.get_stored(customer_id)
            cache[customer_id] = stored.customer.payment_terms if stored is not None else None
        return cache[customer_id]

    def _match(self, amount: Money, references: Sequence[str], customer_hint: str | None,
               received_on: date, initiated_on: date | None = None) -> Matched:
        """The match, with the invoices and the payer read to make it (reused to apply it: one read, not two).

        Early-payment discounts (domain/discounts.py) count on the day the money was received (or the earlier day
        the payer initiated it, when the source says): referenced invoices
        are offered what settles them with their discount when the money does not pay them all in full, and a payer
        without a reference is matched on an invoice's discounted amount when nothing else matches. The customer's
        terms are read only then."""
        ids = list(dict.fromkeys(invoice_id(number) for number in references[:MAX_REFERENCES]))
        found = self.invoices.get_invoices(ids) if ids else {}
        missing = [number for number in references[:MAX_REFERENCES] if invoice_id(number) not in found]
        if missing:
            # Remittance text rarely spells the number exactly ('INV20261012' for 'INV-2026-1012').
            keys = [key for key in (reference_key(n) for n in missing) if key]  # "--" spells no number
            for invoice in self.invoices.find_by_reference(keys).values():
                found[invoice.invoice_id] = invoice
                ids.append(invoice.invoice_id)
        referenced_invoices = [found[i] for i in ids if i in found]
        referenced = [OpenItem.of(i) for i in referenced_invoices]
        terms: dict[str, PaymentTerms | None] = {}
        open_in_currency = [i.balance for i in referenced_invoices if i.currency == amount.currency]
        if open_in_currency and amount < sum(open_in_currency, Money.zero(amount.currency)):
            referenced = [open_item(i, self._terms(i.customer_id, terms), received_on, initiated_on)
                          for i in referenced_invoices]
        # A known payer guards against paying another customer's invoice by a mistyped reference;
        # an unknown one lets the references say whose money it is.
        customer_id: str | None = None
        items: list[OpenItem] = []
        plans: list[PlanTarget] = []
        if customer_hint and not referenced:
            # The payer's open invoices prove they are a customer (invoices are stored with theirs): no read of
            # the customer unless they have none.
            open_invoices = self.payments.open_invoices(customer_hint)
            if open_invoices or self.customers.get_stored(customer_hint) is not None:
                customer_id = customer_hint
            found.update((i.invoice_id, i) for i in open_invoices)
            items = [OpenItem.of(i) for i in open_invoices]
            plans = self._plan_targets(open_invoices)
        elif customer_hint and self.customers.get_stored(customer_hint) is not None:
            customer_id = customer_hint
        result = match_payment(amount, referenced=referenced, customer_id=customer_id, customer_items=items,
                               plans=plans)
        if result.method is MatchMethod.NONE and items and customer_id is not None:
            payer_terms = self._terms(customer_id, terms)
            if payer_terms is not None and payer_terms.discount_percent is not None:
                items = [open_item(found[i.invoice_id], payer_terms, received_on, initiated_on) for i in items]
                result = match_payment(amount, referenced=referenced, customer_id=customer_id, customer_items=items,
                                       plans=plans)
        return Matched(result, found, terms)

    def _plan_targets(self, open_invoices: Sequence[Invoice]) -> list[PlanTarget]:
        """The payer's active payment plans (read only when an open invoice is in one). A plan invoice no longer
        open counts as paid: one read less on every instalment payment, and the plan sweep (which reads them
        all) stays exact; at worst an instalment goes unrecognised and the other rules decide."""
        plan_ids = sorted({i.plan_id for i in open_invoices if i.plan_id})
        if self.plans is None or not plan_ids:
            return []
        current = {i.invoice_id: i for i in open_invoices}
        targets = []
        for plan_id in plan_ids:
            plan = self.plans.get(plan_id)
            target = None if plan is None else plan_target(plan, current, self.clock().date())
            if target is not None:
                targets.append(target)
        return targets

    def _apply(self, record: PaymentRecord, note: ProviderEventRecord | None, now: datetime,
               matched: Matched) -> None:
        """Write the record with the invoices its allocations change, in one transaction. The invoices
        are the ones read for the match; if one changed since, the version check fails and we retry."""
        touched = self._with_allocations(record.allocations, record.recorded_by, record.payment_id, now,
                                         matched.invoices, record.occurred_at.astimezone(UTC).date(), matched.terms,
                                         record.initiated_on)
        balances = {a.invoice.invoice_id: a.invoice.balance for a in touched}
        discounts = {a.invoice.invoice_id: a.decision.amount for a in touched
                     if a.decision.outcome is DiscountOutcome.GRANTED}
        events = [e for a in touched for e in a.events] + [self._payment_event(record, now, balances, discounts)]
        self.payments.commit(new=[record], invoices=[a.invoice for a in touched], events=events, notification=note,
                             now=now)
        self._open_discount_tasks(touched)

    def _with_allocations(self, allocations: Sequence[Allocation], actor: str, payment_id: str,
                          now: datetime, known: dict[str, Invoice],
                          received_on: date, terms: dict[str, PaymentTerms | None],
                          initiated_on: date | None = None) -> list[Applied]:
        """Each invoice with its allocation applied, effective on the day the money was received (analytics), with
        the early-payment discount it earns booked, judged by the day the payer initiated it when known (the
        customer's terms read only for an allocation short of the balance: paid in full, there is nothing to
        decide)."""
        current = dict(known)
        touched: dict[str, Applied] = {}
        for allocation in allocations:
            invoice = current.get(allocation.invoice_id)
            if invoice is None:
                raise VersionConflict(f"invoice {allocation.invoice_id} vanished")
            applied = self._applied(invoice, allocation.amount, received_on, payment_id, actor, now, terms,
                                    initiated_on=initiated_on)
            if applied is None:  # the balance moved since the match: match again
                raise VersionConflict(f"invoice {invoice.number} changed since it was matched")
            current[allocation.invoice_id] = applied.invoice
            earlier = touched.get(allocation.invoice_id)
            if earlier is not None:  # the same invoice twice in one payment: one state, all its events
                applied = replace(applied, events=earlier.events + applied.events,
                                  decision=applied.decision if applied.decision.outcome is not DiscountOutcome.NONE
                                  else earlier.decision, amount=earlier.amount + applied.amount)
            touched[allocation.invoice_id] = applied
        return list(touched.values())

    def _applied(self, invoice: Invoice, amount: Money, received_on: date, payment_id: str, actor: str,
                 now: datetime, terms: dict[str, PaymentTerms | None], by_hand: bool = False,
                 initiated_on: date | None = None) -> Applied | None:
        """`amount` of payment `payment_id` applied to `invoice` with its discount decision and audit events; None
        when the invoice cannot take all of it (it changed). Effective (cash) on `received_on`; the discount judged
        by `initiated_on` when the source knew it (domain/discounts.py `judged_on`)."""
        customer_terms = self._terms(invoice.customer_id, terms) if amount < invoice.balance else None
        updated, left, decision = apply_payment(invoice, customer_terms, amount, received_on, payment_id,
                                                initiated_on)
        if not left.is_zero:
            return None
        updated = replace(updated, effective_on=received_on)
        data: dict[str, Any] = {"payment_id": payment_id, "amount": amount.to_api(), "currency": invoice.currency,
                                "balance": updated.balance.to_api(), "status": updated.status.value}
        if by_hand:
            data["by"] = "hand"
        discriminator = f"{payment_id}:{now.timestamp()}" if by_hand else payment_id
        events = [AuditEvent(f"invoice#{invoice.invoice_id}", "invoice.payment_applied", actor, now, discriminator,
                             data)]
        if decision.outcome is not DiscountOutcome.NONE:
            offer = decision.offer
            assert offer is not None
            detail = {"payment_id": payment_id, "amount": decision.amount.to_api(), "currency": invoice.currency,
                      "number": invoice.number, "customer_id": invoice.customer_id,
                      "percent": str(offer.percent), "last_day": offer.last_day.isoformat(),
                      "received_on": received_on.isoformat(), "paid": amount.to_api(),
                      "balance": updated.balance.to_api(), "status": updated.status.value}
            if initiated_on is not None:
                detail["initiated_on"] = initiated_on.isoformat()
            kind = "invoice.discount_granted" if decision.outcome is DiscountOutcome.GRANTED else DISCOUNT_TAKEN_LATE
            events.append(AuditEvent(f"invoice#{invoice.invoice_id}", kind, actor, now, discriminator, detail))
        return Applied(updated, events, decision, amount)

    def _open_discount_tasks(self, touched: Sequence[Applied]) -> None:
        """A discount taken after its last day leaves the difference open: a collector chases it or lets it go
        (the events stream opens the same task if this process stops before it does, services/task_closer.py)."""
        if self.tasks is None:
            return
        for applied in touched:
            for event in applied.events:
                task = discount_task(event)
                if task is not None:
                    self.tasks.open(task)

    @staticmethod
    def _payment_event(record: PaymentRecord, now: datetime, balances: dict[str, Money] | None = None,
                       discounts: dict[str, Money] | None = None) -> AuditEvent:
        """The payment's audit event: also what a receipt needs (services/receipts.py reads it off the stream),
        with each invoice's balance right after this payment when `balances` has it, and the early-payment
        discount it earned on each invoice when `discounts` has one."""
        after = balances or {}
        discounted = discounts or {}
        return AuditEvent(f"payment#{record.payment_id}", f"payment.{record.kind.value}_recorded", record.recorded_by,
                          now, record.payment_id,
                          {"amount": record.amount.to_api(), "currency": record.amount.currency,
                           "status": record.status.value, "reason": record.reason,
                           "customer_id": record.customer_id, "provider_reference": record.payment_ref,
                           "occurred_at": record.occurred_at.isoformat(), "unapplied": record.unapplied.to_api(),
                           **({"initiated_on": record.initiated_on.isoformat()} if record.initiated_on else {}),
                           "allocations": [{"invoice_id": a.invoice_id, "number": a.number, "amount": a.amount.to_api(),
                                            "balance": after[a.invoice_id].to_api() if a.invoice_id in after else None,
                                            **({"discount": discounted[a.invoice_id].to_api()}
                                               if a.invoice_id in discounted else {})}
                                           for a in record.allocations]})

    def _receive_failure(self, event: PaymentEvent, note: ProviderEventRecord) -> Receipt:
        payment_id = payment_id_for(event.provider, PaymentKind.PAYMENT, event.payment_ref)
        if self.payments.get(payment_id) is not None:
            detail = "a failure reported after the payment succeeded does not undo it"
        else:
            detail = "the attempt failed: nothing was paid"
        self.notifications.save(replace(note, status="ignored", payment_id=None, detail=detail))
        return Receipt(note.dedupe_key, "ignored", None, detail)

    # ---- refunds and chargebacks -------------------------------------------------------------------

    def _receive_reversal(self, event: PaymentEvent, note: ProviderEventRecord) -> Receipt:
        if event.refunded_total is not None:
            worked_out = self._refund_from_total(event, note)
            if isinstance(worked_out, Receipt):
                return worked_out
            event = worked_out
        original_ref = event.original_ref or event.payment_ref
        reversal_id = payment_id_for(event.provider, event.kind, event.payment_ref)
        now = self.clock()
        record = PaymentRecord(
            payment_id=reversal_id, provider=event.provider, payment_ref=event.payment_ref, kind=event.kind,
            amount=event.amount, allocations=(), unapplied=event.amount, occurred_at=event.occurred_at,
            recorded_at=now, recorded_by=f"provider:{event.provider}", original_ref=original_ref,
            raw_type=event.raw_type, waiting=True,
            reason="waiting for the payment it reverses, which has not arrived yet")
        original = self.payments.get(payment_id_for(event.provider, PaymentKind.PAYMENT, original_ref))
        if original is None:
            try:
                self.payments.commit(new=[record], events=[self._payment_event(record, now)],
                                     notification=replace(note, status="waiting", payment_id=reversal_id), now=now)
            except AlreadyRecorded:
                self.notifications.save(replace(note, status="duplicate", payment_id=reversal_id))
                return Receipt(note.dedupe_key, "duplicate", reversal_id)
            return Receipt(note.dedupe_key, "waiting", reversal_id, record.reason)
        return self._reverse(record, original, replace(note, status="applied", payment_id=reversal_id), fresh=True)

    def _refund_from_total(self, event: PaymentEvent, note: ProviderEventRecord) -> PaymentEvent | Receipt:
        """A refund stated only as the payment's refunded total: this refund is that total minus the refunds Dunwell
        recorded on the payment. Without the payment there is nothing to subtract from: kept for review."""
        assert event.refunded_total is not None
        original = self.payments.get(payment_id_for(event.provider, PaymentKind.PAYMENT,
                                                    event.original_ref or event.payment_ref))
        if original is None:
            detail = (f"a refund stated as a total of {event.refunded_total} refunded, on a payment not recorded: "
                      "how much this one refunded is unknown")
            self.notifications.save(replace(note, status="needs_review", detail=detail))
            self.alerts.publish("Payment notification needs review", {
                "notification": note.dedupe_key, "type": event.raw_type, "reason": detail, "raw_key": note.raw_key})
            return Receipt(note.dedupe_key, "needs_review", None, detail)
        if event.refunded_total.currency != original.amount.currency:
            raise InvalidDocument(f"refund in {event.refunded_total.currency} of a payment in "
                                  f"{original.amount.currency}")
        already = original.refunded_total
        if event.refunded_total <= already:
            detail = f"no new refund: {event.refunded_total} refunded in all, {already} recorded already"
            self.notifications.save(replace(note, status="ignored", detail=detail))
            return Receipt(note.dedupe_key, "ignored", None, detail)
        return replace(event, amount=event.refunded_total - already, refunded_total=None)

    def _complete_reversal(self, waiting: PaymentRecord) -> None:
        original = self.payments.get(payment_id_for(waiting.provider, PaymentKind.PAYMENT,
                                                    waiting.original_ref or waiting.payment_ref))
        if original is not None:
            self._reverse(waiting, original, None, fresh=False)

    def _reverse(self, reversal: PaymentRecord, original: PaymentRecord, note: ProviderEventRecord | None,
                 *, fresh: bool) -> Receipt:
        dedupe = note.dedupe_key if note else reversal.payment_id
        for _attempt in self._retries(f"{reversal.kind.value} {reversal.payment_id}: records kept changing; retry"):
            now = self.clock()
            if reversal.amount.currency != original.amount.currency:
                raise InvalidDocument(f"{reversal.kind.value} in {reversal.amount.currency} of a payment in "
                                      f"{original.amount.currency}")
            remaining = original.allocated + original.unapplied
            amount = min(reversal.amount, remaining)  # never give back more than the payment still holds
            reopen = refund_allocations(original.allocations, amount, unapplied=original.unapplied)
            reopened_total = sum((a.amount for a in reopen), Money.zero(amount.currency))
            from_unapplied = amount - reopened_total
            current = self.invoices.get_invoices([a.invoice_id for a in reopen]) if reopen else {}
            chargeback = reversal.kind is PaymentKind.CHARGEBACK
            invoices, events = [], []
            for allocation in reopen:
                invoice = current[allocation.invoice_id]
                reopened = invoice.without_payment(allocation.amount).needs_review(now)  # dunning resumes
                # A discount booked goes with the money: what is paid no longer covers the discounted amount.
                reopened, discount = take_back(reopened)
                if chargeback:
                    reopened = replace(reopened, disputed=True)  # the customer contests it: a dispute is open
                invoices.append(reopened)
                events.append(AuditEvent(
                    f"invoice#{invoice.invoice_id}", f"invoice.{reversal.kind.value}", reversal.recorded_by, now,
                    reversal.payment_id, {"payment_id": original.payment_id, "amount": allocation.amount.to_api(),
                                          "balance": reopened.balance.to_api(), "status": reopened.status.value}))
                if not discount.is_zero:
                    events.append(AuditEvent(
                        f"invoice#{invoice.invoice_id}", "invoice.discount_reversed", reversal.recorded_by, now,
                        reversal.payment_id, {"payment_id": original.payment_id, "amount": discount.to_api(),
                                              "currency": invoice.currency, "reason": reversal.kind.value,
                                              "balance": reopened.balance.to_api()}))
            described = ", ".join(f"{a.number} reopened by {a.amount}" for a in reopen)
            done = replace(reversal, allocations=reopen, unapplied=reversal.amount - reopened_total, waiting=False,
                           customer_id=original.customer_id,
                           reason=f"reverses {original.payment_id}: " + (described or "taken from its unapplied cash"))
            updated_original = replace(original, allocations=net_allocations(original.allocations, reopen),
                                       unapplied=original.unapplied - from_unapplied,
                                       reversed=original.reversed_amount + amount,
                                       refunded=original.refunded_total + reversal.amount
                                       if reversal.kind is PaymentKind.REFUND else original.refunded)
            events.append(self._payment_event(done, now))
            try:
                self.payments.commit(new=[done], changed=[updated_original], invoices=invoices, events=events,
                                     notification=note, now=now)
            except AlreadyRecorded:
                if note:
                    self.notifications.save(replace(note, status="duplicate"))
                return Receipt(dedupe, "duplicate", reversal.payment_id)
            except VersionConflict:
                fresh_original = self.payments.get(original.payment_id)
                if fresh_original is None:
                    raise VersionConflict(f"{reversal.kind.value} {reversal.payment_id}: the payment it reverses "
                                          "vanished; retry") from None
                original = fresh_original
                if not fresh:
                    latest = self.payments.get(reversal.payment_id)
                    if latest is None or not latest.waiting:
                        return Receipt(dedupe, "duplicate", reversal.payment_id)
                    reversal = latest
                continue
            if chargeback:
                detail = {"payment_id": original.payment_id, "chargeback_id": done.payment_id,
                          "amount": done.amount.to_api(), "currency": done.amount.currency,
                          "customer_id": original.customer_id, "invoices": [a.number for a in reopen]}
                self.alerts.publish("Chargeback received", detail)
                if self.tasks is not None:  # someone must contest it with the processor or accept it
                    self.tasks.open(Task(
                        f"chargeback:{done.payment_id}", "chargeback",
                        f"Chargeback of {done.amount} on payment {original.payment_ref}: contest it with "
                        f"{original.provider} or accept it", original.customer_id,
                        reopen[0].invoice_id if reopen else None, detail, now, done.recorded_by))
            return Receipt(dedupe, "reversed", reversal.payment_id, done.reason)
        raise AssertionError("unreachable: conflict_retries raises when it runs out")

    # ---- staff ---------------------------------------------------------------------------------------

    def record_manual(self, *, amount: Money, customer_id: str | None, references: Sequence[str],
                      received_on: datetime, payer_name: str | None, method: str, idempotency_key: str,
                      actor: str, request: str | None = None, initiated_on: date | None = None) -> PaymentRecord:
        """A wire or cheque keyed in by staff: the same matching and invariants as a webhook (`initiated_on`: the day
        the payer gave the order, where known; an early-payment discount is judged by it). The same
        `idempotency_key` again answers with what was recorded, if `request` (the request's fingerprint) is the
        one recorded with it; another request under that key is IdempotencyKeyReused."""
        payment_id = payment_id_for("manual", PaymentKind.PAYMENT, idempotency_key)
        recorded = self.payments.get(payment_id)
        if recorded is not None:
            return _same_request(recorded, idempotency_key, request)
        if customer_id is not None and self.customers.get_stored(customer_id) is None:
            raise UnknownCustomer(f"customer {customer_id} is not known", field="customer_id")
        for _attempt in self._retries(f"manual payment {payment_id}: invoices kept changing; try again"):
            now = self.clock()
            matched = self._match(amount, references, customer_id, received_on.astimezone(UTC).date(), initiated_on)
            match = matched.result
            record = PaymentRecord(
                payment_id=payment_id, provider="manual", payment_ref=idempotency_key, kind=PaymentKind.PAYMENT,
                amount=amount, allocations=match.allocations, unapplied=match.unapplied, occurred_at=received_on,
                recorded_at=now, recorded_by=actor, customer_id=match.customer_id or customer_id,
                method=match.method.value, reason=f"{method}: {match.reason}", references=tuple(references),
                payer_name=payer_name, raw_type=method, request=request, initiated_on=initiated_on)
            try:
                self._apply(record, None, now, matched)
            except VersionConflict:
                continue
            except AlreadyRecorded:
                pass  # the same key raced in meanwhile: answer with what was recorded, if it is the same request
            stored = self.payments.get(payment_id)
            assert stored is not None
            return _same_request(stored, idempotency_key, request)
        raise AssertionError("unreachable: conflict_retries raises when it runs out")

    def allocate(self, payment_id: str, invoice_ref: str, amount: Money | None, actor: str) -> PaymentRecord:
        """Staff apply unapplied cash to an invoice (all of it, or `amount`). Measured against an early-payment
        discount's last day by the day the money was received (or the payer initiated it, when its source said),
        like every other way money is applied."""
        applied_last: list[Applied] = []  # what the committed attempt decided (a discount taken late opens a task)

        def change(now: datetime, payment: PaymentRecord) -> tuple[PaymentRecord, Invoice, list[AuditEvent]]:
            if payment.kind is not PaymentKind.PAYMENT:
                raise InvalidDocument("only a payment's cash can be applied", field="payment_id")
            invoice = self.invoices.get_invoices([invoice_ref]).get(invoice_ref)
            if invoice is None:
                raise NotFound("invoice", invoice_ref, field="invoice_id")
            if invoice.currency != payment.amount.currency:
                raise InvalidDocument(f"a {payment.amount.currency} payment cannot pay a {invoice.currency} invoice",
                                      field="invoice_id")
            wanted = amount or min(payment.unapplied, invoice.balance)
            if wanted.is_zero or wanted > payment.unapplied:
                raise InvalidDocument(f"the payment has {payment.unapplied} unapplied; {wanted} cannot be applied",
                                      field="amount")
            if wanted > invoice.balance:
                raise InvalidDocument(f"invoice {invoice.number} has a balance of {invoice.balance}", field="amount")
            merged = _merge(payment.allocations, Allocation(invoice.invoice_id, invoice.number, wanted))
            updated = replace(payment, allocations=merged, unapplied=payment.unapplied - wanted,
                              customer_id=payment.customer_id or invoice.customer_id)
            applied = self._applied(invoice, wanted, payment.occurred_at.astimezone(UTC).date(), payment_id, actor,
                                    now, {}, by_hand=True, initiated_on=payment.initiated_on)
            assert applied is not None  # wanted <= balance, checked above
            applied_last[:] = [applied]
            return updated, applied.invoice, [*applied.events,
                AuditEvent(f"payment#{payment_id}", "payment.allocated", actor, now, invoice.invoice_id,
                           {"invoice_id": invoice.invoice_id, "amount": wanted.to_api()})]
        done = self._staff_change(payment_id, invoice_ref, change)
        self._open_discount_tasks(applied_last)
        return done

    def unallocate(self, payment_id: str, invoice_ref: str, actor: str) -> PaymentRecord:
        """Staff take a payment off an invoice: the money goes back to unapplied, the invoice reopens."""
        def change(now: datetime, payment: PaymentRecord) -> tuple[PaymentRecord, Invoice, list[AuditEvent]]:
            allocated = [a for a in payment.allocations if a.invoice_id == invoice_ref]
            if not allocated:
                raise NotFound("allocation", invoice_ref, field="invoice_id",
                               message=f"payment {payment_id} is not applied to invoice {invoice_ref}")
            amount = sum((a.amount for a in allocated), Money.zero(payment.amount.currency))
            invoice = self.invoices.get_invoices([invoice_ref])[invoice_ref]
            reopened, discount = take_back(invoice.without_payment(amount).needs_review(now))
            updated = replace(payment, allocations=tuple(a for a in payment.allocations if a.invoice_id != invoice_ref),
                              unapplied=payment.unapplied + amount)
            events = [
                AuditEvent(f"invoice#{invoice_ref}", "invoice.payment_removed", actor, now,
                           f"{payment_id}:{now.timestamp()}",
                           {"payment_id": payment_id, "amount": amount.to_api(), "balance": reopened.balance.to_api()}),
                AuditEvent(f"payment#{payment_id}", "payment.unallocated", actor, now, invoice_ref,
                           {"invoice_id": invoice_ref, "amount": amount.to_api()})]
            if not discount.is_zero:
                events.insert(1, AuditEvent(
                    f"invoice#{invoice_ref}", "invoice.discount_reversed", actor, now,
                    f"{payment_id}:{now.timestamp()}",
                    {"payment_id": payment_id, "amount": discount.to_api(), "currency": invoice.currency,
                     "reason": "unallocated", "balance": reopened.balance.to_api()}))
            return updated, reopened, events
        return self._staff_change(payment_id, invoice_ref, change)

    def _staff_change(self, payment_id: str, invoice_ref: str,
                      change: Callable[[datetime, PaymentRecord], tuple[PaymentRecord, Invoice, list[AuditEvent]]]
                      ) -> PaymentRecord:
        """Commit a staff change to one payment and one invoice, decided again on fresh reads after a conflict."""
        for _attempt in self._retries(f"payment {payment_id} on invoice {invoice_ref}: the payment or invoice kept "
                                      "changing; try again"):
            now = self.clock()
            updated, invoice, events = change(now, self._payment(payment_id))
            try:
                self.payments.commit(changed=[updated], invoices=[invoice], events=events, now=now)
            except VersionConflict:
                continue
            return self._payment(payment_id)
        raise AssertionError("unreachable: conflict_retries raises when it runs out")

    def apply_oldest_first(self, payment_id: str, actor: str) -> PaymentRecord:
        """Staff decide: put the unapplied cash on the customer's oldest open invoices."""
        payment = self._payment(payment_id)
        if not payment.customer_id:
            raise InvalidDocument("the payment has no customer: apply it to a named invoice", field="invoice_id")
        items = [OpenItem.of(i) for i in self.payments.open_invoices(payment.customer_id)]
        plan = allocate_oldest_first(payment.unapplied, customer_id=payment.customer_id, customer_items=items)
        for allocation in plan.allocations:
            payment = self.allocate(payment_id, allocation.invoice_id, allocation.amount, actor)
        return payment

    def _retries(self, what: str) -> Iterator[int]:
        return conflict_retries(what, self.metrics, ATTEMPTS, self.backoff)

    def _payment(self, payment_id: str) -> PaymentRecord:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise NotFound("payment", payment_id, field="payment_id")
        return payment


def _merge(allocations: Sequence[Allocation], new: Allocation) -> tuple[Allocation, ...]:
    merged, found = [], False
    for allocation in allocations:
        if allocation.invoice_id == new.invoice_id:
            merged.append(Allocation(new.invoice_id, new.number, allocation.amount + new.amount))
            found = True
        else:
            merged.append(allocation)
    return tuple(merged) if found else (*merged, new)
