"""DynamoDB repositories: domain objects in, domain objects out. The only module that speaks PynamoDB
besides models.py.

Writes that must not overwrite (new invoices, credit notes, customers) go through TransactWriteItems
with `attribute_not_exists` conditions, 100 actions a request: as few requests as BatchWriteItem for
the same rows (which cannot condition, and ignores version attributes), and a record written by
someone else first is reported instead of silently replaced.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.models import (
    ApiKeyModel,
    CreditNoteModel,
    CustomerModel,
    EventModel,
    ImportModel,
    InvoiceModel,
    PolicyModel,
    transaction_connection,
)
from chalicelib.domain.customer import Address, Contact, Customer, contact_to_dict
from chalicelib.domain.dunning.policy import Policy
from chalicelib.domain.ids import reference_key
from chalicelib.domain.invoice import OUTSTANDING_STATUSES, CreditNote, Invoice, InvoiceStatus, LedgerCharge
from chalicelib.domain.money import Money
from chalicelib.domain.terms import PaymentTerms
from chalicelib.domain.worklists import balance_order_key, number_search_key
from chalicelib.services.ports import (
    AuditEvent,
    ImportRecord,
    InsertConflict,
    KeyRecord,
    Role,
    StoredCustomer,
    VersionConflict,
)

_BATCH_GET = 100
_TRANSACTION_ITEMS = 100


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


_M = TypeVar("_M", bound=Model)
_T = TypeVar("_T")


def get_or_none(model: type[_M], key: str, *, consistent: bool = True, attributes: Sequence[str] | None = None
                ) -> _M | None:
    """The item under `key`, or None: to every repository here an absent item is an answer, not an error."""
    try:
        return model.get(key, consistent_read=consistent, attributes_to_get=attributes)
    except model.DoesNotExist:
        return None


def get_mapped(model: type[_M], key: str, to_domain: Callable[[_M], _T], *, consistent: bool = True,
               attributes: Sequence[str] | None = None) -> _T | None:
    """The item under `key` as `to_domain` maps it, or None when there is none."""
    m = get_or_none(model, key, consistent=consistent, attributes=attributes)
    return None if m is None else to_domain(m)


def is_conditional_failure(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def failed_conditions(exc: TransactWriteError) -> list[bool]:
    """For each item of a cancelled transaction, in order: whether its condition (a version, an absence) failed."""
    return [reason is not None and reason.code == "ConditionalCheckFailed" for reason in exc.cancellation_reasons or []]


class _Versioned(Protocol):
    version: Any  # a PynamoDB VersionAttribute


_V = TypeVar("_V", bound=_Versioned)


def at_version(model: _V, version: int) -> _V:
    """`model`, to be written over the item read at `version`; for a new record (0) the version attribute starts."""
    if version:
        model.version = version
    return model


def time_key(at: datetime, *parts: str, timespec: str = "auto") -> str:
    """A sort key in time order: the instant in UTC, then `parts`, joined by '#'."""
    return "#".join((at.astimezone(UTC).isoformat(timespec=timespec), *parts))


# What DynamoDB says about one item it refuses (over 400 KB, a number it cannot hold, an empty key), as opposed
# to what it says about itself (throttling, an internal error, a conflicting transaction, missing access).
_ITEM_ERROR_CODES = frozenset(("ValidationException",))
_ITEM_CANCELLATION_CODES = frozenset(("ValidationError", "ConditionalCheckFailed", "None"))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps: PynamoDB keeps botocore's error as `cause` and as the context."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        yield current
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else (current.__cause__ or current.__context__)


class DynamoStoreErrors:
    """StoreErrors for DynamoDB (chalicelib/services/ports.py)."""

    def is_outage(self, exc: BaseException) -> bool:
        for cause in _causes(exc):
            if isinstance(cause, ClientError):
                error = cause.response.get("Error") or {}
                if error.get("Code") == "TransactionCanceledException":
                    codes = {str(r.get("Code")) for r in cause.response.get("CancellationReasons") or []}
                    return not codes <= _ITEM_CANCELLATION_CODES
                return error.get("Code") not in _ITEM_ERROR_CODES
            if isinstance(cause, BotoCoreError):
                return not isinstance(cause, ParamValidationError)
        return False

    def describe(self, exc: BaseException) -> str:
        for cause in _causes(exc):
            if isinstance(cause, ClientError):
                error = cause.response.get("Error") or {}
                return f"DynamoDB refused the item: {error.get('Message') or error.get('Code')}"
        return f"could not be stored: {type(exc).__name__}: {exc}"[:500]


STORE_ERRORS: Final = DynamoStoreErrors()
_BATCH_WRITE = 25  # BatchWriteItem's limit


def _insert_new(models: Sequence[Model], key: Callable[[Any], str]) -> dict[str, str]:
    """Write items just read as absent with BatchWriteItem, 25 a request. DynamoDB refuses a whole request for
    one bad item (one over 400 KB), so only a refused request is written again item by item, to find the
    bad one and keep the rest: the happy path stays at one request per 25 items. Returns the refused items."""
    refused: dict[str, str] = {}
    model_class = type(models[0]) if models else None
    for chunk in _chunks(models, _BATCH_WRITE):
        assert model_class is not None
        try:
            with model_class.batch_write() as batch:
                for model in chunk:
                    batch.save(model)
        except Exception as exc:
            if STORE_ERRORS.is_outage(exc):
                raise
            for model in chunk:
                # Unset (the attribute refuses None): save() then conditions on the item being absent and
                # starts its version at 1, as the batch did by hand.
                model.attribute_values.pop("version", None)
                try:
                    model.save()
                except PutError as single:
                    if is_conditional_failure(single):
                        continue  # written by the refused request before it stopped (moto writes item by item)
                    if STORE_ERRORS.is_outage(single):
                        raise
                    refused[key(model)] = STORE_ERRORS.describe(single)
                except Exception as single:
                    if STORE_ERRORS.is_outage(single):
                        raise
                    refused[key(model)] = STORE_ERRORS.describe(single)
    return refused


# ---- conversions ---------------------------------------------------------------------------------

DUNNING_SHARDS: Final = 4  # partitions of the due_for_action index; the sweep queries each


def dunning_shard(customer_id: str) -> str:
    return f"due#{zlib.crc32(customer_id.encode()) % DUNNING_SHARDS}"


LIST_SHARDS: Final = 4  # partitions of the work-list indexes (open_by_due, open_by_balance, by_number)


def list_shard(invoice_id: str) -> int:
    return zlib.crc32(invoice_id.encode()) % LIST_SHARDS


def worklist_keys(invoice: Invoice) -> dict[str, str | None]:
    """The work-list index keys of an invoice, written with the rest of the item (no extra request)."""
    shard = list_shard(invoice.invoice_id)
    outstanding = invoice.status in OUTSTANDING_STATUSES
    return {
        "list_shard": f"all#{shard}",
        "number_key": f"{number_search_key(invoice.number)}#{invoice.invoice_id}",
        "open_shard": f"open#{shard}" if outstanding else None,
        "balance_key": (f"{invoice.currency}#{balance_order_key(invoice.balance.minor)}#{invoice.invoice_id}"
                        if outstanding else None),
    }


def backfill_worklist_keys() -> tuple[int, int]:
    """One-off, after deploying the work-list indexes: give invoices written before them their keys. Walks the
    by_status partitions (Queries, no Scan); each update is conditional on the version read, and an invoice that
    changed meanwhile got its keys from that write. Returns (invoices read, invoices updated); safe to run again."""
    read = updated = 0
    for status in InvoiceStatus:
        for m in InvoiceModel.by_status.query(status.value):
            read += 1
            keys = worklist_keys(model_to_invoice(m))
            if all(getattr(m, name) == value for name, value in keys.items()):
                continue
            attributes = InvoiceModel.get_attributes()
            try:
                m.update(actions=[attributes[name].remove() if value is None else attributes[name].set(value)
                                  for name, value in keys.items()])
                updated += 1
            except UpdateError as exc:
                if not is_conditional_failure(exc):
                    raise
    return read, updated


def action_key_time(at: datetime) -> str:
    """Sortable UTC text for the due_for_action index (whole seconds, 'Z')."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def action_key(at: datetime, record_id: str) -> str:
    """A due_for_action index key: "<action_key_time>#<record id>" (`next_action_at` reads the time back)."""
    return f"{action_key_time(at)}#{record_id}"


