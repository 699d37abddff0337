"""PynamoDB models: the DynamoDB layout. Table names are bound at run time by `bind_tables`, never at
import, so packaging and tests can import this module without AWS settings.

The key schemas and indexes here must match infra/resources.yaml; tests/integration/test_schema.py
compares them, and the local stack provisions tables from that YAML.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
import pynamodb.connection.base
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.config import Settings

UNBOUND = "unbound-table"


class _Meta:
    table_name = UNBOUND
    region: str | None = None
    host: str | None = None
    max_retry_attempts = 8


class InvoicesByCustomer(GlobalSecondaryIndex["InvoiceModel"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    due_key = UnicodeAttribute(range_key=True)


class InvoicesByStatus(GlobalSecondaryIndex["InvoiceModel"]):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    due_key = UnicodeAttribute(range_key=True)


class InvoicesByReference(GlobalSecondaryIndex["InvoiceModel"]):
    """Invoice numbers as remittance text spells them (see domain.ids.reference_key)."""

    class Meta:
        index_name = "by_reference"
        projection = AllProjection()

    reference_key = UnicodeAttribute(hash_key=True)


class InvoicesDueForAction(GlobalSecondaryIndex["InvoiceModel"]):
    """Sparse: only outstanding invoices the dunning sweep must look at carry these keys. The sweep queries
    each shard for `next_action_key <= now`, so it reads the invoices due for a decision and nothing else.
    Shards (by customer) spread the writes of a large import over several partitions."""

    class Meta:
        index_name = "due_for_action"
        projection = AllProjection()

    dunning_shard = UnicodeAttribute(hash_key=True)
    next_action_key = UnicodeAttribute(range_key=True)


class OpenInvoicesByDue(GlobalSecondaryIndex["InvoiceModel"]):
    """Sparse: only outstanding invoices carry `open_shard`. Earliest due first = most days overdue first.
    Sharded (by invoice id) so a large import's writes spread over partitions; a page merges the shards."""

    class Meta:
        index_name = "open_by_due"
        projection = AllProjection()

    open_shard = UnicodeAttribute(hash_key=True)
    due_key = UnicodeAttribute(range_key=True)


class OpenInvoicesByBalance(GlobalSecondaryIndex["InvoiceModel"]):
    """Sparse, the same shards: "<currency>#<inverted balance>#<invoice_id>", largest balance first."""

    class Meta:
        index_name = "open_by_balance"
        projection = AllProjection()

    open_shard = UnicodeAttribute(hash_key=True)
    balance_key = UnicodeAttribute(range_key=True)


class OpenInvoicesOfCustomer(GlobalSecondaryIndex["InvoiceModel"]):
    """Sparse: one customer's outstanding invoices, largest balance first (and its open balance, read whole)."""

    class Meta:
        index_name = "open_by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    balance_key = UnicodeAttribute(range_key=True)


class InvoicesByNumber(GlobalSecondaryIndex["InvoiceModel"]):
    """Every invoice by its number as domain.worklists.number_search_key spells it: prefix search. Sharded like
    open_by_due."""

    class Meta:
        index_name = "by_number"
        projection = AllProjection()

    list_shard = UnicodeAttribute(hash_key=True)
    number_key = UnicodeAttribute(range_key=True)


