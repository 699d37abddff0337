"""Payment terms: net days and an optional early-payment discount (e.g. '2/10 net 30')."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from chalicelib.domain.errors import InvalidDocument

_DISCOUNT = re.compile(
    r"^\s*(?P<pct>\d+(?:[.,]\d+)?)\s*%?\s*[/\s]\s*(?P<ddays>\d+)\s*(?:days?)?\s*,?\s*n(?:et)?\s*/?\s*(?P<net>\d+)\s*$",
    re.IGNORECASE,
)
_NET = re.compile(r"^\s*(?:net\s*/?\s*(?P<a>\d+)|(?P<b>\d+)\s*(?:days?|d)(?:\s+net)?|n\s*/\s*(?P<c>\d+))\s*$", re.I)
_ON_RECEIPT = re.compile(r"^\s*(due\s+(on|upon)\s+receipt|immediate(ly)?|cash|net\s*0)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    net_days: int
    discount_percent: Decimal | None = None
    discount_days: int | None = None

    def __post_init__(self) -> None:
        if self.net_days < 0 or self.net_days > 3650:
            raise InvalidDocument(f"net days {self.net_days} out of range", field="terms")
        if (self.discount_percent is None) != (self.discount_days is None):
            raise InvalidDocument("a discount needs both a percentage and a number of days", field="terms")
        if self.discount_percent is not None and not (0 < self.discount_percent < 100):
            raise InvalidDocument("discount percentage must be between 0 and 100", field="terms")
        if self.discount_days is not None and self.discount_days > self.net_days:
            raise InvalidDocument("discount days cannot exceed net days", field="terms")

    @classmethod
    def parse(cls, text: str) -> PaymentTerms:
        """Parse the forms ERPs write: 'Net 30', 'NET30', '30 days', '2/10 net 30', '2% 10 Net 30',
        'Due on receipt'. Anything else is an error, never a guess."""
        if _ON_RECEIPT.match(text):
            return cls(net_days=0)
        if m := _DISCOUNT.match(text):
            return cls(
                net_days=int(m["net"]),
                discount_percent=Decimal(m["pct"].replace(",", ".")),
                discount_days=int(m["ddays"]),
            )
        if m := _NET.match(text):
            return cls(net_days=int(m["a"] or m["b"] or m["c"]))
        raise InvalidDocument(f"payment terms {text!r} not understood", field="terms")

    def due_date(self, issue_date: date) -> date:
        return issue_date + timedelta(days=self.net_days)

    def discount_deadline(self, issue_date: date) -> date | None:
        return None if self.discount_days is None else issue_date + timedelta(days=self.discount_days)

    def describe(self) -> str:
        if self.discount_percent is None:
            return f"net {self.net_days}"
        return f"{self.discount_percent.normalize():f}/{self.discount_days} net {self.net_days}"
