"""The settlement log in DynamoDB (PredictionModel rows; see services/settlement_log.py), and the decoder of the
invoices table's stream into InvoiceChange records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import is_conditional_failure
from chalicelib.adapters.models import PaymentModel, PredictionModel, transaction_connection
from chalicelib.services.ports import Pointer, SettlementEntry, VersionConflict

MONTHS_BACK = 36  # the portfolio's prior looks this far back at most


def customer_pk(customer_id: str) -> str:
    return f"customer#{customer_id}"


def portfolio_pk(on: date) -> str:
    return f"portfolio#{on.year:04d}-{on.month:02d}"


def pointer_pk(invoice_id: str) -> str:
    return f"invoice#{invoice_id}"


def entry_sk(settled_on: date, invoice_id: str) -> str:
    return f"{settled_on.isoformat()}#{invoice_id}"


def _entry_models(entry: SettlementEntry) -> list[PredictionModel]:
    return [PredictionModel(pk, entry_sk(entry.settled_on, entry.invoice_id), customer_id=entry.customer_id,
                            invoice_id=entry.invoice_id, number=entry.number, currency=entry.currency,
                            issue_date=entry.issue_date.isoformat(), due_date=entry.due_date.isoformat(),
                            amount_minor=entry.amount_minor, settled_on=entry.settled_on.isoformat(),
                            disputed=entry.disputed, promised=entry.promised, promise_broken=entry.promise_broken)
            for pk in (customer_pk(entry.customer_id), portfolio_pk(entry.settled_on))]


def model_to_entry(m: PredictionModel) -> SettlementEntry:
    return SettlementEntry(customer_id=str(m.customer_id), invoice_id=str(m.invoice_id), number=str(m.number),
                           currency=str(m.currency), issue_date=date.fromisoformat(str(m.issue_date)),
                           due_date=date.fromisoformat(str(m.due_date)), amount_minor=int(m.amount_minor or 0),
                           settled_on=date.fromisoformat(str(m.settled_on)), disputed=bool(m.disputed),
                           promised=bool(m.promised), promise_broken=bool(m.promise_broken))


def _upper(as_of: date) -> str:
    return f"{as_of.isoformat()}#~"  # every invoice id sorts below '~'


class DynamoSettlements:
    def pointer(self, invoice_id: str) -> Pointer | None:
        try:
            m = PredictionModel.get(pointer_pk(invoice_id), "-", consistent_read=True)
        except PredictionModel.DoesNotExist:
            return None
        return Pointer(invoice_id=invoice_id, customer_id=str(m.customer_id), version=int(m.invoice_version or 0),
                       settled_on=date.fromisoformat(m.settled_on) if m.settled_on else None,
                       disputed=bool(m.disputed), promised=bool(m.promised), promise_broken=bool(m.promise_broken),
                       rev=int(m.rev or 0))

    def write(self, old: Pointer | None, new: Pointer, entry: SettlementEntry | None) -> None:
        pointer = PredictionModel(pointer_pk(new.invoice_id), "-", customer_id=new.customer_id,
                                  invoice_id=new.invoice_id, settled_on=new.settled_on.isoformat()
                                  if new.settled_on else None, disputed=new.disputed, promised=new.promised,
                                  promise_broken=new.promise_broken, invoice_version=new.version, rev=new.rev)
        condition = PredictionModel.pk.does_not_exist() if old is None else PredictionModel.rev == old.rev
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                transaction.save(pointer, condition=condition)
                if old is not None and old.settled_on is not None and old.settled_on != new.settled_on:
                    sk = entry_sk(old.settled_on, old.invoice_id)
                    for pk in (customer_pk(old.customer_id), portfolio_pk(old.settled_on)):
                        transaction.delete(PredictionModel(pk, sk))
                for model in _entry_models(entry) if entry is not None else []:
                    transaction.save(model)
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons or []
            if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                raise VersionConflict(f"settlement log of {new.invoice_id}") from exc
            raise

    def latest(self, customer_id: str, as_of: date, limit: int) -> list[SettlementEntry]:
        result = PredictionModel.query(customer_pk(customer_id), PredictionModel.sk <= _upper(as_of),
                                       scan_index_forward=False, limit=limit)
        return [model_to_entry(m) for m in result]

    def portfolio(self, as_of: date, limit: int) -> list[SettlementEntry]:
        """Month partitions from as_of's backwards, until `limit` or MONTHS_BACK months."""
        out: list[SettlementEntry] = []
        year, month = as_of.year, as_of.month
        for _ in range(MONTHS_BACK):
            if len(out) >= limit:
                break
            pk = f"portfolio#{year:04d}-{month:02d}"
            result = PredictionModel.query(pk, PredictionModel.sk <= _upper(as_of), scan_index_forward=False,
                                           limit=limit - len(out))
            out.extend(model_to_entry(m) for m in result)
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return out

    def settled_after(self, as_of: date, until: date, customer_id: str | None, limit: int,
                      cursor: dict[str, Any] | None) -> tuple[list[SettlementEntry], dict[str, Any] | None]:
        """Settlements after `as_of` (up to `until`), the customer's or everyone's (month by month): the invoices a
        past as_of saw open. Paged: cursor {"p": month index, "k": LastEvaluatedKey}."""
        if customer_id is not None:
            partitions = [customer_pk(customer_id)]
        else:
            partitions = []
            year, month = as_of.year, as_of.month
            while (year, month) <= (until.year, until.month):
                partitions.append(f"portfolio#{year:04d}-{month:02d}")
                year, month = (year, month + 1) if month < 12 else (year + 1, 1)
        out: list[SettlementEntry] = []
        position = int(cursor["p"]) if cursor else 0
        last_key = cursor.get("k") if cursor else None
        while position < len(partitions) and len(out) < limit:
            result = PredictionModel.query(partitions[position], PredictionModel.sk > _upper(as_of),
                                           limit=limit - len(out), last_evaluated_key=last_key)
            out.extend(model_to_entry(m) for m in result)
            last_key = result.last_evaluated_key
            if last_key is None:
                position += 1
        return out, None if position >= len(partitions) else {"p": position, "k": last_key}