class InvoiceModel(Model):
    class Meta(_Meta):
        pass

    invoice_id = UnicodeAttribute(hash_key=True)
    number = UnicodeAttribute()
    reference_key = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    issue_date = UnicodeAttribute()
    due_date = UnicodeAttribute()
    due_key = UnicodeAttribute()  # "<due_date>#<invoice_id>": sorts by due date, unique
    status = UnicodeAttribute()  # derived from the amounts; stored for the by_status index
    total_minor = NumberAttribute()
    paid_in_source_minor = NumberAttribute(default=0)
    applied_minor = NumberAttribute(default=0)
    credited_minor = NumberAttribute(default=0)
    written_off_minor = NumberAttribute(default=0)
    balance_minor = NumberAttribute()  # derived; stored so summaries need no recomputation
    disputed = BooleanAttribute(default=False)
    void = BooleanAttribute(default=False)
    buyer_reference = UnicodeAttribute(null=True)
    fingerprint = UnicodeAttribute()
    import_id = UnicodeAttribute(null=True)
    charges = JSONAttribute(null=True)  # [{kind, amount_minor, reason, key, charged_on, step}]
    charged_minor = NumberAttribute(default=0)
    reminders_sent = JSONAttribute(null=True)  # sorted ["<step>:<channel>", ...]
    promised_until = UnicodeAttribute(null=True)
    in_plan = BooleanAttribute(default=False)
    plan_id = UnicodeAttribute(null=True)  # the active payment plan that holds it
    disputed_amount_minor = NumberAttribute(null=True)  # a deduction held back by an open dispute
    dispute_id = UnicodeAttribute(null=True)  # the open dispute
    promised_amount_minor = NumberAttribute(null=True)
    promise_balance_minor = NumberAttribute(null=True)  # the balance when the promise was made
    broken_promise = UnicodeAttribute(null=True)  # a broken promise's date, until the next reminder
    operation_keys = JSONAttribute(null=True)  # sorted Idempotency-Keys of one-off operations (write-offs)
    first_seen_on = UnicodeAttribute(null=True)  # UTC date of the first import; older items: created_at's date
    last_notice_on = UnicodeAttribute(null=True)  # the customer's local date of the last notice about it
    review_released = BooleanAttribute(default=False)  # a collector released it for automatic dunning
    collector_written_off_minor = NumberAttribute(null=True)  # collectors' part of written_off_minor
    effective_on = UnicodeAttribute(null=True)  # this change's effective date when not updated_at's (analytics)
    delivered_at = UTCDateTimeAttribute(null=True)  # its latest version last sent to the customer
    discounted_minor = NumberAttribute(null=True)  # an early-payment discount booked (domain/discounts.py)
    discount_payment_id = UnicodeAttribute(null=True)  # the payment that earned it
    dunning_shard = UnicodeAttribute(null=True)
    next_action_key = UnicodeAttribute(null=True)  # "<UTC yyyy-mm-ddThh:mm:ssZ>#<invoice_id>"
    # Work lists (set in the same write as the rest of the item; absent on items written before them until they
    # change or `python -m chalicelib.cli backfill-worklist-keys` runs):
    list_shard = UnicodeAttribute(null=True)  # "all#<n>" on every invoice
    number_key = UnicodeAttribute(null=True)  # "<number_search_key>#<invoice_id>"
    open_shard = UnicodeAttribute(null=True)  # "open#<n>" on outstanding invoices only
    balance_key = UnicodeAttribute(null=True)  # "<currency>#<balance_order_key>#<invoice_id>", outstanding only
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_customer = InvoicesByCustomer()
    by_status = InvoicesByStatus()
    by_reference = InvoicesByReference()
    due_for_action = InvoicesDueForAction()
    open_by_due = OpenInvoicesByDue()
    open_by_balance = OpenInvoicesByBalance()
    open_by_customer = OpenInvoicesOfCustomer()
    by_number = InvoicesByNumber()


