"""Payments and provider notifications in DynamoDB. Applying money is one TransactWriteItems: the
payment record (only if new), every invoice it touches (only at the version read), their audit events
and the notification's status, so a payment is recorded with all its effects or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import (
    DynamoLedger,
    _mutable_invoice_actions,
    at_version,
    event_to_model,
    failed_conditions,
    get_mapped,
    get_or_none,
    invoice_to_model,
    is_conditional_failure,
    time_key,
)
from chalicelib.adapters.models import PaymentModel, ProviderEventModel, transaction_connection
from chalicelib.domain.cash_application import Allocation
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentKind, PaymentRecord
from chalicelib.services.ports import AlreadyRecorded, AuditEvent, ProviderEventRecord, VersionConflict


def _received_key(record: PaymentRecord) -> str:
    return time_key(record.occurred_at, record.payment_id)


def payment_to_model(record: PaymentRecord) -> PaymentModel:
    currency = record.amount.currency
    model = PaymentModel(
        payment_id=record.payment_id,
        received_key=_received_key(record),
        provider=record.provider,
        payment_ref=record.payment_ref,
        kind=record.kind.value,
        status=record.status.value,
        currency=currency,
        amount_minor=record.amount.minor,
        unapplied_minor=record.unapplied.minor,
        reversed_minor=record.reversed_amount.minor,
        unapplied_key="unapplied" if record.kind is PaymentKind.PAYMENT and not record.unapplied.is_zero else None,
        allocations=[{"invoice_id": a.invoice_id, "number": a.number, "amount_minor": a.amount.minor}
                     for a in record.allocations],
        customer_id=record.customer_id,
        method=record.method,
        reason=record.reason,
        references=list(record.references),
        payer_name=record.payer_name,
        payer_email=record.payer_email,
        original_ref=record.original_ref,
        waiting_for=f"{record.provider}:{record.original_ref}" if record.waiting else None,
        raw_type=record.raw_type,
        occurred_at=record.occurred_at,
        recorded_at=record.recorded_at,
        recorded_by=record.recorded_by,
        request=record.request,
        refunded_minor=None if record.refunded is None else record.refunded.minor,
        initiated_on=None if record.initiated_on is None else record.initiated_on.isoformat(),
    )
    return at_version(model, record.version)


def model_to_payment(m: PaymentModel) -> PaymentRecord:
    currency = m.currency
    return PaymentRecord(
        payment_id=m.payment_id,
        provider=m.provider,
        payment_ref=m.payment_ref,
        kind=PaymentKind(m.kind),
        amount=Money.from_minor(int(m.amount_minor), currency),
        allocations=tuple(Allocation(a["invoice_id"], a["number"], Money.from_minor(int(a["amount_minor"]), currency))
                          for a in (m.allocations or [])),
        unapplied=Money.from_minor(int(m.unapplied_minor), currency),
        reversed=Money.from_minor(int(m.reversed_minor or 0), currency),
        occurred_at=m.occurred_at,
        recorded_at=m.recorded_at,
        recorded_by=m.recorded_by,
        customer_id=m.customer_id,
        method=m.method,
        reason=m.reason,
        references=tuple(m.references or ()),
        payer_name=m.payer_name,
        payer_email=m.payer_email,
        original_ref=m.original_ref,
        raw_type=m.raw_type,
        waiting=m.waiting_for is not None,
        request=m.request,
        refunded=None if m.refunded_minor is None else Money.from_minor(int(m.refunded_minor), currency),
        initiated_on=None if not m.initiated_on else date.fromisoformat(m.initiated_on),
        version=int(m.version or 0),
    )


class DynamoPayments:
    def get(self, payment_id: str) -> PaymentRecord | None:
        return get_mapped(PaymentModel, payment_id, model_to_payment)

    def waiting_for(self, provider: str, payment_ref: str) -> list[PaymentRecord]:
        return [model_to_payment(m) for m in PaymentModel.by_original.query(f"{provider}:{payment_ref}")]

    def open_invoices(self, customer_id: str) -> list[Invoice]:
        return DynamoLedger().open_invoices(customer_id)

    def commit(self, *, new: Sequence[PaymentRecord] = (), changed: Sequence[PaymentRecord] = (),
               invoices: Sequence[Invoice] = (), events: Sequence[AuditEvent] = (),
               notification: ProviderEventRecord | None = None, now: datetime) -> None:
        """All or nothing. AlreadyRecorded: a new record exists (this money was recorded before);
        VersionConflict: an invoice or payment changed since it was read."""
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                for record in new:
                    payment = payment_to_model(record)
                    if record.version:  # a waiting reversal being completed: only if still waiting
                        transaction.save(payment, condition=PaymentModel.waiting_for.exists())
                    else:
                        transaction.save(payment, condition=PaymentModel.payment_id.does_not_exist())
                for event in events:
                    transaction.save(event_to_model(event))
                if notification is not None:
                    transaction.save(_notification_model(notification))
                for record in changed:
                    transaction.save(payment_to_model(record))
                for invoice in invoices:
                    invoice_model = invoice_to_model(invoice, now)
                    transaction.update(invoice_model, _mutable_invoice_actions(invoice_model))
        except TransactWriteError as exc:
            failed = [i for i, bad in enumerate(failed_conditions(exc)) if bad]
            if any(i < len(new) for i in failed):
                raise AlreadyRecorded(new[0].payment_id) from exc
            if failed:
                raise VersionConflict("payment or invoice changed meanwhile") from exc
            raise


def _notification_model(record: ProviderEventRecord) -> ProviderEventModel:
    return ProviderEventModel(dedupe_key=record.dedupe_key, status=record.status, type=record.type,
                              payment_id=record.payment_id, raw_key=record.raw_key, detail=record.detail,
                              received_at=record.received_at)


class DynamoProviderEvents:
    def claim(self, record: ProviderEventRecord) -> bool:
        """Record a notification as received; False when it was seen before."""
        try:
            _notification_model(record).save(condition=ProviderEventModel.dedupe_key.does_not_exist())
        except PutError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def get(self, dedupe_key: str) -> ProviderEventRecord | None:
        m = get_or_none(ProviderEventModel, dedupe_key)
        if m is None:
            return None
        return ProviderEventRecord(m.dedupe_key, m.status, m.type, m.received_at, m.payment_id, m.raw_key, m.detail)

    def save(self, record: ProviderEventRecord) -> None:
        _notification_model(record).save()
