"""Reads of the debtor portal: the statement's requests (services/statement.py), each a GetItem or one Query on an
index keyed by the customer, and the session check (customer + revocation in one BatchGetItem); never a Scan."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalicelib.adapters.dynamo import get_mapped, model_to_credit_note, model_to_customer, model_to_invoice
from chalicelib.adapters.models import CreditNoteModel, CustomerModel, InvoiceModel, PaymentModel, PortalLinkModel
from chalicelib.adapters.payments import model_to_payment
from chalicelib.domain.customer import Customer
from chalicelib.domain.invoice import CreditNote, Invoice
from chalicelib.domain.payments import PaymentRecord


class DynamoStatementReader:
    """StatementReader (services/statement.py) on the tables' indexes."""

    def customer(self, customer_id: str) -> Customer | None:
        return get_mapped(CustomerModel, customer_id, model_to_customer, consistent=False)

    def open_invoices(self, customer_id: str) -> list[Invoice]:
        return [model_to_invoice(m) for m in InvoiceModel.open_by_customer.query(customer_id)]

    def credit_notes(self, customer_id: str) -> list[CreditNote]:
        return [model_to_credit_note(m) for m in CreditNoteModel.by_customer.query(customer_id)]

    def payments(self, customer_id: str, received_from: date, received_to: date, limit: int
                 ) -> list[PaymentRecord]:
        condition = PaymentModel.received_key.between(received_from.isoformat(),
                                                      (received_to + timedelta(days=1)).isoformat())
        return [model_to_payment(m) for m in PaymentModel.by_customer.query(
            customer_id, range_key_condition=condition, scan_index_forward=False, limit=limit)]


class DynamoPortalReads:
    """What the portal's session check reads (services/portal.py GenerationGate): the customer and its portal-link
    revocation generation (the `state` row of the portal links table) in ONE BatchGetItem, strongly
    consistent: every page checks revocation and still has its customer for the price of one request."""

    def customer_and_generation(self, customer_id: str) -> tuple[Customer | None, int]:
        from chalicelib.adapters.portal_links import STATE

        customers, links = CustomerModel.Meta.table_name, PortalLinkModel.Meta.table_name
        pending: dict[str, Any] = {
            customers: {"Keys": [{"customer_id": {"S": customer_id}}], "ConsistentRead": True},
            links: {"Keys": [{"pk": {"S": f"customer#{customer_id}"}, "sk": {"S": STATE}}],
                    "ConsistentRead": True, "ProjectionExpression": "generation"},
        }
        found: dict[str, list[dict[str, Any]]] = {customers: [], links: []}
        # Through PynamoDB's connection (its retries, its endpoint, and the bench's request counter).
        connection = CustomerModel._get_connection().connection
        for _ in range(5):
            result = connection._make_api_call("BatchGetItem", {"RequestItems": pending})
            for table, items in (result.get("Responses") or {}).items():
                found.setdefault(table, []).extend(items)
            pending = result.get("UnprocessedKeys") or {}
            if not pending:
                break
        else:
            raise RuntimeError("DynamoDB left keys of the portal's session check unprocessed")
        generation = int(found[links][0].get("generation", {}).get("N", "0")) if found[links] else 0
        customer = model_to_customer(CustomerModel.from_raw_data(found[customers][0])) if found[customers] else None
        return customer, generation