class CreditNotesByCustomer(GlobalSecondaryIndex["CreditNoteModel"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    issued_key = UnicodeAttribute(range_key=True)


class CreditNoteModel(Model):
    class Meta(_Meta):
        pass

    credit_note_id = UnicodeAttribute(hash_key=True)
    number = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    issue_date = UnicodeAttribute()
    issued_key = UnicodeAttribute()
    amount_minor = NumberAttribute()
    applied_minor = NumberAttribute(default=0)
    applies_to = UnicodeAttribute(null=True)
    fingerprint = UnicodeAttribute()
    import_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_customer = CreditNotesByCustomer()


class CustomersByName(GlobalSecondaryIndex["CustomerModel"]):
    class Meta:
        index_name = "by_name"
        projection = AllProjection()

    list_key = UnicodeAttribute(hash_key=True)
    name_key = UnicodeAttribute(range_key=True)


class CustomersByStatementDelivery(GlobalSecondaryIndex["CustomerModel"]):
    """Sparse: only customers who asked for the monthly statement (the hourly statement schedule reads it)."""

    class Meta:
        index_name = "by_statement_delivery"
        projection = AllProjection()

    statement_delivery = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute(range_key=True)


class CustomerModel(Model):
    class Meta(_Meta):
        pass

    customer_id = UnicodeAttribute(hash_key=True)
    list_key = UnicodeAttribute(default="customer")
    name = UnicodeAttribute()
    name_key = UnicodeAttribute()  # "<lower-case name>#<customer_id>"
    contacts = JSONAttribute(default=list)
    language = UnicodeAttribute(null=True)
    timezone = UnicodeAttribute(null=True)
    country = UnicodeAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    payment_terms = UnicodeAttribute(null=True)
    credit_limit_minor = NumberAttribute(null=True)
    credit_limit_currency = UnicodeAttribute(null=True)
    tax_id = UnicodeAttribute(null=True)
    policy_id = UnicodeAttribute(null=True)
    dunning_paused = BooleanAttribute(default=False)
    credit_hold = BooleanAttribute(default=False)
    payment_receipts = BooleanAttribute(default=False)
    address = JSONAttribute(null=True)  # {"line1", "line2", "postal_code", "city", "region", "country"}
    address_edited = BooleanAttribute(default=False)  # set by staff: files no longer change it
    invoice_delivery = UnicodeAttribute(null=True)  # "email"; absent: "none"
    statement_delivery = UnicodeAttribute(null=True)  # "email"; absent: "none" (sparse index below)
    fingerprint = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_name = CustomersByName()
    by_statement_delivery = CustomersByStatementDelivery()


class ImportsByTime(GlobalSecondaryIndex["ImportModel"]):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    list_key = UnicodeAttribute(hash_key=True)
    started_key = UnicodeAttribute(range_key=True)


class ImportModel(Model):
    class Meta(_Meta):
        pass

    import_id = UnicodeAttribute(hash_key=True)
    list_key = UnicodeAttribute(default="import")
    started_key = UnicodeAttribute()  # "<started_at iso>#<import_id>"
    status = UnicodeAttribute()  # in_progress | processed | processed_with_errors | rejected
    source_key = UnicodeAttribute()
    source_version = UnicodeAttribute(null=True)  # the S3 version id of the file imported
    destination_key = UnicodeAttribute(null=True)
    report_key = UnicodeAttribute(null=True)
    content_sha256 = UnicodeAttribute(null=True)
    size_bytes = NumberAttribute(default=0)
    format = UnicodeAttribute(null=True)
    mapping = UnicodeAttribute(null=True)
    lease_owner = UnicodeAttribute(null=True)
    lease_until = UTCDateTimeAttribute(null=True)
    started_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)
    counts = JSONAttribute(default=dict)
    reason = UnicodeAttribute(null=True)
    rejected_sample = JSONAttribute(default=list)  # the first rejected rows; the S3 report has all

    by_time = ImportsByTime()


class EventModel(Model):
    """The audit trail: one item per state change, keyed by the entity it concerns."""

    class Meta(_Meta):
        pass

    entity_key = UnicodeAttribute(hash_key=True)  # "invoice#<id>", "customer#<id>", "import#<id>"
    event_key = UnicodeAttribute(range_key=True)  # "<at iso>#<type>#<discriminator>": ordered, idempotent
    type = UnicodeAttribute()
    actor = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    data = JSONAttribute(default=dict)


class ApiKeysByTime(GlobalSecondaryIndex["ApiKeyModel"]):
    """Every key, newest first, for `GET /api-keys` without a Scan. Keys written before this index existed
    carry no `list_key` and are not listed (they still authenticate)."""

    class Meta:
        index_name = "all"
        projection = AllProjection()

    list_key = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class ApiKeyModel(Model):
    class Meta(_Meta):
        pass

    key_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    secret_sha256 = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)
    revoked_by = UnicodeAttribute(null=True)
    list_key = UnicodeAttribute(null=True)  # "key" on every key issued since the `all` index
    created_key = UnicodeAttribute(null=True)  # "<created_at UTC iso>#<key_id>": sorts by time, unique

    all = ApiKeysByTime()