def _charges_to_json(charges: Sequence[LedgerCharge]) -> list[dict[str, Any]] | None:
    if not charges:
        return None
    return [{"kind": c.kind, "amount_minor": c.amount.minor, "reason": c.reason, "key": c.key,
             "charged_on": c.charged_on.isoformat(), "step": c.step} for c in charges]


def _charges_from_json(raw: Any, currency: str) -> tuple[LedgerCharge, ...]:
    return tuple(LedgerCharge(r["kind"], Money.from_minor(int(r["amount_minor"]), currency), r["reason"], r["key"],
                              date.fromisoformat(r["charged_on"]), r.get("step")) for r in raw or ())

def event_to_model(event: AuditEvent) -> EventModel:
    return EventModel(
        entity_key=event.entity,
        event_key=time_key(event.at, event.type, event.discriminator, timespec="microseconds"),
        type=event.type,
        actor=event.actor,
        at=event.at,
        data=dict(event.data),
    )


def invoice_to_model(invoice: Invoice, now: datetime, import_id: str | None = None,
                     created_at: datetime | None = None) -> InvoiceModel:
    model = InvoiceModel(
        invoice_id=invoice.invoice_id,
        number=invoice.number,
        reference_key=reference_key(invoice.number),
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        issue_date=invoice.issue_date.isoformat(),
        due_date=invoice.due_date.isoformat(),
        due_key=f"{invoice.due_date.isoformat()}#{invoice.invoice_id}",
        status=invoice.status.value,
        total_minor=invoice.total.minor,
        paid_in_source_minor=invoice.paid_in_source.minor,
        applied_minor=invoice.applied_payments.minor,
        credited_minor=invoice.credited.minor,
        written_off_minor=invoice.written_off.minor,
        balance_minor=invoice.balance.minor,
        disputed=invoice.disputed,
        void=invoice.void,
        buyer_reference=invoice.buyer_reference,
        fingerprint=invoice.fingerprint,
        import_id=import_id,
        charges=_charges_to_json(invoice.charges),
        charged_minor=invoice.charged.minor,
        reminders_sent=sorted(invoice.reminders_sent) or None,
        promised_until=invoice.promised_until.isoformat() if invoice.promised_until else None,
        in_plan=invoice.in_plan,
        plan_id=invoice.plan_id,
        disputed_amount_minor=_minor(invoice.disputed_amount),
        dispute_id=invoice.dispute_id,
        promised_amount_minor=_minor(invoice.promised_amount),
        promise_balance_minor=_minor(invoice.promise_balance),
        broken_promise=invoice.broken_promise.isoformat() if invoice.broken_promise else None,
        operation_keys=sorted(invoice.operation_keys) or None,
        first_seen_on=(invoice.first_seen_on or (created_at or now).astimezone(UTC).date()).isoformat(),
        last_notice_on=invoice.last_notice_on.isoformat() if invoice.last_notice_on else None,
        review_released=invoice.review_released,
        collector_written_off_minor=_minor(invoice.collector_written_off),
        effective_on=invoice.effective_on.isoformat() if invoice.effective_on else None,
        delivered_at=invoice.delivered_at,
        discounted_minor=_minor(invoice.discount_granted),
        discount_payment_id=invoice.discount_payment_id,
        created_at=created_at or now,
        updated_at=now,
    )
    for name, value in worklist_keys(invoice).items():
        setattr(model, name, value)
    # Only outstanding invoices with a next action are in the sparse due_for_action index.
    if invoice.next_action_at is not None and invoice.status in OUTSTANDING_STATUSES:
        model.dunning_shard = dunning_shard(invoice.customer_id)
        model.next_action_key = action_key(invoice.next_action_at, invoice.invoice_id)
    return at_version(model, invoice.version)


