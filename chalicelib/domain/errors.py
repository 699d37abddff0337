"""Domain errors. The API maps each to one HTTP status in a single place (chalicelib/api/errors.py)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken; `code` is stable and machine-readable."""

    code = "invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidMoney(DomainError):
    code = "invalid_amount"


class UnknownCurrency(DomainError):
    code = "unknown_currency"


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"


class InvalidDocument(DomainError):
    code = "invalid_document"


class AmendmentRejected(DomainError):
    code = "amendment_rejected"


class NotAllowed(DomainError):
    """The record's state forbids the operation (disputing a paid invoice, promising on a disputed one)."""

    code = "not_allowed"


class StateConflict(DomainError):
    """The operation collides with what the record already is, and retrying will not change that (a second open
    dispute on an invoice, resolving a dispute twice). The API answers 409."""

    code = "conflict"


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key sent again with a different request: replaying the first answer would hide that the second
    request was never carried out. The API answers 422."""

    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(f"the Idempotency-Key {key!r} was used for a different request; send a new key for a new "
                         "request", field="Idempotency-Key")


class DisputeOpen(StateConflict):
    code = "dispute_open"


class DisputeResolved(StateConflict):
    code = "dispute_resolved"
