"""Money: a Decimal amount in an ISO 4217 currency, exact to the currency's minor unit.

Amounts are built from strings or integers only, never floats. An amount with more decimals than
its currency allows is rejected rather than rounded: silently rounding someone's invoice is a bug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from chalicelib.domain.currencies import is_known_currency, minor_units
from chalicelib.domain.errors import CurrencyMismatch, InvalidMoney, UnknownCurrency


def normalise_currency(code: str) -> str:
    upper = code.strip().upper()
    if not is_known_currency(upper):
        raise UnknownCurrency(f"unknown ISO 4217 currency code {code!r}", field="currency")
    return upper


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise InvalidMoney(f"amount must be a Decimal, not {type(self.amount).__name__}")
        if not self.amount.is_finite():
            raise InvalidMoney(f"amount {self.amount} is not a finite number")
        if not is_known_currency(self.currency):
            raise UnknownCurrency(f"unknown ISO 4217 currency code {self.currency!r}", field="currency")
        exponent = minor_units(self.currency)
        quantum = Decimal(1).scaleb(-exponent)
        if self.amount != self.amount.quantize(quantum):
            raise InvalidMoney(
                f"{self.amount} has more than {exponent} decimal places allowed for {self.currency}"
            )
        # One canonical representation per value, so equal money compares and hashes equal.
        object.__setattr__(self, "amount", self.amount.quantize(quantum))

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        if isinstance(amount, float):
            raise InvalidMoney("money is never built from a float")
        try:
            value = amount if isinstance(amount, Decimal) else Decimal(amount)
        except InvalidOperation as exc:
            raise InvalidMoney(f"{amount!r} is not a number") from exc
        return cls(value, normalise_currency(currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.of(0, currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        code = normalise_currency(currency)
        return cls(Decimal(minor).scaleb(-minor_units(code)), code)

    @property
    def minor(self) -> int:
        """The amount in integer minor units (cents), as stored."""
        return int(self.amount.scaleb(minor_units(self.currency)))

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount >= other.amount

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    @property
    def is_negative(self) -> bool:
        return self.amount < 0

    def to_api(self) -> str:
        """Plain string with exactly the currency's decimals, e.g. '1656.25' or '1000' for JPY."""
        return f"{self.amount:f}"

    def __str__(self) -> str:
        return f"{self.to_api()} {self.currency}"


_SPACES = re.compile(r"[\s\u00a0\u202f']")
_CURRENCY_MARKS = re.compile(r"[€$£¥₹₩]|\b[A-Z]{3}\b")


def parse_amount(text: str, decimal_separator: str = ".") -> Decimal:
    """Parse an amount as ERP exports write it.

    Handles thousands separators, a currency symbol or code, `(1.00)` and trailing-minus `100,00-`
    negatives, and a decimal comma when the mapping says so. The separator is never guessed:
    `1,234` is one thousand two hundred and thirty-four with '.', and 1.234 with ','.
    """
    if decimal_separator not in (".", ","):
        raise ValueError("decimal separator must be '.' or ','")
    raw = text.strip()
    if not raw:
        raise InvalidMoney("amount is empty")
    negative = False
    body = _CURRENCY_MARKS.sub("", raw).strip()
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1].strip()
    if body.endswith("-"):
        negative, body = not negative, body[:-1].strip()
    if body.startswith("-"):
        negative, body = not negative, body[1:].strip()
    elif body.startswith("+"):
        body = body[1:].strip()
    body = _CURRENCY_MARKS.sub("", body).strip()
    body = _SPACES.sub("", body)
    thousands = "," if decimal_separator == "." else "."
    if body.count(decimal_separator) > 1:
        raise InvalidMoney(f"{text!r} has more than one decimal separator {decimal_separator!r}")
    integral, _, fraction = body.partition(decimal_separator)
    if thousands in integral and not re.fullmatch(r"\d{1,3}(" + re.escape(thousands) + r"\d{3})+", integral):
        raise InvalidMoney(f"{text!r} has misplaced thousands separators")
    integral = integral.replace(thousands, "")
    if not re.fullmatch(r"\d*", integral) or not re.fullmatch(r"\d*", fraction) or not (integral or fraction):
        raise InvalidMoney(f"{text!r} is not an amount")
    value = Decimal(f"{integral or '0'}.{fraction or '0'}")
    return -value if negative else value


def money_from_text(text: str, currency: str, decimal_separator: str = ".") -> Money:
    return Money.of(parse_amount(text, decimal_separator), currency)
