"""In-memory ports for the sweeps (DunningService, PlanService) and the send-once component: the conditions of
the DynamoDB adapters, none of their cost. (The ledger, and the ports of payments and ingest, are in fakes.py.)"""

from dataclasses import replace

from chalicelib.domain.invoice import InvoiceStatus
from chalicelib.domain.plans import PlanStatus
from chalicelib.services.ports import AlreadyClaimed, Claimed, InvoicesChanged, StoredCustomer, VersionConflict
from chalicelib.services.send_once import SendState, state_of

CHASEABLE = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


class Customers:
    def __init__(self, *customers):
        self.stored = {c.customer_id: StoredCustomer(c, "fp", 1) for c in customers}

    def get_customers(self, ids):
        return {i: self.stored[i] for i in ids if i in self.stored}

    def update_customer(self, stored, customer, events, now):
        self.stored[customer.customer_id] = StoredCustomer(customer, "fp", stored.version + 1)


class Claims:
    """DynamoClaims' conditions: the claim unless one exists, and each invoice still chaseable (each plan still
    active) at that moment; take over, and release, only as the holder of a claim still sending. Without a ledger
    only the `unchaseable` invoices count as changed; `die_at` ("mark_sent" or "mark") makes the process die
    instead of that write."""

    def __init__(self, ledger=None, plans=None, *, unchaseable=()):
        self.ledger, self.plans, self.items = ledger, plans, {}
        self.unchaseable = set(unchaseable)
        self.die_at = None

    def _changed(self, invoice_id, claim):
        if invoice_id in self.unchaseable:
            return True
        if self.ledger is None:
            return False
        invoice = self.ledger.invoices.get(invoice_id)
        return invoice is None or invoice.status not in CHASEABLE or invoice.in_plan or (
            invoice.promised_until is not None and invoice.promised_until >= claim.local_date)

    def claim(self, claim, now):
        changed = []
        for line in claim.lines:
            if "invoice_id" in line:
                if self._changed(line["invoice_id"], claim):
                    changed.append(line["invoice_id"])
            elif self.plans.plans[line["plan_id"]].status is not PlanStatus.ACTIVE:
                changed.append(line["plan_id"])
        if changed:
            raise InvoicesChanged(changed)
        if claim.message_key in self.items:
            return AlreadyClaimed(replace(self.items[claim.message_key]))
        self.items[claim.message_key] = replace(claim, status="sending", recorded=False)
        return Claimed(claim)

    def take_over(self, claim, run_id, now):
        item = self.items[claim.message_key]
        if item.run_id != claim.run_id or item.status != "sending":
            return False
        item.run_id = run_id
        return True

    def mark_sent(self, claim, provider_message_id, destination, now):
        if self.die_at == "mark_sent":
            raise Died
        item = self.items[claim.message_key]
        item.status, item.provider_message_id, item.destination = "sent", provider_message_id, destination

    def mark(self, claim, status, recorded):
        if self.die_at == "mark":
            raise Died
        item = self.items[claim.message_key]
        item.status, item.recorded = status, recorded

    def release(self, claim):
        item = self.items.get(claim.message_key)
        if item is not None and item.run_id == claim.run_id and item.status == "sending":
            del self.items[claim.message_key]

    def state(self, key):
        return state_of(self.items[key]) if key in self.items else SendState.RELEASED


class Died(Exception):
    """The process stopped here (a Lambda timeout, an out-of-memory kill)."""


class Sender:
    def __init__(self):
        self.emails, self.sms = [], []

    def send_email(self, email):
        self.emails.append(email)
        return f"ses-{len(self.emails)}"

    def send_sms(self, phone, text, message_key):
        self.sms.append((phone, text, message_key))
        return f"sns-{len(self.sms)}"


class Renderer:
    """Keeps what each message was asked to say: its tone and its lines."""

    def __init__(self):
        self.messages = []
        self.portal_urls = []

    def line(self, invoice, principal, charges, today, discount, undelivered=False):
        return f"{invoice.invoice_id} (attached)" if undelivered else invoice.invoice_id

    def instalment_line(self, plan, row, today):
        return f"{plan.plan_id}#{row.instalment.number}"

    def email(self, tone, customer, contact, lines, today, deadline, promise_date=None, payment_reference=None,
              portal_url=None):
        self.messages.append(("email", tone, list(lines)))
        self.portal_urls.append(portal_url)
        return f"{tone}: {', '.join(lines)}", "<p>html</p>", "text"

    def sms(self, tone, customer, lines, today, deadline, promise_date=None, portal_url=None):
        self.messages.append(("sms", tone, list(lines)))
        self.portal_urls.append(portal_url)
        return f"{tone}: {', '.join(lines)}"


class Tasks:
    def __init__(self):
        self.tasks = {}

    def open(self, task):
        if task.task_id in self.tasks:
            return False
        self.tasks[task.task_id] = task
        return True

    def complete(self, task_id, actor, now):
        task = self.tasks.get(task_id)
        if task is not None:
            task.status = "done"
        return task


class Recorded:
    """Alerts, metrics and exports: what was published, counted, written."""

    def __init__(self):
        self.published, self.counted, self.documents = [], [], {}

    def publish(self, subject, message):
        self.published.append(subject)

    def count(self, name, value, dimensions):
        self.counted.append((name, value))

    def put_json(self, key, document):
        self.documents[key] = document

    def events(self, entity):
        return []


class Plans:
    """Payment plans saved all or nothing with their invoices, each at the version read, like DynamoPlans."""

    def __init__(self, ledger):
        self.ledger, self.plans, self.events = ledger, {}, []
        self.after_due = None  # what happens between the sweep's read and its claims (a collector cancels)

    def get(self, plan_id):
        return self.plans.get(plan_id)

    def save(self, plan, invoices, events, now):
        current = self.plans.get(plan.plan_id)
        if (current.version if current else 0) != plan.version:
            raise VersionConflict(plan.plan_id)
        for i in invoices:
            if self.ledger.invoices[i.invoice_id].version != i.version:
                raise VersionConflict(i.invoice_id)
        saved_invoices = [replace(i, version=i.version + 1) for i in invoices]
        self.ledger.invoices.update({i.invoice_id: i for i in saved_invoices})
        saved = replace(plan, version=plan.version + 1)
        self.plans[plan.plan_id] = saved
        self.events.extend(events)
        return saved, saved_invoices

    def due(self, until, limit):
        found = [p for p in self.plans.values() if p.next_action_at is not None and p.next_action_at <= until]
        if self.after_due is not None:
            self.after_due()
        return found[:limit]

    def for_customer(self, customer_id, limit, cursor):
        return [p for p in self.plans.values() if p.customer_id == customer_id][:limit], None

    def by_status(self, status, limit, cursor):
        return [p for p in self.plans.values() if p.status.value == status][:limit], None
