"""The dunning sweep: find the invoices due for a decision, decide (pure), send one message per customer,
channel and local day, record what was sent and charged. Also the dry run (preview).

Cost: the invoices read are those in the sparse `due_for_action` index up to now (plus their customers),
never the ledger. Every invoice decided leaves with a new `next_action_at` (or none), so it is read again
only when it next needs attention.

Exactly once per (invoice, step, channel), by services/send_once.py (claim, send, mark sent, record, and the
crash windows). The claim is keyed (customer, customer's local date, channel); it lists every invoice line in
the message, the step, the charges and what to record, and its transaction checks that each invoice is still
chaseable. Recording a send writes each invoice's send, charges and next action (versioned, retried on
conflict); a repair records the claim's lines again (idempotent: sends are a set, charges have keys), and an
unconfirmed send is recorded with `confirmed: false`.
The claim key also makes "never twice a day" structural: one email and one SMS per customer per local day.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.analytics.behaviour import PolicyChoice, choose_policy
from chalicelib.domain.collections import PromiseOutcome, promise_outcome, settle_promise
from chalicelib.domain.customer import Contact, Customer, destination_for
from chalicelib.domain.delivery import never_delivered
from chalicelib.domain.dunning.calendar import customer_tz, end_of_day_anywhere, next_send_time, window_start
from chalicelib.domain.dunning.charges import Charge
from chalicelib.domain.dunning.decision import CHANNELS, Decision, decide, history_of, state_of
from chalicelib.domain.dunning.policy import TONES, Policy, Step
from chalicelib.domain.errors import NotFound
from chalicelib.domain.invoice import Invoice, LedgerCharge
from chalicelib.domain.letters import letter_key
from chalicelib.domain.masking import mask
from chalicelib.domain.money import Money
from chalicelib.services.ports import (
    CLAIM_LEASE,
    RETRY_AFTER_FAILURE,
    Alerts,
    Attachment,
    AuditEvent,
    Claim,
    Claims,
    Customers,
    DueInvoices,
    DunningSettings,
    Exports,
    History,
    Invoices,
    Metrics,
    OutgoingEmail,
    Renderer,
    Sender,
    SendFailed,
    StoredCustomer,
    Task,
    TaskStore,
    VersionConflict,
    WorkItem,
    WorkQueue,
    conflict_retries,
    flag_unconfirmed,
)
from chalicelib.services.send_once import Attempt, Delivered, Outcome, SendOnce

if TYPE_CHECKING:
    from chalicelib.domain.letters import Letter
    from chalicelib.services.letters import LetterRequest
from chalicelib.services.way_to_pay import never_refused

log = logging.getLogger(__name__)
SYSTEM = "system:dunning"
CHARGE_CODES = {"fee": "late_fee", "interest": "interest", "compensation": "compensation"}
TONE_RANK = {tone: rank for rank, tone in enumerate(TONES)}
REVIEW_REASONS = frozenset({"needs_review", "too_few_notices"})


class LetterQueue(Protocol):
    """services/letters.py: renders a letter for the post, stores it, puts it in the print queue."""

    def queue(self, request: LetterRequest, now: datetime) -> Letter: ...


SEND_CHANNELS = ("email", "sms", "letter")  # the order a customer's messages of one day go in
WORK_ITEM_INVOICES = 100  # invoices per work message: ~1 KB each, well under SQS's 256 KB


# ---- results ---------------------------------------------------------------------------------------

@dataclass
class RunSummary:
    run_id: str
    now: datetime
    simulated: bool
    invoices_considered: int = 0
    customers_considered: int = 0
    messages_sent: Counter[str] = field(default_factory=Counter)
    reminders: Counter[str] = field(default_factory=Counter)  # per step name: invoices reminded
    skipped: Counter[str] = field(default_factory=Counter)
    failed: list[dict[str, str]] = field(default_factory=list)
    charges_added: int = 0
    repaired: int = 0
    unconfirmed: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    kill_switch: bool = False
    refused: str | None = None  # why nothing may be sent at all (services/way_to_pay.py)
    more_due: bool = False
    dispatched: int = 0  # work messages handed to the queue (the scheduled sweep)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "now": self.now.isoformat(), "simulated": self.simulated,
            "kill_switch": self.kill_switch, "invoices_considered": self.invoices_considered,
            "customers_considered": self.customers_considered,
            "sent": {"email": self.messages_sent["email"], "sms": self.messages_sent["sms"]},
            "letters_queued": self.messages_sent["letter"],
            "reminders": dict(sorted(self.reminders.items())), "skipped": dict(sorted(self.skipped.items())),
            "failed": self.failed, "charges_added": self.charges_added, "repaired": self.repaired,
            "unconfirmed": self.unconfirmed, "actions": dict(sorted(self.actions.items())),
            "more_due": self.more_due, "dispatched": self.dispatched, "refused": self.refused,
        }


@dataclass(frozen=True)
class Planned:
    invoice: Invoice
    decision: Decision


class InvoicePdf(Protocol):
    @property
    def filename(self) -> str: ...
    @property
    def body(self) -> bytes: ...


class InvoicePdfs(Protocol):
    def pdf(self, invoice_id: str) -> InvoicePdf: ...


# ---- the service -----------------------------------------------------------------------------------

def worst_tone(steps: Iterable[Step]) -> str:
    return max((s.tone for s in steps), key=lambda t: TONE_RANK[t])


PortalLink = Callable[[str, str, datetime], str | None]  # (customer id, contact's address or phone, now) -> URL


class DunningService:
    def __init__(self, due: DueInvoices, invoices: Invoices, customers: Customers,
                 policy_for: Callable[[str | None], Policy], settings: Callable[[], DunningSettings],
                 claims: Claims, sender: Sender, renderer: Renderer, tasks: TaskStore, alerts: Alerts,
                 metrics: Metrics, exports: Exports, history: History, *,
                 clock: Callable[[], datetime] | None = None, batch_limit: int = 5000, dispatch_limit: int = 150_000,
                 time_left_ms: Callable[[], int] | None = None,
                 refusal: Callable[[str], str | None] = never_refused,
                 risk_band: Callable[[str, date], str] | None = None,
                 documents: InvoicePdfs | None = None,
                 portal_link: PortalLink | None = None,
                 letters: LetterQueue | None = None) -> None:
        self.due = due
        self.invoices = invoices
        self.customers = customers
        self.policy_for = policy_for
        self.settings = settings
        self.claims = claims
        self.send_once = SendOnce(claims)
        self.sender = sender
        self.renderer = renderer
        self.tasks = tasks
        self.alerts = alerts
        self.metrics = metrics
        self.exports = exports
        self.history = history
        self.clock = clock or (lambda: datetime.now(UTC))
        self.batch_limit = batch_limit  # invoices one in-process run works on
        # Invoices one scheduled sweep hands to the workers (~1.1 KB each in memory: ~170 MB of the sweep's 1 GB).
        # A customer whose due invoices are split between two sweeps hears about the rest a day later, so the
        # limit is set above the largest Monday we plan for (100,000 due).
        self.dispatch_limit = dispatch_limit
        self.time_left_ms = time_left_ms
        self.refusal = refusal
        # The customer's risk band (one Query of its settlement log), read only for a customer without its own
        # policy and only when the settings name policies by risk band: never per invoice.
        self.risk_band = risk_band
        # The invoice PDFs (services/invoice_documents.py): an email reminder about an invoice Dunwell was to deliver
        # and never did says so and attaches it (domain/delivery.py).
        self.documents = documents
        # A fresh personal portal link per message (services/portal_links.py PortalLinks.for_message), or none.
        self.portal_link = portal_link
        self.letters = letters  # None: no letter is made (a letter step's letter waits as undeliverable)

    # ---- entry points --------------------------------------------------------------------------------

    def run(self, as_of: date | None = None, time_left_ms: Callable[[], int] | None = None,
            reserve_ms: int = 60_000) -> RunSummary:
        """Sweep now, or (simulated clock) as of the start of each customer's send window on `as_of`, in this
        process. Stops with `more_due` when less than `reserve_ms` is left; the next run continues."""
        summary, settings, by_customer = self._select(as_of, self.batch_limit)
        if not by_customer:
            return summary
        customers = self.customers.get_customers(by_customer)
        left = time_left_ms or self.time_left_ms
        for customer_id, invoices in by_customer.items():
            if left is not None and left() < reserve_ms:
                summary.more_due = True  # the next run picks up where this one stopped: the rest is still due
                break
            stored = customers.get(customer_id)
            if stored is None:
                summary.skipped["unknown_customer"] += len(invoices)
                continue
            self._run_customer(stored, invoices, settings, as_of, summary)
        self._emit_metrics(summary)
        return summary

    def dispatch(self, queue: WorkQueue, as_of: date | None = None) -> RunSummary:
        """The scheduled sweep past one Lambda: select the due invoices (one read each) and hand each customer's
        to the work queue with the invoices as read, so workers read nothing twice. A worker's claim checks
        that each invoice is still chaseable, so a snapshot that went stale in the queue sends nothing wrong."""
        summary, _settings, by_customer = self._select(as_of, self.dispatch_limit)
        items = [WorkItem(summary.run_id, customer_id, as_of, chunk)
                 for customer_id, invoices in by_customer.items()
                 for chunk in _chunks(invoices, WORK_ITEM_INVOICES)]
        summary.dispatched = queue.send(items) if items else 0
        return summary

    def work(self, item: WorkItem) -> RunSummary:
        """One customer's due invoices from the work queue: decide, send, record (safe to receive twice)."""
        summary = RunSummary(item.run_id, self.clock(), simulated=item.as_of is not None)
        settings = self.settings()
        if settings.kill_switch:
            summary.kill_switch = True  # the message is consumed; the invoices stay due for the next sweep
            return summary
        summary.refused = self.refusal("invoices")
        if summary.refused:
            return summary  # consumed too: the invoices stay due and the next sweep after the fix catches up
        summary.invoices_considered, summary.customers_considered = len(item.invoices), 1
        stored = self.customers.get_customers([item.customer_id]).get(item.customer_id)
        if stored is None:
            summary.skipped["unknown_customer"] += len(item.invoices)
        else:
            self._run_customer(stored, list(item.invoices), settings, item.as_of, summary)
        self._emit_metrics(summary)
        return summary

    def _select(self, as_of: date | None, limit: int) -> tuple[RunSummary, DunningSettings, dict[str, list[Invoice]]]:
        now = self.clock()
        summary = RunSummary(uuid.uuid4().hex, now, simulated=as_of is not None)
        settings = self.settings()
        by_customer: dict[str, list[Invoice]] = defaultdict(list)
        if settings.kill_switch:
            summary.kill_switch = True  # nothing read, nothing sent; the next run after release catches up
            return summary, settings, by_customer
        summary.refused = self.refusal("invoices")
        if summary.refused:
            return summary, settings, by_customer  # as the kill switch: nothing read, so nothing is lost
        until = now if as_of is None else end_of_day_anywhere(as_of)
        due = self.due.due_for_action(until, limit + 1)
        summary.more_due = len(due) > limit
        for invoice in due[:limit]:
            by_customer[invoice.customer_id].append(invoice)
        summary.invoices_considered = sum(len(v) for v in by_customer.values())
        summary.customers_considered = len(by_customer)
        return summary, settings, by_customer

    def _emit_metrics(self, summary: RunSummary) -> None:
        for channel, sent in summary.messages_sent.items():
            self.metrics.count("RemindersSent", sent, {"channel": channel})
        for reason, skipped in summary.skipped.items():
            self.metrics.count("InvoicesSkipped", skipped, {"reason": reason})
        failures = Counter(f["channel"] for f in summary.failed)
        for channel, failed in failures.items():
            self.metrics.count("RemindersFailed", failed, {"channel": channel})

    def preview(self, as_of: date) -> list[dict[str, Any]]:
        """What a run on `as_of` would send and why, without writing anything."""
        settings = self.settings()
        due = self.due.due_for_action(end_of_day_anywhere(as_of), self.batch_limit)
        customers = self.customers.get_customers({i.customer_id for i in due})
        out: list[dict[str, Any]] = []
        chosen: dict[str, tuple[Policy, PolicyChoice]] = {}
        for invoice in due:
            stored = customers.get(invoice.customer_id)
            if stored is None:
                out.append({"invoice_id": invoice.invoice_id, "number": invoice.number,
                            "customer_id": invoice.customer_id, "action": "skip", "reason": "unknown_customer"})
                continue
            customer = stored.customer
            if customer.customer_id not in chosen:
                chosen[customer.customer_id] = self.policy_of(customer, settings, as_of)
            policy, choice = chosen[customer.customer_id]
            decision = decide(state_of(invoice), customer, policy, history_of(invoice),
                              window_start(as_of, customer, policy), customer_paused=customer.dunning_paused,
                              kill_switch=settings.kill_switch, rate_table=settings.rate_table,
                              max_catch_up_days=settings.max_catch_up_days)
            out.append({**_decision_view(invoice, decision), "policy": choice.to_dict()})
        return out

    def policy_of(self, customer: Customer, settings: DunningSettings, today: date) -> tuple[Policy, PolicyChoice]:
        """The customer's own policy; else, where the settings map risk bands to policies, its band's; else the
        default. Risk is read once per customer, and only when it can change the answer."""
        band = None
        if not customer.policy_id and settings.policy_by_risk and self.risk_band is not None:
            band = self.risk_band(customer.customer_id, today)
        choice = choose_policy(customer.policy_id, band, settings.policy_by_risk)
        return self.policy_for(choice.policy_id), choice

    def agency_export(self, invoice_id: str) -> dict[str, Any]:
        """Everything an agency needs to take over one invoice: the invoice, every notice sent with its
        provider message id, every charge and the whole history."""
        invoice = self.invoices.get_invoices([invoice_id]).get(invoice_id)
        if invoice is None:
            raise NotFound("invoice", invoice_id, field="invoice_id")
        stored = self.customers.get_customers([invoice.customer_id]).get(invoice.customer_id)
        events = self.history.events(f"invoice#{invoice_id}")
        return {
            "invoice": {"invoice_id": invoice.invoice_id, "number": invoice.number, "currency": invoice.currency,
                        "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
                        "total": invoice.total.to_api(), "paid": invoice.paid.to_api(),
                        "credited": invoice.credited.to_api(), "charged": invoice.charged.to_api(),
                        "discounted": invoice.discounted.to_api(),
                        "balance": invoice.balance.to_api(), "status": invoice.status.value},
            "customer": None if stored is None else {"customer_id": stored.customer.customer_id,
                                                     **stored.customer.to_dict()},
            "charges": [c.to_dict() for c in invoice.charges],
            "notices": [{"at": e.at.isoformat(), **e.data} for e in events if e.type == "reminder.sent"],
            "letters": _letters_of(events),
            "history": [{"at": e.at.isoformat(), "type": e.type, "actor": e.actor, "data": dict(e.data)}
                        for e in events],
        }

    # ---- one customer --------------------------------------------------------------------------------

    def _run_customer(self, stored: StoredCustomer, invoices: list[Invoice], settings: DunningSettings,
                      as_of: date | None, summary: RunSummary) -> None:
        customer = stored.customer
        policy, _choice = self.policy_of(customer, settings, as_of or self.clock().date())
        now = self.clock() if as_of is None else window_start(as_of, customer, policy)
        invoices = self._settle_promises(customer, policy, invoices, now, summary)
        planned: list[Planned] = []
        for invoice in invoices:
            decision = decide(state_of(invoice), customer, policy, history_of(invoice), now,
                              customer_paused=customer.dunning_paused, rate_table=settings.rate_table,
                              max_catch_up_days=settings.max_catch_up_days)
            if decision.action == "send":
                planned.append(Planned(invoice, decision))
                continue
            summary.skipped[decision.reason] += 1
            if decision.reason in REVIEW_REASONS:
                self._ask_for_review(invoice, customer, decision, now)
            if invoice.next_action_at != decision.next_action_at:
                self._reschedule(invoice, decision.next_action_at, now)
        tz = customer_tz(customer, policy)
        today = now.astimezone(tz).date()
        planned = self._defer_first_contacts(planned, customer, policy, today, now, summary)
        if not planned:
            return
        failed: set[str] = set()
        # The invoices as last read or written: recording a send starts from these, not from a fresh read.
        latest = {p.invoice.invoice_id: p.invoice for p in planned}
        for channel in SEND_CHANNELS:
            lines = [p for p in planned if channel in p.decision.channels]
            if lines and not self._send(customer, policy, channel, lines, today, now, summary, latest):
                failed.update(p.invoice.invoice_id for p in lines)
        for p in planned:
            if p.invoice.invoice_id in failed:
                # Sent on no channel, or not on all: look again soon rather than at the next step.
                self._reschedule_fresh(p.invoice.invoice_id, now + RETRY_AFTER_FAILURE, now)

    def _send(self, customer: Customer, policy: Policy, channel: str, planned: list[Planned], today: date,
              now: datetime, summary: RunSummary, latest: dict[str, Invoice] | None = None) -> bool:
        key = f"{customer.customer_id}#{today.isoformat()}#{channel}"
        lines = [{
            "invoice_id": p.invoice.invoice_id,
            "step": p.decision.step.name if p.decision.step else "",
            "charges": [_charge_json(c) for c in p.decision.charges],
            "next_action_at": p.decision.next_action_at.isoformat() if p.decision.next_action_at else None,
            "actions": list(p.decision.actions),
        } for p in planned]
        claim = Claim(key, customer.customer_id, channel, today, summary.run_id, lines, lease_until=now + CLAIM_LEASE)
        attached: set[str] = set()  # the invoices whose PDF the message carries (never delivered before)

        def deliver(claim: Claim) -> Delivered | None:
            destination = self._postal(customer) if channel == "letter" else destination_for(customer, channel)
            if destination is None:  # decide() checked reachability; a contact suppressed meanwhile
                return None
            return Delivered(destination, self._deliver(customer, policy, channel, destination, planned, today, key,
                                                        attached))

        def record(attempts: Sequence[Attempt]) -> None:
            for attempt in attempts:
                if attempt.records:  # a fresh send starts from the invoices as read; a repair reads them again
                    self._record(attempt.claim, attempt.message_id, confirmed=attempt.confirmed, now=now,
                                 summary=summary, customer=customer,
                                 latest=latest if attempt.outcome is Outcome.SENT else None,
                                 attached=attached if attempt.outcome is Outcome.SENT else frozenset())

        def flag(existing: Claim) -> None:
            flag_unconfirmed(self.tasks, self.alerts, existing, customer, now, SYSTEM, "reminder")

        [attempt] = self.send_once.send([claim], now, deliver, record, flag)
        if attempt.outcome is Outcome.CHANGED:
            # Paid, disputed, promised... since the sweep read them: not in this message. The next run decides
            # about them again from what they are then (a settled invoice has left the index already).
            summary.skipped["changed_before_send"] += len(attempt.changed)
            rest = [p for p in planned if p.invoice.invoice_id not in attempt.changed]
            return self._send(customer, policy, channel, rest, today, now, summary, latest) if rest else True
        if attempt.outcome is Outcome.REFUSED:
            summary.failed.append({"customer_id": customer.customer_id, "channel": channel,
                                   "reason": attempt.reason or ""})
            return False
        if attempt.outcome is Outcome.SENT:
            summary.messages_sent[channel] += 1
        elif attempt.outcome is Outcome.NO_DESTINATION:
            summary.skipped["no_contact"] += len(planned)
        elif attempt.outcome is Outcome.IN_FLIGHT:
            summary.skipped["send_in_progress"] += len(planned)
        else:
            summary.repaired += attempt.outcome is Outcome.REPAIRED
            summary.unconfirmed += attempt.outcome is Outcome.UNCONFIRMED
            self._wait_for_next_day(attempt.claim, customer, planned, policy, now, summary)
        return True

    def _deliver(self, customer: Customer, policy: Policy, channel: str, destination: str, planned: list[Planned],
                 today: date, key: str, attached: set[str] | None = None) -> str:
        steps = [p.decision.step for p in planned if p.decision.step is not None]
        tone = worst_tone(steps)
        if tone in ("friendly", "firm") and all(p.decision.first_contact for p in planned):
            tone = "overdue_statement"  # the first word about these debts: no "reminder", no "again"
        promise_date = _missed_promise(planned) if tone in ("friendly", "firm") else None
        if promise_date is not None:
            tone = "promise_missed"  # a final notice or an escalation says more than a missed promise
        deadline = today + timedelta(days=7) if tone != "friendly" else None
        attachments = self._attachments(customer, planned) if channel == "email" else {}
        rendered_lines = [self._render_line(p, policy, today, undelivered=p.invoice.invoice_id in attachments)
                          for p in planned]
        if channel == "letter":
            return self._letter(tone, customer, planned, policy, rendered_lines, today, deadline, promise_date, key)
        if channel == "email":
            contact = next(c for c in customer.contacts if c.email == destination)
            portal_url = self._portal_url(customer.customer_id, destination)
            subject, html, text = self.renderer.email(tone, customer, contact, rendered_lines, today, deadline,
                                                      promise_date=promise_date, portal_url=portal_url)
            message_id = self.sender.send_email(OutgoingEmail(destination, subject, html, text, key,
                                                              tuple(attachments.values())))
            if attached is not None:
                attached.update(attachments)
            return message_id
        texter = next((c for c in customer.contacts if c.phone == destination), None)
        portal_url = self._portal_url(customer.customer_id, (texter.email if texter else None) or destination)
        return self.sender.send_sms(destination, self.renderer.sms(
            tone, customer, rendered_lines, today, deadline, promise_date=promise_date, portal_url=portal_url), key)

    def _portal_url(self, customer_id: str, contact: str) -> str | None:
        return None if self.portal_link is None else self.portal_link(customer_id, contact, self.clock())

    def _postal(self, customer: Customer) -> str | None:
        """Where a letter goes, as the send records it (the town: the audit trail keeps no street address)."""
        address = customer.address
        if address is None or self.letters is None:
            return None
        return "post:" + " ".join(x for x in (address.country, address.city) if x)

    def _letter(self, tone: str, customer: Customer, planned: list[Planned], policy: Policy, lines: list[Any],
                today: date, deadline: date | None, promise_date: date | None, key: str) -> str:
        """The step's message as a letter for the post: the email's wording in the customer's language, addressed
        to the company (greeting the first named contact), each invoice with its RF reference. Returns the
        letter's id, which the send records as its message id."""
        from chalicelib.formats.bank.references import format_rf
        from chalicelib.formats.invoice_pdf import invoice_rf
        from chalicelib.formats.letter_pdf import LetterInvoice
        from chalicelib.services.letters import LetterInvoiceRef, LetterRequest

        assert self.letters is not None
        named = next((c for c in customer.contacts if c.name), None)
        language = customer.language or (named.language if named else None)
        contact = Contact(name=named.name if named else None, language=language)
        refs = []
        for p in planned:
            invoice = p.invoice
            rf = invoice_rf(invoice.number)
            due = invoice.principal_to_chase(policy.charges_first) + (invoice.balance - invoice.principal_open(
                policy.charges_first)) + sum((c.amount for c in p.decision.charges), Money.zero(invoice.currency))
            refs.append(LetterInvoiceRef(invoice.invoice_id, LetterInvoice(
                invoice.number, invoice.due_date, invoice.currency, due.amount, format_rf(rf) if rf else None)))
        reference = refs[0].line.rf if len(refs) == 1 else None
        # The customer's portal, as the email would link it: minted for the first contact with an address.
        linked = destination_for(customer, "email")
        portal_url = self._portal_url(customer.customer_id, linked) if linked else None
        subject, _html, text = self.renderer.email(tone, customer, contact, lines, today, deadline,
                                                   promise_date=promise_date, payment_reference=reference,
                                                   portal_url=portal_url)
        steps = [p.decision.step.name for p in planned if p.decision.step is not None]
        try:
            letter = self.letters.queue(LetterRequest(key, customer, refs, steps, language, subject, text, today),
                                        self.clock())
        except Exception as exc:
            # Not in the print queue (the bucket or the table refused): nothing went out, so the claim is released
            # and a later run makes the letter again, under the same id.
            log.exception("letter not queued", extra={"customer_id": customer.customer_id})
            raise SendFailed(f"letter not queued: {type(exc).__name__}") from exc
        return letter.letter_id

    def _wait_for_next_day(self, existing: Claim, customer: Customer, planned: list[Planned], policy: Policy,
                           now: datetime, summary: RunSummary) -> None:
        """Today's message for this channel is out: the invoices not in it wait for the customer's next sending
        day."""
        already = {line["invoice_id"] for line in existing.lines}
        waiting = [p for p in planned if p.invoice.invoice_id not in already]
        if waiting:
            summary.skipped["customer_contacted_today"] += len(waiting)
            tz = customer_tz(customer, policy)
            tomorrow = existing.local_date + timedelta(days=1)
            when = next_send_time(tomorrow, tz, customer.country, policy.send_window, policy.business_days_only)
            for p in waiting:
                self._reschedule_fresh(p.invoice.invoice_id, when, now)

    def _attachments(self, customer: Customer, planned: list[Planned]) -> dict[str, Attachment]:
        """The PDFs of the invoices Dunwell was to deliver and never did, by invoice id. One that cannot be made is
        left out (and the message does not claim to carry it)."""
        found: dict[str, Attachment] = {}
        if self.documents is None:
            return found
        for p in planned:
            if never_delivered(p.invoice, customer):
                try:
                    pdf = self.documents.pdf(p.invoice.invoice_id)
                except Exception:
                    log.exception("no PDF for a never delivered invoice", extra={"invoice_id": p.invoice.invoice_id})
                    continue
                found[p.invoice.invoice_id] = Attachment(pdf.filename, "application/pdf", pdf.body)
        return found

    def _render_line(self, planned: Planned, policy: Policy, today: date, undelivered: bool = False) -> Any:
        invoice, decision = planned.invoice, planned.decision
        principal = invoice.principal_open(policy.charges_first)
        open_charges = invoice.balance - principal
        shown: list[tuple[str, Money]] = []
        if not open_charges.is_zero:
            if open_charges == invoice.charged:
                by_kind: dict[str, Money] = {}
                for c in invoice.charges:
                    by_kind[c.kind] = by_kind.get(c.kind, Money.zero(invoice.currency)) + c.amount
                shown.extend((CHARGE_CODES.get(k, k), v) for k, v in by_kind.items())
            else:
                shown.append(("charges", open_charges))
        shown.extend((CHARGE_CODES.get(c.kind, c.kind), c.amount) for c in decision.charges)
        # A deduction under dispute is held back: the reminder asks for the rest.
        return self.renderer.line(invoice, invoice.principal_to_chase(policy.charges_first), shown, today,
                                  decision.discount, undelivered=undelivered)

    def _defer_first_contacts(self, planned: list[Planned], customer: Customer, policy: Policy, today: date,
                              now: datetime, summary: RunSummary) -> list[Planned]:
        """A message that is a final notice or an escalation says "despite our reminders": an invoice never
        mentioned before must not appear in it. Such invoices get their own, neutral, message the next sending
        day (one message per customer and day)."""
        if not any(p.decision.step is not None and p.decision.step.presupposes_notices for p in planned):
            return planned
        waiting = [p for p in planned if p.decision.first_contact]
        if waiting:
            when = next_send_time(today + timedelta(days=1), customer_tz(customer, policy), customer.country,
                                  policy.send_window, policy.business_days_only)
            for p in waiting:
                summary.skipped["first_contact_deferred"] += 1
                self._reschedule(p.invoice, when, now)
        return [p for p in planned if not p.decision.first_contact]

    def _ask_for_review(self, invoice: Invoice, customer: Customer, decision: Decision, now: datetime) -> None:
        """An invoice Dunwell will not chase by itself (far overdue at import, or a ladder that cannot reach its
        next step honestly) waits for a collector, once, on the task list."""
        if self.tasks.open(Task(
                f"review:{invoice.invoice_id}", "dunning_review",
                f"Review before chasing: invoice {invoice.number} of {customer.name}, due {invoice.due_date}, "
                f"{invoice.balance} open", customer.customer_id, invoice.invoice_id,
                {"reason": decision.reason, "due_date": invoice.due_date.isoformat(),
                 "balance": invoice.balance.to_api(), "warnings": list(decision.warnings)}, now, SYSTEM)):
            self.metrics.count("InvoicesHeldForReview", 1, {"reason": decision.reason})

    def release_for_review(self, invoice_id: str, actor: str) -> Invoice:
        """A collector lets Dunwell chase an invoice it held for review: from the neutral first notice on."""
        now = self.clock()
        invoice: Invoice
        for _attempt in conflict_retries(f"releasing invoice {invoice_id}", self.metrics):
            found = self.invoices.get_invoices([invoice_id]).get(invoice_id)
            if found is None:
                raise NotFound("invoice", invoice_id, field="invoice_id")
            invoice = found
            if invoice.review_released:
                break  # released before: nothing to write, nothing to announce
            event = AuditEvent(f"invoice#{invoice_id}", "invoice.review_released", actor, now, f"v{invoice.version}",
                               {"due_date": invoice.due_date.isoformat(), "balance": invoice.balance.to_api()})
            try:
                invoice = self.invoices.save_invoice(replace(invoice, review_released=True, next_action_at=now),
                                                     [event], now)
                break
            except VersionConflict:
                continue
        self.tasks.complete(f"review:{invoice_id}", actor, now)
        return invoice

    # ---- recording -----------------------------------------------------------------------------------

    def _record(self, claim: Claim, message_id: str, *, confirmed: bool, now: datetime, summary: RunSummary,
                customer: Customer, latest: dict[str, Invoice] | None = None,
                attached: Iterable[str] = ()) -> None:
        """Record the claim's lines on its invoices. Starts from `latest` (the invoices as this run read or wrote
        them: no second read) and reads again only after a version conflict, or when there is none (a repair)."""
        known = latest if latest is not None else {}
        delivered_now = set(attached)
        for line in claim.lines:
            invoice_id, step = line["invoice_id"], line["step"]
            charges = tuple(_charge_from_json(c, claim.local_date, step) for c in line["charges"])
            next_at = datetime.fromisoformat(line["next_action_at"]) if line["next_action_at"] else None
            marker = f"{step}:{claim.channel}"
            for _attempt in conflict_retries(f"recording {marker} on invoice {invoice_id}", self.metrics):
                invoice = known.pop(invoice_id, None) or self.invoices.get_invoices([invoice_id]).get(invoice_id)
                if invoice is None:
                    break
                already_sent = marker in invoice.reminders_sent
                charged = invoice.with_charges(charges)
                new_charges = charged.charges[len(invoice.charges):]
                actions = [a for a in line["actions"] if f"{step}:action:{a}" not in invoice.reminders_sent]
                if already_sent and not new_charges and not actions:
                    break
                last_notice = max(d for d in (invoice.last_notice_on, claim.local_date) if d is not None)
                updated = replace(charged, reminders_sent=invoice.reminders_sent | {marker} | {
                    f"{step}:action:{a}" for a in actions}, next_action_at=next_at, broken_promise=None,
                    last_notice_on=last_notice)
                events = [] if already_sent else [AuditEvent(
                    f"invoice#{invoice_id}", "reminder.sent", SYSTEM, now, f"{claim.message_key}",
                    {"step": step, "channel": claim.channel, "message_key": claim.message_key,
                     "provider_message_id": message_id or None, "confirmed": confirmed,
                     "to": None if not claim.destination else claim.destination if claim.channel == "letter"
                     else mask(claim.destination),
                     "local_date": claim.local_date.isoformat()})]
                if not already_sent and claim.channel == "letter":
                    events.append(AuditEvent(f"invoice#{invoice_id}", "letter.queued", SYSTEM, now, message_id or
                                             claim.message_key, {"letter_id": message_id or None, "step": step,
                                                                 "key": letter_key(message_id) if message_id
                                                                 else None, "confirmed": confirmed}))
                events += [AuditEvent(f"invoice#{invoice_id}", "charge.added", SYSTEM, now, c.key,
                                      {**c.to_dict(), "balance": updated.balance.to_api()}) for c in new_charges]
                if invoice_id in delivered_now and updated.delivered_at is None:
                    # The reminder carried the invoice: it has reached the customer now.
                    updated = replace(updated, delivered_at=now)
                    events.append(AuditEvent(f"invoice#{invoice_id}", "invoice.delivered", SYSTEM, now,
                                             f"{claim.message_key}#attached", {
                                                 "channel": "email", "with": "reminder", "message_id": message_id,
                                                 "to": mask(claim.destination) if claim.destination else None,
                                                 "corrected": False, "document": "attached to the reminder",
                                                 "confirmed": confirmed}))
                try:
                    known[invoice_id] = self.invoices.save_invoice(updated, events, now)
                except VersionConflict:
                    continue  # a payment or amendment landed meanwhile: read again, merge again
                if not any(f"{step}:{c}" in invoice.reminders_sent for c in CHANNELS):
                    summary.reminders[step] += 1  # invoices reminded at this step, whatever the channels
                summary.charges_added += len(new_charges)
                self._escalate(updated, step, actions, customer, now, summary)
                break

    def _escalate(self, invoice: Invoice, step: str, actions: list[str], customer: Customer, now: datetime,
                  summary: RunSummary) -> None:
        for action in actions:
            summary.actions[action] += 1
            if action == "credit_hold":
                self._credit_hold(customer.customer_id, invoice, step, now)
            elif action == "collector_task":
                self.tasks.open(Task(f"escalation:{invoice.invoice_id}:{step}", "escalation",
                                     f"Escalated: invoice {invoice.number} of {customer.name}, "
                                     f"{invoice.balance} open", customer.customer_id, invoice.invoice_id,
                                     {"step": step, "balance": invoice.balance.to_api()}, now, SYSTEM))
            elif action == "notify_finance":
                self.alerts.publish(f"Dunwell: invoice {invoice.number} escalated", {
                    "invoice_id": invoice.invoice_id, "customer_id": customer.customer_id, "step": step,
                    "balance": invoice.balance.to_api(), "currency": invoice.currency})
            elif action == "agency_handoff":
                self.exports.put_json(f"exports/agency/{invoice.invoice_id}.json",
                                      self.agency_export(invoice.invoice_id))

    def _credit_hold(self, customer_id: str, invoice: Invoice, step: str, now: datetime) -> None:
        for _attempt in conflict_retries(f"credit hold on customer {customer_id}", self.metrics):
            stored = self.customers.get_customers([customer_id]).get(customer_id)
            if stored is None or stored.customer.credit_hold:
                return
            event = AuditEvent(f"customer#{customer_id}", "customer.credit_hold_set", SYSTEM, now,
                               f"{invoice.invoice_id}:{step}", {"reason": f"escalation of invoice {invoice.number}"})
            try:
                self.customers.update_customer(stored, replace(stored.customer, credit_hold=True), [event], now)
                return
            except VersionConflict:
                continue

    # ---- promises to pay ------------------------------------------------------------------------------

    def _settle_promises(self, customer: Customer, policy: Policy, invoices: list[Invoice], now: datetime,
                         summary: RunSummary) -> list[Invoice]:
        """Promises whose date and grace have passed (customer's calendar) end here, before the decision: kept
        (`promise.kept`), or broken (`promise.broken`, a collector task, and the next reminder says so). Either
        way the hold is lifted and the invoice is decided as it is now."""
        today = now.astimezone(customer_tz(customer, policy)).date()
        settled = []
        for invoice in invoices:
            current: Invoice | None = invoice
            for _attempt in conflict_retries(f"settling the promise on invoice {invoice.invoice_id}", self.metrics):
                assert current is not None
                outcome = promise_outcome(current, today)
                if outcome is None:
                    break
                promised = {"promised_until": str(current.promised_until),
                            "amount": current.promised_amount.to_api() if current.promised_amount else None,
                            "balance_at_promise": current.promise_balance.to_api() if current.promise_balance
                            else None, "balance": current.balance.to_api(), "currency": current.currency}
                if outcome is PromiseOutcome.BROKEN:  # first the task (idempotent by id): never a silent break
                    self.tasks.open(Task(
                        f"broken_promise:{current.invoice_id}:{current.promised_until}", "broken_promise",
                        f"Promise to pay broken: invoice {current.number} of {customer.name}, "
                        f"{promised['amount']} {current.currency} by {current.promised_until}",
                        customer.customer_id, current.invoice_id, promised, now, SYSTEM))
                event = AuditEvent(f"invoice#{current.invoice_id}", f"promise.{outcome.value}", SYSTEM, now,
                                   str(current.promised_until), promised)
                try:
                    current = self.invoices.save_invoice(settle_promise(current, outcome), [event], now)
                except VersionConflict:
                    current = self.invoices.get_invoices([invoice.invoice_id]).get(invoice.invoice_id)
                    if current is None:
                        break
                    continue
                summary.actions[f"promise_{outcome.value}"] += 1
                break
            if current is not None:
                settled.append(current)
        return settled

    def _reschedule(self, invoice: Invoice, when: datetime | None, now: datetime) -> None:
        # On a conflict the invoice changed meanwhile; its writer set a fresh next action and the next run decides.
        with suppress(VersionConflict):
            self.invoices.save_invoice(replace(invoice, next_action_at=when), [], now)

    def _reschedule_fresh(self, invoice_id: str, when: datetime, now: datetime) -> None:
        invoice = self.invoices.get_invoices([invoice_id]).get(invoice_id)
        if invoice is not None and invoice.next_action_at != when:
            self._reschedule(invoice, when, now)