# ---- forecast snapshots and receipts (services/forecast.py) -------------------------------------------------

CURRENCIES_PK = "forecast#currencies"


class DynamoForecasts:
    def put_forecast(self, currency: str, as_of: date, document: Mapping[str, Any]) -> bool:
        model = PredictionModel(f"forecast#{currency}", as_of.isoformat(), currency=currency, document=dict(document),
                                created_at=datetime.now(UTC))
        try:
            model.save(condition=PredictionModel.pk.does_not_exist())
        except PutError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        known = self.currencies()
        if currency not in known:
            PredictionModel(CURRENCIES_PK, "-", document=sorted({*known, currency})).save()
        return True

    def get_forecasts(self, currency: str, days: Sequence[date]) -> dict[date, dict[str, Any]]:
        keys = [(f"forecast#{currency}", d.isoformat()) for d in days]
        out: dict[date, dict[str, Any]] = {}
        for m in PredictionModel.batch_get(keys):
            out[date.fromisoformat(m.sk)] = dict(m.document or {})
        return out

    def currencies(self) -> list[str]:
        try:
            m = PredictionModel.get(CURRENCIES_PK, "-")
        except PredictionModel.DoesNotExist:
            return []
        return [str(c) for c in (m.document or [])]


class DynamoReceipts:
    def received(self, start: date, end: date) -> dict[tuple[str, date], int]:
        """Money in per (currency, day received), from the payments' by_time index (received_key starts with the
        received instant, UTC)."""
        condition = PaymentModel.received_key.between(start.isoformat(), (end + timedelta(days=1)).isoformat())
        out: dict[tuple[str, date], int] = {}
        for m in PaymentModel.by_time.query("payment", range_key_condition=condition,
                                            filter_condition=PaymentModel.kind == "payment"):
            day = m.occurred_at.astimezone(UTC).date()
            if start <= day <= end:
                out[(m.currency, day)] = out.get((m.currency, day), 0) + int(m.amount_minor)
        return out
