"""Reads of the debtor portal: the statement's four requests (services/statement.py), each a GetItem or one Query
on an index keyed by the customer; never a Scan."""

from __future__ import annotations

from datetime import date, timedelta

from chalicelib.adapters.dynamo import get_mapped, model_to_credit_note, model_to_customer, model_to_invoice
from chalicelib.adapters.models import CreditNoteModel, CustomerModel, InvoiceModel, PaymentModel
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
