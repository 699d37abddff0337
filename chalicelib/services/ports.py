"""What the use cases need from the outside world, as Protocols. Adapters implement them with AWS;
tests may implement them in memory."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import IntEnum
from typing import IO, Any, Generic, Protocol, TypeVar

from chalicelib.domain.analytics.behaviour import SettledRecord
from chalicelib.domain.analytics.prediction import Settled
from chalicelib.domain.customer import Contact, Customer
from chalicelib.domain.dunning.charges import DEFAULT_RATE_TABLE, RateTable
from chalicelib.domain.errors import DomainError, Kind
from chalicelib.domain.invoice import CreditNote, Invoice, InvoiceStatus
from chalicelib.domain.money import Money


@dataclass(frozen=True)
class AuditEvent:
    entity: str  # "invoice#INV-1"
    type: str  # "invoice.imported", "invoice.amended", ...
    actor: str  # "system:ingest" or "key:<name>"
    at: datetime
    discriminator: str  # makes the event key unique and a retry idempotent
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredCustomer:
    customer: Customer
    fingerprint: str
    version: int


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: datetime
    version_id: str | None = None


class FileStore(Protocol):
    def head(self, key: str) -> ObjectInfo | None: ...
    def open(self, key: str) -> IO[bytes]: ...
    def sha256(self, key: str) -> str: ...
    def copy(self, source_key: str, destination_key: str) -> None: ...
    def delete(self, key: str) -> None: ...
    def put_json(self, key: str, document: Mapping[str, Any]) -> None: ...
    def get_json(self, key: str) -> Any: ...
    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...
    def touch(self, key: str, counter: str, limit: int) -> int | None:
        """Re-write the object in place (a new Object Created event), counting in its metadata;
        None once the count has reached `limit`."""


class InsertConflict(Exception):
    """Some of the documents inserted already exist (a concurrent writer got there first)."""

    def __init__(self, existing_ids: Sequence[str]) -> None:
        super().__init__(f"{len(existing_ids)} documents already exist")
        self.existing_ids = list(existing_ids)


class VersionConflict(Exception):
    """The record changed since it was read; read it again and retry."""

    kind = Kind.CONFLICT


class ConflictRetriesExhausted(VersionConflict):
    """Every attempt of a read-modify-write lost to a concurrent writer. Raised, logged and counted, never
    swallowed: a reminder sent but not recorded, or a bounce not applied, must be seen (the caller's trigger is
    retried, and the dunning claim's repair path records what was sent)."""


def utc_now() -> datetime:
    """The real clock: what every use case reads when no `clock` is injected."""
    return datetime.now(UTC)


CONFLICT_ATTEMPTS = 5


@dataclass(frozen=True)
class Backoff:
    """Full jitter between attempts, for writers that pile onto one record (payments racing for an invoice): losers
    that re-read at once would collide again in lockstep. Most conflicts need none: the re-read is the wait."""

    base: float = 0.01
    cap: float = 0.5
    jitter: Callable[[float, float], float] = random.uniform
    sleep: Callable[[float], None] = time.sleep

    def pause(self, attempt: int) -> None:
        self.sleep(self.jitter(0, min(self.cap, self.base * 2 ** attempt)))


def conflict_retries(what: str, metrics: Metrics | None = None, attempts: int = CONFLICT_ATTEMPTS,
                     backoff: Backoff | None = None) -> Iterator[int]:
    """`for _ in conflict_retries("recording a reminder on INV-1"): ... break` runs the body up to `attempts`
    times, pausing by `backoff` before each attempt after the first; a loop that never breaks ends in
    ConflictRetriesExhausted instead of falling through silently."""
    for attempt in range(attempts):
        if attempt and backoff is not None:
            backoff.pause(attempt)
        yield attempt
    logging.getLogger("dunwell").error("gave up after %d version conflicts: %s", attempts, what)
    if metrics is not None:
        metrics.count("ConflictRetriesExhausted", 1, {})
    raise ConflictRetriesExhausted(f"{what}: still conflicting after {attempts} attempts")


class AlreadyRecorded(Exception):
    """This money movement was recorded before (perhaps through another notification)."""


@dataclass
class ProviderEventRecord:
    """A provider notification as seen: the webhook dedupe record."""

    dedupe_key: str
    status: str  # received | applied | waiting | ignored | duplicate
    type: str
    received_at: datetime
    payment_id: str | None = None
    raw_key: str | None = None
    detail: str | None = None


class LedgerStore(Protocol):
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]: ...
    def get_credit_notes(self, credit_note_ids: Iterable[str]) -> dict[str, CreditNote]: ...
    def insert_invoices(self, invoices: Sequence[Invoice], import_id: str, now: datetime) -> dict[str, str]:
        """Invoices just read as absent; only ingestion (one file at a time) creates invoices. Returns the
        ones the store refused (too large, a value it cannot hold) with the reason; every other is stored."""
    def save_invoice(self, invoice: Invoice, events: Sequence[AuditEvent], now: datetime) -> Invoice:
        """Conditional on the invoice's version; raises VersionConflict."""
    def insert_credit_note(self, note: CreditNote, invoice: Invoice | None, events: Sequence[AuditEvent],
                           import_id: str, now: datetime) -> None:
        """Inserts the note and saves the credited invoice in one transaction."""


