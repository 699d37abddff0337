"""The one map from errors to HTTP answers. An error says what kind of failure it is (`kind`, see
chalicelib/domain/errors.py) and, where it has one, its own stable `code`, `message` and `field`; this table gives
each kind its status, and the code of an error that has none of its own. Routes (`endpoint`) and webhooks answer
through `error_answer`, so a kind answers the same everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import DomainError, Kind


@dataclass(frozen=True)
class KindAnswer:
    status: int
    code: str  # for an error without a `code` of its own
    advice: str | None = None  # appended to the message of an error that is not a DomainError (which says it all)


ANSWERS: Mapping[Kind, KindAnswer] = {
    Kind.INVALID: KindAnswer(422, "invalid"),
    Kind.NOT_FOUND: KindAnswer(404, "not_found"),
    Kind.CONFLICT: KindAnswer(409, "conflict", "read it again and retry"),
    Kind.FORBIDDEN: KindAnswer(403, "forbidden"),
    Kind.UNAUTHENTICATED: KindAnswer(401, "unauthenticated"),
    Kind.MALFORMED: KindAnswer(400, "invalid_request"),
    Kind.TOO_MANY: KindAnswer(429, "too_many_requests"),
}


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    code: str
    message: str
    field: str | None = None


def kind_of(error: type[BaseException]) -> Kind | None:
    """The kind an error class declares, None for an error the API does not expect (a bug: 500)."""
    kind = getattr(error, "kind", None)
    return kind if isinstance(kind, Kind) else None


def error_answer(exc: BaseException, statuses: Mapping[Kind, int] | None = None) -> ErrorAnswer | None:
    """The answer to `exc` by its kind, None when it declares none. `statuses` overrides a kind's status where a
    sender fixed its own convention (a payment processor that expects 498 for a bad signature)."""
    kind = kind_of(type(exc))
    if kind is None:
        return None
    row = ANSWERS[kind]
    status = (statuses or {}).get(kind, row.status)
    if isinstance(exc, DomainError):
        return ErrorAnswer(status, exc.code, exc.message, exc.field)
    code: Any = getattr(exc, "code", None)
    message = str(exc) if row.advice is None else f"{exc}; {row.advice}"
    return ErrorAnswer(status, code if isinstance(code, str) else row.code, message)