class PaymentsByTime(GlobalSecondaryIndex["PaymentModel"]):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    list_key = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class PaymentsByCustomer(GlobalSecondaryIndex["PaymentModel"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class UnappliedPayments(GlobalSecondaryIndex["PaymentModel"]):
    """Sparse: only payments with money not yet on an invoice carry `unapplied_key`."""

    class Meta:
        index_name = "unapplied"
        projection = AllProjection()

    unapplied_key = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class PaymentsByOriginal(GlobalSecondaryIndex["PaymentModel"]):
    """Sparse: refunds and chargebacks that arrived before the payment they reverse."""

    class Meta:
        index_name = "by_original"
        projection = AllProjection()

    waiting_for = UnicodeAttribute(hash_key=True)
    received_key = UnicodeAttribute(range_key=True)


class PaymentModel(Model):
    """Money in (payments) and out (refunds, chargebacks), with where it went."""

    class Meta(_Meta):
        pass

    payment_id = UnicodeAttribute(hash_key=True)
    list_key = UnicodeAttribute(default="payment")
    received_key = UnicodeAttribute()  # "<occurred_at iso>#<payment_id>"
    provider = UnicodeAttribute()
    payment_ref = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    currency = UnicodeAttribute()
    amount_minor = NumberAttribute()
    unapplied_minor = NumberAttribute()
    reversed_minor = NumberAttribute(default=0)
    unapplied_key = UnicodeAttribute(null=True)
    allocations = JSONAttribute(default=list)  # [{"invoice_id", "number", "amount_minor"}]
    customer_id = UnicodeAttribute(null=True)
    method = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    references = JSONAttribute(default=list)
    payer_name = UnicodeAttribute(null=True)
    payer_email = UnicodeAttribute(null=True)
    original_ref = UnicodeAttribute(null=True)
    waiting_for = UnicodeAttribute(null=True)
    raw_type = UnicodeAttribute(null=True)
    occurred_at = UTCDateTimeAttribute()
    recorded_at = UTCDateTimeAttribute()
    recorded_by = UnicodeAttribute()
    request = UnicodeAttribute(null=True)  # staff's request fingerprint, kept with its Idempotency-Key
    refunded_minor = NumberAttribute(null=True)  # a payment's refunds recorded so far
    initiated_on = UnicodeAttribute(null=True)  # ISO date: when the payer initiated it (judges a discount)
    version = VersionAttribute()

    by_time = PaymentsByTime()
    by_customer = PaymentsByCustomer()
    unapplied = UnappliedPayments()
    by_original = PaymentsByOriginal()


class ProviderEventModel(Model):
    """Every provider notification seen, by its own id: the webhook dedupe record."""

    class Meta(_Meta):
        pass

    dedupe_key = UnicodeAttribute(hash_key=True)  # "<provider>:<event id>"
    status = UnicodeAttribute()  # applied | waiting | ignored
    type = UnicodeAttribute()
    payment_id = UnicodeAttribute(null=True)
    raw_key = UnicodeAttribute(null=True)  # the archived body in S3
    detail = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute()


class PoliciesById(GlobalSecondaryIndex["PolicyModel"]):
    class Meta:
        index_name = "all"
        projection = AllProjection()

    list_key = UnicodeAttribute(hash_key=True)
    policy_id = UnicodeAttribute(range_key=True)


class PolicyModel(Model):
    """Dunning policies as the admins saved them (the document is the policy's plain-dict form)."""

    class Meta(_Meta):
        pass

    policy_id = UnicodeAttribute(hash_key=True)
    list_key = UnicodeAttribute(default="policy")
    document = JSONAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()
    version = VersionAttribute()

    all = PoliciesById()


class DunningMessageModel(Model):
    """One reminder message to one customer on one local day through one channel: the exactly-once claim.

    Written (conditionally) before the message is handed to SES/SNS, marked sent with the provider's message
    id after; see services/dunning.py for what each state means after a crash."""

    class Meta(_Meta):
        pass

    message_key = UnicodeAttribute(hash_key=True)  # "<customer_id>#<local date>#<channel>"
    status = UnicodeAttribute()  # sending | sent | unconfirmed
    customer_id = UnicodeAttribute()
    channel = UnicodeAttribute()
    local_date = UnicodeAttribute()
    run_id = UnicodeAttribute()
    lease_until = UTCDateTimeAttribute()
    lines = JSONAttribute(default=list)  # [{invoice_id, step, charges, next_action_at, actions}]
    destination = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    claimed_at = UTCDateTimeAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    recorded = BooleanAttribute(default=False)
    expires_at = NumberAttribute(null=True)  # TTL (epoch seconds): claims are kept 400 days


class TasksByStatus(GlobalSecondaryIndex["TaskModel"]):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class TasksByInvoice(GlobalSecondaryIndex["TaskModel"]):
    """Sparse: only tasks about an invoice (services/task_closer.py completes them when it is settled)."""

    class Meta:
        index_name = "by_invoice"
        projection = AllProjection()

    invoice_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class TaskModel(Model):
    """Work for a collector: from escalations, bounces, unconfirmed sends, or by hand."""

    class Meta(_Meta):
        pass

    task_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()  # open | done
    created_key = UnicodeAttribute()  # "<created_at iso>#<task_id>"
    kind = UnicodeAttribute()
    title = UnicodeAttribute()
    customer_id = UnicodeAttribute(null=True)
    invoice_id = UnicodeAttribute(null=True)
    detail = JSONAttribute(default=dict)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    completed_at = UTCDateTimeAttribute(null=True)
    completed_by = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_status = TasksByStatus()
    by_invoice = TasksByInvoice()


class DisputesByStatus(GlobalSecondaryIndex["DisputeModel"]):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    opened_key = UnicodeAttribute(range_key=True)


class DisputeModel(Model):
    """A customer's dispute of an invoice (whole, or a deduction) and how it was resolved."""

    class Meta(_Meta):
        pass

    dispute_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()  # open | resolved
    opened_key = UnicodeAttribute()  # "<opened_at UTC iso>#<dispute_id>"
    invoice_id = UnicodeAttribute()
    invoice_number = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    reason = UnicodeAttribute()
    amount_minor = NumberAttribute(null=True)  # a deduction; absent: the whole invoice
    balance_minor = NumberAttribute()  # the invoice's balance when the dispute was opened
    note = UnicodeAttribute(null=True)
    from_chargeback = BooleanAttribute(default=False)
    outcome = UnicodeAttribute(null=True)  # accepted | rejected | partial
    credited_minor = NumberAttribute(null=True)
    resolution_note = UnicodeAttribute(null=True)
    opened_at = UTCDateTimeAttribute()
    opened_by = UnicodeAttribute()
    resolved_at = UTCDateTimeAttribute(null=True)
    resolved_by = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_status = DisputesByStatus()


class PlanRequestsByCustomer(GlobalSecondaryIndex["PlanRequestModel"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    requested_key = UnicodeAttribute(range_key=True)


class PlanRequestsByStatus(GlobalSecondaryIndex["PlanRequestModel"]):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    requested_key = UnicodeAttribute(range_key=True)


class PlanRequestModel(Model):
    """A customer's request (from the portal) for a payment plan, and the collector's answer."""

    class Meta(_Meta):
        pass

    request_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | accepted | declined
    requested_key = UnicodeAttribute()  # "<requested_at UTC iso>#<request_id>"
    contact_email = UnicodeAttribute()
    invoice_ids = JSONAttribute()  # ["<invoice id>", ...]
    invoice_numbers = JSONAttribute()
    currency = UnicodeAttribute()
    total_minor = NumberAttribute()
    instalments = NumberAttribute()
    first_date = UnicodeAttribute()  # YYYY-MM-DD
    proposal = JSONAttribute()  # [{number, due_date, amount_minor}]
    requested_at = UTCDateTimeAttribute()
    requested_by = UnicodeAttribute()
    decided_at = UTCDateTimeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    decline_reason = UnicodeAttribute(null=True)
    plan_id = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_customer = PlanRequestsByCustomer()
    by_status = PlanRequestsByStatus()


class PlansByCustomer(GlobalSecondaryIndex["PaymentPlanModel"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class PlansByStatus(GlobalSecondaryIndex["PaymentPlanModel"]):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class PlansDueForAction(GlobalSecondaryIndex["PaymentPlanModel"]):
    """Sparse: only active plans carry these keys. The plan sweep reads the plans due for a look up to now.
    Plans are few next to invoices: one partition is plenty."""

    class Meta:
        index_name = "due_for_action"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)  # "due"
    next_action_key = UnicodeAttribute(range_key=True)  # "<UTC yyyy-mm-ddThh:mm:ssZ>#<plan_id>"


class PaymentPlanModel(Model):
    """A customer's payment plan over chosen invoices: its instalments, reminders sent and how it ended."""

    class Meta(_Meta):
        pass

    plan_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    status = UnicodeAttribute()  # active | completed | broken | cancelled
    created_key = UnicodeAttribute()  # "<created_at iso>#<plan_id>"
    currency = UnicodeAttribute()
    grace_days = NumberAttribute()
    invoices = JSONAttribute()  # [{invoice_id, number, balance_minor, paid_minor, reduced_minor}] at creation
    instalments = JSONAttribute()  # [{number, due_date, amount_minor}]
    note = UnicodeAttribute(null=True)
    reminders_sent = JSONAttribute(null=True)  # sorted ["<instalment>:<stage>:<channel>", ...]
    due_shard = UnicodeAttribute(null=True)
    next_action_key = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    ended_at = UTCDateTimeAttribute(null=True)
    ended_by = UnicodeAttribute(null=True)
    end_reason = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_customer = PlansByCustomer()
    by_status = PlansByStatus()
    due_for_action = PlansDueForAction()


class PredictionModel(Model):
    """What payment prediction and the cash forecast keep (services/settlement_log.py, services/forecast.py), one
    table of keyed rows: `customer#<customer_id>` / `<settled_on>#<invoice_id>`: a customer's settlement log;
    `portfolio#<YYYY-MM>` / `<settled_on>#<invoice_id>`: everyone's, by month of settlement; `invoice#<invoice_id>` /
    `-`: what the log knows of an invoice (its version, flags, where its record is); `forecast#<currency>` /
    `<as_of>`: a stored forecast."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute(null=True)
    invoice_id = UnicodeAttribute(null=True)
    number = UnicodeAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    issue_date = UnicodeAttribute(null=True)
    due_date = UnicodeAttribute(null=True)
    amount_minor = NumberAttribute(null=True)
    settled_on = UnicodeAttribute(null=True)
    disputed = BooleanAttribute(null=True)
    promised = BooleanAttribute(null=True)
    promise_broken = BooleanAttribute(null=True)
    invoice_version = NumberAttribute(null=True)
    rev = NumberAttribute(null=True)
    document = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)


class OpenBalancesByCurrency(GlobalSecondaryIndex["AnalyticsModel"]):
    """Every customer's current open balance in a currency, largest first (only the "open" items carry
    `currency`; reports query `balance > 0`, so customers with nothing open are not read)."""

    class Meta:
        index_name = "open_balances"
        projection = AllProjection()

    currency = UnicodeAttribute(hash_key=True)
    balance = NumberAttribute(range_key=True)


class AnalyticsModel(Model):
    """The analytics projection (chalicelib/adapters/analytics.py writes it with the low-level client: its period
    items carry one attribute per flow and per due date). Declared here for its keys and index."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    currency = UnicodeAttribute(null=True)
    balance = NumberAttribute(null=True)

    open_balances = OpenBalancesByCurrency()


class PortalLinkModel(Model):
    """Personal portal links (chalicelib/adapters/portal_links.py; services/portal_links.py): keyed rows
    `link#<sha256 of the token>` / `link`: a link (never the token); `customer#<id>` / `state`: the revocation
    generation; `customer#<id>` / `link#<expires>#<link id>`: the customer's links, for counting;
    `address#<sha256 of the address>` / `<customer id>`: who a link was minted for at an address (the expired-link
    page); `rate#<key>` / `<window>`: rate-limit counters. Every row but `state` carries the TTL `ttl`."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute(null=True)
    contact_email = UnicodeAttribute(null=True)
    link_id = UnicodeAttribute(null=True)
    generation = NumberAttribute(null=True)
    issued_at = UTCDateTimeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
    revoked_by = UnicodeAttribute(null=True)
    hits = NumberAttribute(null=True)
    ttl = NumberAttribute(null=True)  # TTL (epoch seconds)


class LettersByStatus(GlobalSecondaryIndex["LetterModel"]):
    """The print queue: letters by status, oldest first."""

    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class LetterModel(Model):
    """A dunning letter for the post (services/letters.py); its PDF is `letters/<letter_id>.pdf` in the bucket."""

    class Meta(_Meta):
        pass

    letter_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()  # to_print | posted
    created_key = UnicodeAttribute()  # "<created_at UTC iso>#<letter_id>"
    message_key = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    customer_name = UnicodeAttribute()
    invoice_ids = JSONAttribute(default=list)
    invoice_numbers = JSONAttribute(default=list)
    steps = JSONAttribute(default=list)
    language = UnicodeAttribute()
    subject = UnicodeAttribute()
    letter_date = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    pages = NumberAttribute()
    posted_at = UTCDateTimeAttribute(null=True)
    posted_by = UnicodeAttribute(null=True)
    version = VersionAttribute()

    by_status = LettersByStatus()


ALL_MODELS: tuple[type[Model], ...] = (
    InvoiceModel, CreditNoteModel, CustomerModel, ImportModel, EventModel, ApiKeyModel, PaymentModel,
    ProviderEventModel, PolicyModel, DunningMessageModel, TaskModel, DisputeModel,
    PaymentPlanModel, PredictionModel, AnalyticsModel, PortalLinkModel, PlanRequestModel, LetterModel,
)


def table_names(settings: Settings) -> dict[type[Model], str]:
    return {
        InvoiceModel: settings.invoices_table,
        CreditNoteModel: settings.credit_notes_table,
        CustomerModel: settings.customers_table,
        ImportModel: settings.imports_table,
        EventModel: settings.events_table,
        ApiKeyModel: settings.api_keys_table,
        PaymentModel: settings.payments_table,
        ProviderEventModel: settings.provider_events_table,
        PolicyModel: settings.policies_table,
        DunningMessageModel: settings.dunning_messages_table,
        TaskModel: settings.tasks_table,
        DisputeModel: settings.disputes_table,
        PaymentPlanModel: settings.payment_plans_table,
        PlanRequestModel: settings.plan_requests_table,
        PredictionModel: settings.predictions_table,
        AnalyticsModel: settings.analytics_table,
        LetterModel: settings.letters_table,
        PortalLinkModel: settings.portal_links_table,
    }


_transactions: Connection | None = None


def transaction_connection() -> Connection:
    """The connection TransactWrite needs, on the same region and endpoint as the models."""
    global _transactions
    if _transactions is None:
        _transactions = Connection(region=_Meta.region, host=_Meta.host, max_retry_attempts=_Meta.max_retry_attempts)
    return _transactions


_sessions = threading.local()


def _shared_botocore_session() -> botocore.session.Session:
    """PynamoDB makes a botocore session per model's connection, and each new session parses botocore's endpoint
    and service data again (~0.2 s a model, on every cold start). One session per thread is shared instead
    (botocore sessions are not thread-safe when they create clients)."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = botocore.session.get_session()
    return session


def bind_tables(settings: Settings) -> None:
    """Point every model at this stage's tables and endpoint (moto locally, AWS in Lambda)."""
    global _transactions, _sessions
    pynamodb.connection.base.get_session = _shared_botocore_session
    _sessions = threading.local()  # a new binding (a test's moto, the bench's server) gets a fresh session
    _Meta.region, _Meta.host, _transactions = settings.region, settings.endpoint_url, None
    for model, name in table_names(settings).items():
        meta: Any = model.Meta
        meta.table_name = name
        meta.region = settings.region
        meta.host = settings.endpoint_url
        model._connection = None
