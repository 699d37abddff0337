"""Domain errors. Each says what kind of failure it is (`kind`); the API answers each kind with one HTTP status, in a
single place (chalicelib/api/errors.py), so a new error needs no new mapping, only the right kind."""

from __future__ import annotations

from enum import Enum
from typing import ClassVar


class Kind(Enum):
    """What a failure is, whatever its code. Errors outside the domain that callers of the API or of a webhook can
    cause (a stale version, a bad signature) declare a `kind` too, so they are answered through the same table."""

    INVALID = "invalid"  # a rule refuses the value or the operation; sending it again changes nothing
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # collides with what the record is now (its state, or its version since it was read)
    FORBIDDEN = "forbidden"  # a control forbids it to this caller or in this deployment (e.g. it needs an admin)
    UNAUTHENTICATED = "unauthenticated"  # the sender could not be told apart from a forger
    MALFORMED = "malformed"  # the request cannot be read at all
    TOO_MANY = "too_many"  # asked too often: wait (Retry-After) and ask again


class DomainError(Exception):
    """A rule of the domain was broken; `code` is stable and machine-readable."""

    code = "invalid"
    kind: ClassVar[Kind] = Kind.INVALID

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """No `what` has the key `key`. `field` names the input that held the key, where the caller gave one."""

    code = "not_found"
    kind = Kind.NOT_FOUND

    def __init__(self, what: str, key: str, *, field: str | None = None, message: str | None = None) -> None:
        super().__init__(message or f"{what} {key} not found", field)
        self.what, self.key = what, key


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
    dispute on an invoice, resolving a dispute twice)."""

    code = "conflict"
    kind = Kind.CONFLICT


class StaleVersion(DomainError):
    """The caller sent the version it read, and the record has moved on since: read it again and retry."""

    code = "conflict"
    kind = Kind.CONFLICT


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key sent again with a different request: replaying the first answer would hide that the second
    request was never carried out."""

    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(f"the Idempotency-Key {key!r} was used for a different request; send a new key for a new "
                         "request", field="Idempotency-Key")


class DisputeOpen(StateConflict):
    code = "dispute_open"


class DisputeResolved(StateConflict):
    code = "dispute_resolved"