class CustomerStore(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...
    def insert_customers(self, customers: Sequence[Customer], events: Sequence[AuditEvent], now: datetime
                         ) -> dict[str, str]:
        """Like insert_invoices: the customers the store refused, with the reason."""
    def update_customer(self, stored: StoredCustomer, customer: Customer, events: Sequence[AuditEvent],
                        now: datetime) -> None: ...


class ImportStore(Protocol):
    def get(self, import_id: str) -> ImportRecord | None: ...
    def claim(self, record: ImportRecord, now: datetime) -> bool:
        """Create, or take over an expired lease; False when another worker holds it or it is done."""
    def finish(self, record: ImportRecord) -> None: ...
    def release(self, record: ImportRecord) -> None:
        """Give up the lease of an attempt that failed, so the next delivery takes over at once."""


class StoreErrors(Protocol):
    """Tells the store's own failures from a row's: only the adapter knows what its exceptions mean."""

    def is_outage(self, exc: BaseException) -> bool:
        """The store (or the way to it) failed, not the item: throttled, timed out, unreachable, no access."""
    def describe(self, exc: BaseException) -> str:
        """Why an item was refused, for the import report."""


@dataclass
class ImportRecord:
    import_id: str
    source_key: str
    status: str  # in_progress | processed | processed_with_errors | rejected
    started_at: datetime
    lease_owner: str
    lease_until: datetime | None = None
    content_sha256: str | None = None
    source_version: str | None = None
    size_bytes: int = 0
    format: str | None = None
    mapping: str | None = None
    destination_key: str | None = None
    report_key: str | None = None
    finished_at: datetime | None = None
    counts: dict[str, Any] = field(default_factory=dict)  # ints, and skipped_reasons: {reason: rows}
    reason: str | None = None
    rejected_sample: list[dict[str, Any]] = field(default_factory=list)


# ---- messages to customers and work for people (dunning, plans, receipts, payments) ---------------------

CLAIM_LEASE = timedelta(minutes=10)  # how long a claim in `sending` belongs to the run that wrote it
RETRY_AFTER_FAILURE = timedelta(hours=1)


class InvoicesChanged(Exception):
    """Invoices of a message stopped being chaseable (paid, disputed, ...) between the sweep's read and the claim."""

    def __init__(self, invoice_ids: Sequence[str]) -> None:
        super().__init__(f"{len(invoice_ids)} invoices changed before the send")
        self.invoice_ids = frozenset(invoice_ids)


class SendFailed(Exception):
    """SES / SNS did not take the message (throttled, rejected, unavailable): not sent, retry later."""


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    html: str
    text: str
    message_key: str
    attachments: tuple[Attachment, ...] = ()
    tag: str = "reminder"  # the SES message tag "dunwell" (reminder, invoice)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes


@dataclass
class Claim:
    message_key: str
    customer_id: str
    channel: str
    local_date: date
    run_id: str
    lines: list[dict[str, Any]]
    status: str = "sending"
    lease_until: datetime | None = None
    destination: str | None = None
    provider_message_id: str | None = None
    recorded: bool = False


@dataclass(frozen=True)
class Claimed:
    """The claim was written: this run sends."""

    claim: Claim


@dataclass(frozen=True)
class AlreadyClaimed:
    """A claim under this key exists: another run sends or sent (services/send_once.py decides what is left)."""

    existing: Claim


@dataclass
class Task:
    task_id: str
    kind: str
    title: str
    customer_id: str | None
    invoice_id: str | None
    detail: dict[str, Any]
    created_at: datetime
    created_by: str
    status: str = "open"
    completed_at: datetime | None = None
    completed_by: str | None = None


class Claims(Protocol):
    def claim(self, claim: Claim, now: datetime) -> Claimed | AlreadyClaimed:
        """Write the claim unless one exists. Raises InvoicesChanged when an invoice of the claim is no longer
        chaseable at this moment (then nothing is written)."""
    def take_over(self, claim: Claim, run_id: str, now: datetime) -> bool: ...
    def mark_sent(self, claim: Claim, provider_message_id: str, destination: str, now: datetime) -> None: ...
    def mark(self, claim: Claim, status: str, recorded: bool) -> None: ...
    def release(self, claim: Claim) -> None: ...


class Sender(Protocol):
    def send_email(self, email: OutgoingEmail) -> str: ...
    def send_sms(self, phone: str, text: str, message_key: str) -> str: ...


class TaskStore(Protocol):
    def open(self, task: Task) -> bool:
        """Create unless a task with this id exists; True when created."""

    def complete(self, task_id: str, actor: str, now: datetime) -> Task | None:
        """Mark done (audited); None when there is no such task."""


class Alerts(Protocol):
    def publish(self, subject: str, message: dict[str, Any]) -> None: ...


class Metrics(Protocol):
    def count(self, name: str, value: int, dimensions: Mapping[str, str]) -> None: ...


def flag_unconfirmed(tasks: TaskStore, alerts: Alerts, claim: Claim, customer: Customer, now: datetime, actor: str,
                     what: str) -> None:
    """A message whose outcome is unknown (the sender died after handing it over) is not sent again: a human is
    told, by a task and an alert, to check the provider's logs."""
    tasks.open(Task(f"unconfirmed:{claim.message_key}", "unconfirmed_reminder",
                    f"Check whether the {claim.channel} {what} of {claim.local_date} reached {customer.name}",
                    customer.customer_id, None, {"message_key": claim.message_key, "lines": claim.lines}, now, actor))
    alerts.publish("Dunwell: reminder outcome unknown", {
        "message_key": claim.message_key, "customer_id": customer.customer_id,
        "why": "the sending process stopped between handing the message over and recording it; it was not sent "
               "again"})


# ---- dunning --------------------------------------------------------------------------------------

MAX_CATCH_UP_DAYS = 365  # older debts at go-live wait for a collector's release (decision.py)


@dataclass(frozen=True)
class DunningSettings:
    kill_switch: bool = False
    rate_table: RateTable = DEFAULT_RATE_TABLE
    version: int = 0
    max_catch_up_days: int = MAX_CATCH_UP_DAYS
    # A customer without its own policy_id gets the policy named for its risk band (domain/analytics/behaviour.py);
    # empty: risk chooses nothing and the sweep reads no settlement log.
    policy_by_risk: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kill_switch": self.kill_switch, "reference_rates": self.rate_table.to_rows(),
                "max_catch_up_days": self.max_catch_up_days,
                "policy_by_risk": dict(sorted(self.policy_by_risk.items()))}


