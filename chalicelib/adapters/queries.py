"""Read models for the finance API. Every listing is a Query on a key or index, never a Scan, and
pages with an opaque cursor that can span several index partitions (e.g. all statuses in turn)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.adapters.dynamo import (
    get_mapped,
    model_to_credit_note,
    model_to_customer,
    model_to_invoice,
    model_to_record,
)
from chalicelib.adapters.models import CreditNoteModel, CustomerModel, ImportModel, InvoiceModel, PaymentModel
from chalicelib.adapters.payments import model_to_payment
from chalicelib.domain.balances import BalanceSummary, summarize
from chalicelib.domain.customer import Customer
from chalicelib.domain.invoice import OUTSTANDING_STATUSES, Invoice, InvoiceStatus
from chalicelib.services.ports import ImportRecord, InvoiceFilter, Page, PaymentFilter


def _due_range(f: InvoiceFilter) -> Condition | None:
    # due_key is "<YYYY-MM-DD>#<id>": '#' sorts before digits, '~' after every id character.
    key = InvoiceModel.due_key
    if f.due_after and f.due_before:
        return key.between(f"{f.due_after.isoformat()}#~", f"{f.due_before.isoformat()}#")
    if f.due_after:
        return key > f"{f.due_after.isoformat()}#~"
    if f.due_before:
        return key < f"{f.due_before.isoformat()}#"
    return None


class DynamoQueries:
    def invoice(self, invoice_id: str) -> Invoice | None:
        return get_mapped(InvoiceModel, invoice_id, model_to_invoice, consistent=False)

    def invoices(self, f: InvoiceFilter, limit: int, cursor: dict[str, Any] | None) -> Page:
        """By customer: one partition of by_customer, statuses filtered. Otherwise: the by_status
        partitions one after another, so a page never needs a Scan."""
        if f.customer_id:
            status_filter = InvoiceModel.status.is_in(*[s.value for s in f.statuses]) if f.statuses else None
            partitions: list[tuple[Any, str, Condition | None]] = [
                (InvoiceModel.by_customer, f.customer_id, status_filter)]
        else:
            statuses = f.statuses or tuple(InvoiceStatus)
            partitions = [(InvoiceModel.by_status, s.value, None) for s in statuses]
        items: list[Invoice] = []
        position = int(cursor["p"]) if cursor else 0
        last_key = cursor.get("k") if cursor else None
        while position < len(partitions) and len(items) < limit:
            index, hash_key, filter_condition = partitions[position]
            result = index.query(hash_key, range_key_condition=_due_range(f), filter_condition=filter_condition,
                                 limit=limit - len(items), last_evaluated_key=last_key)
            items.extend(model_to_invoice(m) for m in result)
            last_key = result.last_evaluated_key
            if last_key is None:
                position += 1
        if position >= len(partitions):
            return Page(items, None)
        return Page(items, {"p": position, "k": last_key})

    def customer(self, customer_id: str) -> Customer | None:
        return get_mapped(CustomerModel, customer_id, model_to_customer, consistent=False)

    def customers(self, limit: int, cursor: dict[str, Any] | None) -> Page:
        result = CustomerModel.by_name.query("customer", limit=limit, last_evaluated_key=cursor.get("k") if cursor
                                             else None)
        items = [model_to_customer(m) for m in result]
        key = result.last_evaluated_key
        return Page(items, {"p": 0, "k": key} if key else None)

    def balance_summary(self, customer_id: str, today: date) -> BalanceSummary:
        """Reads the customer's outstanding invoices only (a filter on its own partition)."""
        query = InvoiceModel.by_customer.query(
            customer_id, filter_condition=InvoiceModel.status.is_in(*[s.value for s in OUTSTANDING_STATUSES]))
        return summarize((model_to_invoice(m) for m in query),
                         (model_to_credit_note(n) for n in CreditNoteModel.by_customer.query(customer_id)), today)

    def import_record(self, import_id: str) -> ImportRecord | None:
        return get_mapped(ImportModel, import_id, model_to_record, consistent=False)

    def imports(self, limit: int, cursor: dict[str, Any] | None) -> Page:
        result = ImportModel.by_time.query("import", scan_index_forward=False, limit=limit,
                                           last_evaluated_key=cursor.get("k") if cursor else None)
        items = [model_to_record(m) for m in result]
        key = result.last_evaluated_key
        return Page(items, {"p": 0, "k": key} if key else None)

    def payments(self, f: PaymentFilter, limit: int, cursor: dict[str, Any] | None) -> Page:
        """Newest first, from the index that fits: unapplied cash (sparse), one customer, or all."""
        key = PaymentModel.received_key
        condition: Condition | None = None
        if f.received_from and f.received_to:
            condition = key.between(f.received_from.isoformat(), (f.received_to + timedelta(days=1)).isoformat())
        elif f.received_from:
            condition = key >= f.received_from.isoformat()
        elif f.received_to:
            condition = key < (f.received_to + timedelta(days=1)).isoformat()
        if f.unapplied:
            filter_condition = PaymentModel.customer_id == f.customer_id if f.customer_id else None
            result = PaymentModel.unapplied.query("unapplied", range_key_condition=condition,
                                                  filter_condition=filter_condition, scan_index_forward=False,
                                                  limit=limit, last_evaluated_key=cursor.get("k") if cursor else None)
        elif f.customer_id:
            result = PaymentModel.by_customer.query(f.customer_id, range_key_condition=condition,
                                                    scan_index_forward=False, limit=limit,
                                                    last_evaluated_key=cursor.get("k") if cursor else None)
        else:
            result = PaymentModel.by_time.query("payment", range_key_condition=condition, scan_index_forward=False,
                                                limit=limit, last_evaluated_key=cursor.get("k") if cursor else None)
        items = [model_to_payment(m) for m in result]
        last = result.last_evaluated_key
        return Page(items, {"p": 0, "k": last} if last else None)
