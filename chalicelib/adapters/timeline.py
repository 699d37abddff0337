"""What timelines and notes read: the audit trail, and the invoices and customers they are about."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import PutError

from chalicelib.adapters.dunning import DynamoHistory
from chalicelib.adapters.dynamo import event_to_model, get_mapped, get_or_none, is_conditional_failure
from chalicelib.adapters.models import CustomerModel, InvoiceModel
from chalicelib.services.ports import AuditEvent


class DynamoEventLog(DynamoHistory):
    def append(self, event: AuditEvent) -> None:
        model = event_to_model(event)
        try:
            model.save(condition=type(model).event_key.does_not_exist())
        except PutError as exc:
            if not is_conditional_failure(exc):
                raise  # the same event written twice (a retry) is fine; anything else is not


class DynamoSubjects:
    def invoice_origin(self, invoice_id: str) -> tuple[datetime, str | None] | None:
        return get_mapped(InvoiceModel, invoice_id, lambda m: (m.created_at, m.import_id), consistent=False,
                          attributes=["created_at", "import_id"])

    def customer_exists(self, customer_id: str) -> bool:
        return get_or_none(CustomerModel, customer_id, consistent=False, attributes=["customer_id"]) is not None

    def customer_invoices(self, customer_id: str, limit: int) -> list[tuple[str, datetime, str | None]]:
        return [(m.invoice_id, m.created_at, m.import_id) for m in InvoiceModel.by_customer.query(
            customer_id, scan_index_forward=False, limit=limit,
            attributes_to_get=["invoice_id", "created_at", "import_id"])]