class DueInvoices(Protocol):
    def due_for_action(self, until: datetime, limit: int) -> list[Invoice]: ...


class Invoices(Protocol):
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]: ...
    def save_invoice(self, invoice: Invoice, events: Sequence[AuditEvent], now: datetime) -> Invoice: ...


class Customers(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...
    def update_customer(self, stored: StoredCustomer, customer: Customer, events: Sequence[AuditEvent],
                        now: datetime) -> None: ...


class RenderedEmail(Protocol):
    """A rendered email (subject, HTML and text parts), whichever formats module made it."""

    @property
    def subject(self) -> str: ...
    @property
    def html(self) -> str: ...
    @property
    def text(self) -> str: ...


class Renderer(Protocol):
    def email(self, tone: str, customer: Customer, contact: Contact, lines: Sequence[Any], today: date,
              deadline: date | None, promise_date: date | None = None, *,
              portal_url: str | None = None, payment_reference: str | None = None) -> tuple[str, str, str]: ...
    def sms(self, tone: str, customer: Customer, lines: Sequence[Any], today: date, deadline: date | None,
            promise_date: date | None = None, *, portal_url: str | None = None) -> str: ...
    def line(self, invoice: Invoice, principal: Money, charges: Sequence[tuple[str, Money]], today: date,
             discount: Any, undelivered: bool = False) -> Any: ...


class Exports(Protocol):
    def put_json(self, key: str, document: Mapping[str, Any]) -> None: ...


class History(Protocol):
    def events(self, entity: str) -> list[AuditEvent]: ...


@dataclass(frozen=True)
class WorkItem:
    run_id: str
    customer_id: str
    as_of: date | None
    invoices: Sequence[Invoice]


class WorkQueue(Protocol):
    def send(self, items: Sequence[WorkItem]) -> int:
        """Queue the items; returns how many messages were sent."""


# ---- API keys -------------------------------------------------------------------------------------

class Role(IntEnum):
    """Ordered: each role can do everything the ones below it can."""

    VIEWER = 1
    COLLECTOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"role must be one of: {', '.join(r.name.lower() for r in cls)}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    name: str
    role: Role
    secret_sha256: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None


# ---- events out -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class StreamChange:
    sequence_number: str
    event_id: str  # "<entity>/<event key>": unique and stable for each audit event
    event: AuditEvent | None  # None: not a new audit event (a TTL delete, an update): nothing to publish


class EventBus(Protocol):
    def put(self, entries: Sequence[dict[str, Any]]) -> list[bool]:
        """Put up to 10 entries; one flag per entry, True when EventBridge accepted it."""


# ---- the read side (what the finance API lists) ---------------------------------------------------

@dataclass(frozen=True)
class InvoiceFilter:
    statuses: Sequence[InvoiceStatus] = ()
    customer_id: str | None = None
    due_before: date | None = None  # due_date < due_before
    due_after: date | None = None  # due_date > due_after
    # The order: "due_date" (each status in turn, by due date; one customer: by due date), "-days_overdue" (open
    # invoices, earliest due first), "-balance" (open invoices, largest balance first, currency by currency).
    sort: str = "due_date"
    currency: str | None = None  # with sort="-balance" only
    search: str | None = None  # an invoice number prefix, or a customer name prefix (then their invoices)


class ListRefused(DomainError):
    """A list asked in a way no index answers (it would need a Scan or a filter over the whole ledger), or more
    rows than a list answers at once. 400, naming the parameter."""

    code = "invalid_parameter"
    kind = Kind.MALFORMED


@dataclass(frozen=True)
class CustomerBalance:
    customer_id: str
    currency: str
    balance: Money
    overdue: Money                     # the part past due at as_of
    buckets: Mapping[str, Money]       # "current", "1_30", "31_60", "61_90", "over_90"


class OpenBalances(Protocol):
    def customer_balances(self, as_of: date, currency: str | None = None) -> list[CustomerBalance]:
        """Every customer with an open balance at as_of (in currency, or in each currency), largest first."""
    def balances_of(self, customer_ids: Sequence[str], as_of: date) -> list[CustomerBalance]: ...


@dataclass(frozen=True)
class PaymentFilter:
    unapplied: bool = False
    customer_id: str | None = None
    received_from: date | None = None  # inclusive
    received_to: date | None = None  # inclusive


@dataclass(frozen=True)
class Page:
    items: list[Any]
    cursor: dict[str, Any] | None  # {"p": partition index, "k": DynamoDB LastEvaluatedKey}


# ---- analytics: invoice changes, as the invoices table's stream tells them ------------------------

@dataclass(frozen=True)
class InvoiceChange:
    sequence_number: str
    before: Invoice | None  # None on INSERT
    after: Invoice | None  # None on REMOVE
    effective_on: date


class InvoiceProjection(Protocol):
    """A read model kept from the invoices table's changes (the stream handler calls each, in order)."""

    def apply(self, changes: Sequence[InvoiceChange]) -> None: ...


# ---- analytics: the settlement log (services/settlement_log.py) -----------------------------------

@dataclass(frozen=True)
class SettlementEntry:
    """One settled invoice in the log."""

    customer_id: str
    invoice_id: str
    number: str
    currency: str
    issue_date: date
    due_date: date
    amount_minor: int
    settled_on: date
    disputed: bool = False
    promised: bool = False
    promise_broken: bool = False

    def settled(self) -> Settled:
        return Settled(invoice_id=self.invoice_id, issue_date=self.issue_date, due_date=self.due_date,
                       amount_minor=self.amount_minor, settled_on=self.settled_on, disputed=self.disputed,
                       promised=self.promised)

    def record(self) -> SettledRecord:
        return SettledRecord(self.settled(), promise_broken=self.promise_broken)


@dataclass(frozen=True)
class Pointer:
    """What the log knows of one invoice: the latest version applied, where its record is, the flags seen."""

    invoice_id: str
    customer_id: str
    version: int
    settled_on: date | None
    disputed: bool = False
    promised: bool = False
    promise_broken: bool = False
    rev: int = 0  # bumped by every write: the condition of the next one

    @property
    def flags(self) -> tuple[bool, bool, bool]:
        return self.disputed, self.promised, self.promise_broken


class SettlementStore(Protocol):
    def pointer(self, invoice_id: str) -> Pointer | None: ...
    def write(self, old: Pointer | None, new: Pointer, entry: SettlementEntry | None) -> None:
        """Replace `old` (as read; VersionConflict when it changed) by `new` in one transaction: the record at
        old.settled_on goes when the settlement date moved or went, `entry` (if any) is put."""
    def latest(self, customer_id: str, as_of: date, limit: int) -> list[SettlementEntry]:
        """The customer's settlements on or before `as_of`, latest first, at most `limit`: one Query."""
    def portfolio(self, as_of: date, limit: int) -> list[SettlementEntry]:
        """Every customer's settlements on or before `as_of`, latest first, at most `limit`."""
# ---- the dashboard and the weekly digest (chalicelib/services/dashboard.py) -----------------------
#
# What the page and the digest show, as data. Each figure comes from a narrow port below; the dashboard composes
# them (DashboardSource). A port that is not configured, or has nothing yet, is shown as such in plain words:
# never as a made-up number. Amounts are Decimals in the currency's units; days and percentages Decimals to one
# decimal; None where a figure is undefined (a month without sales has no DSO).



@dataclass(frozen=True)
class AgingFigures:
    """Open AR at the end of `as_of` by days past due (analytics-design.md's buckets), in one currency."""

    currency: str
    buckets: Mapping[str, Decimal]  # every key of domain.analytics.aging.BUCKETS
    total: Decimal


@dataclass(frozen=True)
class MonthFigures:
    """One month of the collection metrics, that month alone as the period (issue 12 item 3)."""

    month: str  # "YYYY-MM"
    dso: Decimal | None
    best_possible_dso: Decimal | None
    add: Decimal | None
    cei: Decimal | None  # percent


@dataclass(frozen=True)
class ForecastWeek:
    """A forecast week: expected receipts with their low-high range; `actual` receipts once the week is over."""

    start: date
    end: date
    expected: Decimal
    low: Decimal
    high: Decimal
    actual: Decimal | None = None


@dataclass(frozen=True)
class OverdueCustomer:
    customer_id: str
    name: str
    overdue: Decimal  # past due at as_of
    total: Decimal  # open at as_of
    risk_band: str | None = None  # low | medium | high; None where no risk is known
    risk_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class DisputeAge:
    """Open disputes at as_of whose age falls in a band."""

    band: str  # "0_7", "8_30", "31_60", "over_60"
    label: str  # "0-7 days"
    count: int
    amount: Decimal  # what they dispute: the deduction, or the invoice's balance when opened


T = TypeVar("T")


@dataclass(frozen=True)
class Figure(Generic[T]):
    """One figure of the dashboard: its value, or why there is none (`missing`, plain words for the page)."""

    value: T | None
    missing: str | None = None

    @property
    def shown(self) -> bool:
        return self.value is not None and self.missing is None


@dataclass(frozen=True)
class DashboardFigures:
    as_of: date
    currency: str
    aging: Figure[AgingFigures]
    months: Figure[tuple[MonthFigures, ...]]  # oldest first, 12 months ending with as_of's month
    forecast: Figure[tuple[ForecastWeek, ...]]
    overdue_customers: Figure[tuple[OverdueCustomer, ...]]  # largest overdue first
    disputes: Figure[tuple[DisputeAge, ...]]


class AgingSource(Protocol):
    def aging(self, as_of: date, currency: str) -> AgingFigures | None:
        """Open AR by bucket at the end of `as_of` (services/reports.py of an-core); None when the ledger has
        nothing in `currency` yet."""


class MonthlyMetricsSource(Protocol):
    def monthly(self, first_month: date, as_of: date, currency: str) -> Sequence[MonthFigures]:
        """DSO, BPDSO, ADD and CEI per calendar month from `first_month` (its 1st) to `as_of`'s month (the last
        month up to `as_of` only), oldest first (services/reports.py of an-core: the `months` of
        GET /reports/metrics). Empty when there is no history yet."""


class ForecastSource(Protocol):
    def forecast_against_actuals(self, as_of: date, currency: str, weeks: int) -> Sequence[ForecastWeek]:
        """The `weeks` forecast weeks after `as_of` (week 1 starts the day after), and the weeks before it that a
        stored forecast snapshot covered, with their actual receipts (an-predict's cash forecast and its
        snapshots); oldest first. Empty when no forecast can be made yet."""


class OverdueCustomersSource(Protocol):
    def largest_overdue(self, as_of: date, currency: str, limit: int) -> Sequence[OverdueCustomer]:
        """The `limit` customers with the most past due at `as_of`, largest first, each with its risk band and
        reasons where known (an-core's per-customer balances, an-predict's risk)."""


class DisputeAgesSource(Protocol):
    def disputes_by_age(self, as_of: date, currency: str) -> Sequence[DisputeAge]:
        """Disputes open at the end of `as_of`, by how long they had been open then."""


class DashboardSource(Protocol):
    def figures(self, as_of: date, currency: str) -> DashboardFigures: ...


# ---- personal portal links (services/portal_links.py) --------------------------------------------------


@dataclass(frozen=True)
class LinkRecord:
    """A portal link as stored: the SHA-256 (hex) of its token, never the token."""

    token_hash: str
    customer_id: str
    contact_email: str
    link_id: str  # "<revocation generation>.<random hex>": public, names the link in audit events and sessions
    generation: int
    issued_at: datetime
    expires_at: datetime


def address_key(email: str) -> str:
    """How an address is looked up and keyed: lower-cased, hashed (no address in a key)."""
    import hashlib

    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


# ---- card checkout (services/portal_payments.py; adapters/stripe_checkout.py) ------------------------------------


class CheckoutUnavailable(DomainError):
    """The card processor refused the checkout or could not be reached: the pay page offers the bank transfer."""

    code = "checkout_unavailable"
    kind = Kind.CONFLICT


@dataclass(frozen=True)
class CheckoutLine:
    invoice_id: str
    number: str
    amount: Money  # what this payment settles on the invoice (the discounted amount inside the window)


@dataclass(frozen=True)
class CheckoutRequest:
    """One hosted checkout (a Stripe Checkout Session, mode payment) for invoices of one customer in one currency."""

    customer_id: str
    currency: str
    lines: tuple[CheckoutLine, ...]
    success_url: str
    cancel_url: str
    idempotency_key: str  # per (customer, invoices, amounts, day): a double click gets the same session
    locale: str | None = None  # the customer's language; None: the processor decides
    payer_email: str | None = None
    initiated_on: date | None = None  # the day priced: an early-payment discount is judged by it (domain/discounts.py)

    @property
    def invoice_numbers(self) -> str:
        """The invoice numbers, comma separated: what the webhook's metadata `invoice_numbers` carries back."""
        return ",".join(line.number for line in self.lines)


class CardCheckout(Protocol):
    def available(self) -> bool:
        """Whether card payment is configured (a secret key is set)."""

    def create_session(self, request: CheckoutRequest) -> str:
        """The hosted page's URL; CheckoutUnavailable when the processor refuses or cannot be reached."""