def model_to_invoice(m: InvoiceModel) -> Invoice:
    def money(minor: Any) -> Money:
        return Money.from_minor(int(minor), m.currency)

    return Invoice(
        invoice_id=m.invoice_id,
        number=m.number,
        customer_id=m.customer_id,
        issue_date=date.fromisoformat(m.issue_date),
        due_date=date.fromisoformat(m.due_date),
        total=money(m.total_minor),
        paid_in_source=money(m.paid_in_source_minor),
        applied_payments=money(m.applied_minor),
        credited=money(m.credited_minor),
        written_off=money(m.written_off_minor),
        disputed=bool(m.disputed),
        void=bool(m.void),
        buyer_reference=m.buyer_reference,
        fingerprint=m.fingerprint,
        version=int(m.version or 0),
        charges=_charges_from_json(m.charges, m.currency),
        reminders_sent=frozenset(m.reminders_sent or ()),
        next_action_at=next_action_at(m.next_action_key),
        promised_until=date.fromisoformat(m.promised_until) if m.promised_until else None,
        in_plan=bool(m.in_plan),
        plan_id=m.plan_id,
        disputed_amount=None if m.disputed_amount_minor is None else money(m.disputed_amount_minor),
        dispute_id=m.dispute_id,
        promised_amount=None if m.promised_amount_minor is None else money(m.promised_amount_minor),
        promise_balance=None if m.promise_balance_minor is None else money(m.promise_balance_minor),
        broken_promise=date.fromisoformat(m.broken_promise) if m.broken_promise else None,
        operation_keys=frozenset(m.operation_keys or ()),
        first_seen_on=date.fromisoformat(m.first_seen_on) if m.first_seen_on else m.created_at.astimezone(UTC).date(),
        last_notice_on=date.fromisoformat(m.last_notice_on) if m.last_notice_on else None,
        review_released=bool(m.review_released),
        collector_written_off=None if m.collector_written_off_minor is None else money(m.collector_written_off_minor),
        delivered_at=m.delivered_at,
        discount_granted=None if m.discounted_minor is None else money(m.discounted_minor),
        discount_payment_id=m.discount_payment_id,
    )


