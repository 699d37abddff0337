"""Letters for the post in DynamoDB: the letters table and its `by_status` index (the print queue); the customers
who get the monthly statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from chalicelib.adapters.dynamo import at_version, get_or_none, model_to_customer, save_with_invoices, time_key
from chalicelib.adapters.models import CustomerModel, LetterModel
from chalicelib.domain.customer import Customer
from chalicelib.domain.letters import Letter, LetterStatus
from chalicelib.services.ports import AuditEvent, VersionConflict


def _to_model(letter: Letter) -> LetterModel:
    return at_version(LetterModel(
        letter_id=letter.letter_id, status=letter.status.value,
        created_key=time_key(letter.created_at, letter.letter_id), message_key=letter.message_key,
        customer_id=letter.customer_id, customer_name=letter.customer_name, invoice_ids=list(letter.invoice_ids),
        invoice_numbers=list(letter.invoice_numbers), steps=list(letter.steps), language=letter.language,
        subject=letter.subject, letter_date=letter.letter_date.isoformat(), created_at=letter.created_at,
        pages=letter.pages, posted_at=letter.posted_at, posted_by=letter.posted_by), letter.version)


def _from_model(m: LetterModel) -> Letter:
    return Letter(m.letter_id, m.message_key, m.customer_id, m.customer_name, tuple(m.invoice_ids or ()),
                  tuple(m.invoice_numbers or ()), tuple(m.steps or ()), m.language, m.subject,
                  date.fromisoformat(m.letter_date), m.created_at, int(m.pages), LetterStatus(m.status),
                  m.posted_at, m.posted_by, int(m.version or 0))


class DynamoLetters:
    def get(self, letter_id: str) -> Letter | None:
        m = get_or_none(LetterModel, letter_id)
        return None if m is None else _from_model(m)

    def create(self, letter: Letter, events: Sequence[AuditEvent]) -> Letter:
        try:
            return self.save(letter, events)
        except VersionConflict:
            existing = self.get(letter.letter_id)  # stored by an earlier attempt at the same send
            if existing is None:
                raise
            return existing

    def save(self, letter: Letter, events: Sequence[AuditEvent]) -> Letter:
        model = _to_model(letter)
        save_with_invoices(model, [], events, letter.posted_at or letter.created_at, letter.letter_id)
        return _from_model(model)

    def list(self, status: str, limit: int, cursor: dict[str, Any] | None
             ) -> tuple[list[Letter], dict[str, Any] | None]:
        result = LetterModel.by_status.query(status, scan_index_forward=True, limit=limit, last_evaluated_key=cursor)
        return [_from_model(m) for m in result], result.last_evaluated_key




class DynamoStatementRecipients:
    """Customers with the monthly statement by email: the sparse `by_statement_delivery` index of the customers."""

    def opted_in(self, limit: int, cursor: dict[str, Any] | None
                 ) -> tuple[list[Customer], dict[str, Any] | None]:
        result = CustomerModel.by_statement_delivery.query("email", limit=limit, last_evaluated_key=cursor)
        customers = [model_to_customer(m) for m in result]
        return customers, result.last_evaluated_key