# ---- helpers ---------------------------------------------------------------------------------------

def _chunks(items: Sequence[Invoice], size: int) -> list[Sequence[Invoice]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _missed_promise(planned: Sequence[Planned]) -> date | None:
    """The broken promise a message mentions (tone promise_missed): only when every invoice in it had one."""
    dates = [p.invoice.broken_promise for p in planned]
    return max(d for d in dates if d is not None) if dates and None not in dates else None


def _charge_json(charge: Charge) -> dict[str, Any]:
    return {"kind": charge.kind, "amount_minor": charge.amount.minor, "currency": charge.amount.currency,
            "reason": charge.reason, "key": charge.key}


def _charge_from_json(raw: Mapping[str, Any], charged_on: date, step: str) -> LedgerCharge:
    return LedgerCharge(raw["kind"], Money.from_minor(int(raw["amount_minor"]), raw["currency"]), raw["reason"],
                        raw["key"], charged_on, step)


def _decision_view(invoice: Invoice, decision: Decision) -> dict[str, Any]:
    return {
        "invoice_id": invoice.invoice_id, "number": invoice.number, "customer_id": invoice.customer_id,
        "balance": invoice.balance.to_api(), "currency": invoice.currency,
        "due_date": invoice.due_date.isoformat(),
        "action": decision.action, "reason": decision.reason,
        "step": decision.step.name if decision.step else None, "channels": list(decision.channels),
        "charges": [c.to_dict() for c in decision.charges],
        "skipped_steps": [{"step": s, "reason": r} for s, r in decision.skipped_steps],
        "actions": list(decision.actions),
        "next_action_at": decision.next_action_at.isoformat() if decision.next_action_at else None,
        "discount": None if decision.discount is None else {
            "amount": decision.discount.amount.to_api(), "last_day": decision.discount.last_day.isoformat()},
        "unreachable_channels": list(decision.unreachable_channels),
        "warnings": list(decision.warnings),
    }


def _letters_of(events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
    """The letters sent by post about an invoice, from its timeline: each with its PDF (in the bucket and over the
    API) and when it was queued and posted, for the agency's evidence pack."""
    letters: dict[str, dict[str, Any]] = {}
    for e in events:
        letter_id = e.data.get("letter_id")
        if e.type not in ("letter.queued", "letter.posted") or not letter_id:
            continue
        entry = letters.setdefault(letter_id, {"letter_id": letter_id, "key": letter_key(letter_id),
                                               "pdf": f"/letters/{letter_id}/pdf", "step": None, "queued_at": None,
                                               "posted_at": None, "posted_by": None})
        if e.type == "letter.queued":
            entry["queued_at"], entry["step"] = e.at.isoformat(), e.data.get("step")
        else:
            entry["posted_at"], entry["posted_by"] = e.at.isoformat(), e.actor
    return list(letters.values())