def _minor(amount: Money | None) -> int | None:
    return None if amount is None else amount.minor


def next_action_at(key: str | None) -> datetime | None:
    if not key:
        return None
    return datetime.strptime(key.split("#", 1)[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def credit_note_to_model(note: CreditNote, import_id: str | None, now: datetime) -> CreditNoteModel:
    model = CreditNoteModel(
        credit_note_id=note.credit_note_id,
        number=note.number,
        customer_id=note.customer_id,
        currency=note.amount.currency,
        issue_date=note.issue_date.isoformat(),
        issued_key=f"{note.issue_date.isoformat()}#{note.credit_note_id}",
        amount_minor=note.amount.minor,
        applied_minor=note.applied.minor,
        applies_to=note.applies_to,
        fingerprint=note.fingerprint,
        import_id=import_id,
        created_at=now,
    )
    return at_version(model, note.version)


def model_to_credit_note(m: CreditNoteModel) -> CreditNote:
    return CreditNote(
        credit_note_id=m.credit_note_id,
        number=m.number,
        customer_id=m.customer_id,
        issue_date=date.fromisoformat(m.issue_date),
        amount=Money.from_minor(int(m.amount_minor), m.currency),
        applies_to=m.applies_to,
        applied=Money.from_minor(int(m.applied_minor), m.currency),
        fingerprint=m.fingerprint,
        version=int(m.version or 0),
    )


def customer_to_model(customer: Customer, now: datetime, version: int = 0,
                      created_at: datetime | None = None) -> CustomerModel:
    model = CustomerModel(
        customer_id=customer.customer_id,
        name=customer.name,
        name_key=f"{customer.name.casefold()}#{customer.customer_id}",
        contacts=[contact_to_dict(c) for c in customer.contacts],
        language=customer.language,
        timezone=customer.timezone,
        country=customer.country,
        currency=customer.currency,
        payment_terms=customer.payment_terms.describe() if customer.payment_terms else None,
        credit_limit_minor=customer.credit_limit.minor if customer.credit_limit else None,
        credit_limit_currency=customer.credit_limit.currency if customer.credit_limit else None,
        tax_id=customer.tax_id,
        policy_id=customer.policy_id,
        dunning_paused=customer.dunning_paused,
        credit_hold=customer.credit_hold,
        payment_receipts=customer.payment_receipts,
        address=customer.address.to_dict() if customer.address else None,
        address_edited=customer.address_edited,
        invoice_delivery=None if customer.invoice_delivery == "none" else customer.invoice_delivery,
        statement_delivery=None if customer.statement_delivery == "none" else customer.statement_delivery,
        fingerprint=customer.fingerprint(),
        created_at=created_at or now,
        updated_at=now,
    )
    return at_version(model, version)


def model_to_customer(m: CustomerModel) -> Customer:
    limit = None
    if m.credit_limit_minor is not None and m.credit_limit_currency:
        limit = Money.from_minor(int(m.credit_limit_minor), m.credit_limit_currency)
    return Customer(
        customer_id=m.customer_id,
        name=m.name,
        contacts=tuple(Contact(**c) for c in (m.contacts or [])),
        language=m.language,
        timezone=m.timezone,
        country=m.country,
        currency=m.currency,
        payment_terms=PaymentTerms.parse(m.payment_terms) if m.payment_terms else None,
        credit_limit=limit,
        tax_id=m.tax_id,
        policy_id=m.policy_id,
        dunning_paused=bool(m.dunning_paused),
        credit_hold=bool(m.credit_hold),
        payment_receipts=bool(m.payment_receipts),
        address=Address.from_dict(m.address) if m.address else None,
        address_edited=bool(m.address_edited),
        invoice_delivery=m.invoice_delivery or "none",
        statement_delivery=m.statement_delivery or "none",
    )


# ---- stores ----------------------------------------------------------------------------------------

def save_with_event(model: Model, event: AuditEvent, key: str) -> None:
    """Save a versioned record and its audit event in one transaction; VersionConflict if it changed."""
    save_with_invoices(model, [], [event], datetime.now(UTC), key)


def save_with_invoices(model: Model, invoices: Sequence[Invoice], events: Sequence[AuditEvent], now: datetime,
                       key: str) -> list[Invoice]:
    """A versioned record (new when its version is unset), the invoices it changes (each at the version read)
    and their audit events, all or nothing: VersionConflict when the record or an invoice changed meanwhile.
    Returns the invoices as saved (at their new versions)."""
    invoice_models = [invoice_to_model(invoice, now) for invoice in invoices]
    try:
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.save(model)
            for invoice_model in invoice_models:
                transaction.update(invoice_model, _mutable_invoice_actions(invoice_model))
            for event in events:
                transaction.save(event_to_model(event))
    except TransactWriteError as exc:
        if any(failed_conditions(exc)[:1 + len(invoice_models)]):
            raise VersionConflict(key) from exc
        raise
    return [model_to_invoice(m) for m in invoice_models]


def _batch_get(model: type[Model], keys: Iterable[str]) -> Iterator[Any]:
    unique = list(dict.fromkeys(keys))
    for chunk in _chunks(unique, _BATCH_GET):
        yield from model.batch_get(chunk)


class DynamoLedger:
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]:
        return {m.invoice_id: model_to_invoice(m) for m in _batch_get(InvoiceModel, invoice_ids)}

    def open_invoices(self, customer_id: str) -> list[Invoice]:
        condition = InvoiceModel.status.is_in(*[s.value for s in OUTSTANDING_STATUSES])
        return [model_to_invoice(m) for m in InvoiceModel.by_customer.query(customer_id, filter_condition=condition)]

    def find_by_reference(self, keys: Iterable[str], limit: int = 10) -> dict[str, Invoice]:
        """Invoices whose number matches a remittance spelling; a key naming two invoices matches none."""
        found: dict[str, Invoice] = {}
        for key in list(dict.fromkeys(keys))[:limit]:
            matches = list(InvoiceModel.by_reference.query(key, limit=2))
            if len(matches) == 1:
                found[key] = model_to_invoice(matches[0])
        return found

    def get_credit_notes(self, credit_note_ids: Iterable[str]) -> dict[str, CreditNote]:
        return {m.credit_note_id: model_to_credit_note(m) for m in _batch_get(CreditNoteModel, credit_note_ids)}

    def insert_invoices(self, invoices: Sequence[Invoice], import_id: str, now: datetime) -> dict[str, str]:
        """Rows the caller has just read as absent. BatchWriteItem (25 a request) cannot condition, which
        is safe because only ingestion creates invoices and it runs one file at a time (the ingest
        function's reserved concurrency is 1); the creation is recorded on the item (created_at,
        import_id) and in the import's report instead of one audit item per row, which would double
        the writes of a large file."""
        models = []
        refused: dict[str, str] = {}
        for invoice in invoices:
            try:
                model = invoice_to_model(invoice, now, import_id)
            except Exception as exc:  # a value the model cannot hold: that invoice's row, not the file
                if STORE_ERRORS.is_outage(exc):
                    raise
                refused[invoice.invoice_id] = STORE_ERRORS.describe(exc)
                continue
            model.version = 1  # batch writes skip VersionAttribute handling: start the count by hand
            models.append(model)
        refused.update(_insert_new(models, lambda m: str(m.invoice_id)))
        return refused

    def save_invoice(self, invoice: Invoice, events: Sequence[AuditEvent], now: datetime) -> Invoice:
        model = invoice_to_model(invoice, now)
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.update(model, _mutable_invoice_actions(model))
                for event in events:
                    transaction.save(event_to_model(event))
        except TransactWriteError as exc:
            if any(failed_conditions(exc)[-1:]):
                raise VersionConflict(invoice.invoice_id) from exc
            raise
        return model_to_invoice(model)

    def insert_credit_note(self, note: CreditNote, invoice: Invoice | None, events: Sequence[AuditEvent],
                           import_id: str, now: datetime) -> None:
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.save(credit_note_to_model(note, import_id, now))
                for event in events:
                    transaction.save(event_to_model(event))
                if invoice is not None:
                    model = invoice_to_model(invoice, now)
                    transaction.update(model, _mutable_invoice_actions(model))
        except TransactWriteError as exc:
            failed = failed_conditions(exc)
            if any(failed[:1]):
                raise InsertConflict([note.credit_note_id]) from exc
            if invoice is not None and any(failed[-1:]):
                raise VersionConflict(invoice.invoice_id) from exc
            raise


# first_seen_on too: an amendment rebuilt from a file must not make an old invoice new.
_IMMUTABLE_INVOICE_FIELDS = {"invoice_id", "version", "created_at", "import_id", "number", "first_seen_on"}


def _mutable_invoice_actions(model: InvoiceModel) -> list[Any]:
    """SET every field an invoice change may touch (REMOVE the empty ones), leaving its origin alone."""
    actions = []
    for name, attribute in InvoiceModel.get_attributes().items():
        if name in _IMMUTABLE_INVOICE_FIELDS:
            continue
        value = getattr(model, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


class DynamoCustomers:
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]:
        return {
            m.customer_id: StoredCustomer(model_to_customer(m), m.fingerprint, int(m.version or 0))
            for m in _batch_get(CustomerModel, customer_ids)
        }

    def get_stored(self, customer_id: str) -> StoredCustomer | None:
        return get_mapped(CustomerModel, customer_id,
                          lambda m: StoredCustomer(model_to_customer(m), m.fingerprint, int(m.version or 0)))

    def get_customer(self, customer_id: str) -> Customer | None:
        return get_mapped(CustomerModel, customer_id, model_to_customer, consistent=False)

    def insert_customers(self, customers: Sequence[Customer], events: Sequence[AuditEvent], now: datetime
                         ) -> dict[str, str]:
        """New customers read as absent just before; like invoices, only ingestion creates them."""
        models = []
        refused: dict[str, str] = {}
        for customer in customers:
            try:
                model = customer_to_model(customer, now)
            except Exception as exc:
                if STORE_ERRORS.is_outage(exc):
                    raise
                refused[customer.customer_id] = STORE_ERRORS.describe(exc)
                continue
            model.version = 1
            models.append(model)
        refused.update(_insert_new(models, lambda m: str(m.customer_id)))
        with EventModel.batch_write() as event_batch:
            for event in events:
                if event.entity.removeprefix("customer#") not in refused:
                    event_batch.save(event_to_model(event))
        return refused

    def update_customer(self, stored: StoredCustomer, customer: Customer, events: Sequence[AuditEvent],
                        now: datetime) -> None:
        current = CustomerModel.get(customer.customer_id)
        model = customer_to_model(customer, now, version=stored.version, created_at=current.created_at)
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.save(model)
                for event in events:
                    transaction.save(event_to_model(event))
        except TransactWriteError as exc:
            if any(failed_conditions(exc)[:1]):
                raise VersionConflict(customer.customer_id) from exc
            raise


def _record_to_model(record: ImportRecord) -> ImportModel:
    return ImportModel(
        import_id=record.import_id,
        started_key=time_key(record.started_at, record.import_id),
        status=record.status,
        source_key=record.source_key,
        source_version=record.source_version,
        destination_key=record.destination_key,
        report_key=record.report_key,
        content_sha256=record.content_sha256,
        size_bytes=record.size_bytes,
        format=record.format,
        mapping=record.mapping,
        lease_owner=record.lease_owner,
        lease_until=record.lease_until,
        started_at=record.started_at,
        finished_at=record.finished_at,
        counts=record.counts,
        reason=record.reason,
        rejected_sample=record.rejected_sample,
    )


def model_to_record(m: ImportModel) -> ImportRecord:
    return ImportRecord(
        import_id=m.import_id,
        source_key=m.source_key,
        source_version=m.source_version,
        status=m.status,
        started_at=m.started_at,
        lease_owner=m.lease_owner or "",
        lease_until=m.lease_until,
        content_sha256=m.content_sha256,
        size_bytes=int(m.size_bytes or 0),
        format=m.format,
        mapping=m.mapping,
        destination_key=m.destination_key,
        report_key=m.report_key,
        finished_at=m.finished_at,
        counts=dict(m.counts or {}),
        reason=m.reason,
        rejected_sample=list(m.rejected_sample or []),
    )


class DynamoImports:
    def get(self, import_id: str) -> ImportRecord | None:
        return get_mapped(ImportModel, import_id, model_to_record)

    def claim(self, record: ImportRecord, now: datetime) -> bool:
        """Create the record, or take over one whose worker's lease has run out."""
        model = _record_to_model(record)
        free = ImportModel.import_id.does_not_exist() | (
            (ImportModel.status == "in_progress") & (ImportModel.lease_until < now)
        )
        try:
            model.save(condition=free)
        except PutError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def finish(self, record: ImportRecord) -> None:
        model = _record_to_model(record)
        # Only the lease holder may close the import.
        model.save(condition=ImportModel.lease_owner == record.lease_owner)

    def release(self, record: ImportRecord) -> None:
        try:
            ImportModel(import_id=record.import_id).update(
                actions=[ImportModel.lease_until.set(_RELEASED)],
                condition=(ImportModel.lease_owner == record.lease_owner) & (ImportModel.status == "in_progress"))
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise
            # Taken over or finished meanwhile: the lease is no longer ours to give up.


_RELEASED: Final = datetime(1970, 1, 1, tzinfo=UTC)  # before any `now`: the next claim takes the import over


API_KEYS_LIST_KEY: Final = "key"  # the one partition of the api keys' `all` index


def _key_record(m: ApiKeyModel) -> KeyRecord:
    return KeyRecord(m.key_id, m.name, Role.parse(m.role), m.secret_sha256, m.created_at, m.created_by,
                     m.revoked_at, m.revoked_by)


class DynamoApiKeys:
    def put(self, record: KeyRecord, event: AuditEvent) -> None:
        model = ApiKeyModel(key_id=record.key_id, name=record.name, role=record.role.label,
                            secret_sha256=record.secret_sha256, created_at=record.created_at,
                            created_by=record.created_by, revoked_at=record.revoked_at,
                            list_key=API_KEYS_LIST_KEY,
                            created_key=time_key(record.created_at, record.key_id))
        with TransactWrite(connection=transaction_connection()) as transaction:
            transaction.save(model, condition=ApiKeyModel.key_id.does_not_exist())
            transaction.save(event_to_model(event))

    def get(self, key_id: str, consistent: bool = False) -> KeyRecord | None:
        return get_mapped(ApiKeyModel, key_id, _key_record, consistent=consistent)

    def list(self, limit: int, cursor: dict[str, Any] | None) -> tuple[list[KeyRecord], dict[str, Any] | None]:
        result = ApiKeyModel.all.query(API_KEYS_LIST_KEY, scan_index_forward=False, limit=limit,
                                       last_evaluated_key=cursor)
        items = [_key_record(m) for m in result]
        return items, result.last_evaluated_key

    def revoke(self, key_id: str, at: datetime, actor: str, event: AuditEvent) -> KeyRecord | None:
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.update(ApiKeyModel(key_id=key_id),
                                   actions=[ApiKeyModel.revoked_at.set(at), ApiKeyModel.revoked_by.set(actor)],
                                   condition=ApiKeyModel.key_id.exists() & ApiKeyModel.revoked_at.does_not_exist())
                transaction.save(event_to_model(event))
        except TransactWriteError as exc:
            if not any(failed_conditions(exc)[:1]):
                raise
            # Gone, or revoked by someone else meanwhile: their revocation (and event) stands.
        return self.get(key_id, consistent=True)


class DynamoPolicies:
    def get(self, policy_id: str) -> tuple[Policy, int] | None:
        return get_mapped(PolicyModel, policy_id, lambda m: (Policy.from_dict(m.document), int(m.version or 0)))

    def all(self) -> list[Policy]:
        return [Policy.from_dict(m.document) for m in PolicyModel.all.query("policy")]

    def save(self, policy: Policy, version: int, event: AuditEvent, actor: str, now: datetime) -> None:
        model = PolicyModel(policy_id=policy.policy_id, document=policy.to_dict(), updated_at=now, updated_by=actor)
        save_with_event(at_version(model, version), event, policy.policy_id)
