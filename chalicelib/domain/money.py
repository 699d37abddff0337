"""Money: a Decimal amount in an ISO 4217 currency, exact to the currency's minor unit.

Amounts are built from strings or integers only, never floats. An amount with more decimals than
its currency allows is rejected rather than rounded: silently rounding someone's invoice is a bug.

Every amount that enters Dunwell as text (API bodies, CSV, JSON, UBL, camt.053, webhooks) goes through
`parse_plain_amount` (machine formats) or `parse_amount` (what ERPs print); both end in one grammar:
ASCII digits only, no exponent, no `_`, at most MAX_INTEGER_DIGITS before the decimal point. The bound
keeps every amount far inside Decimal's default 28-digit context and DynamoDB's 38-digit numbers, so a
29-digit total is a rejected row, not an arithmetic error half-way through storing a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from chalicelib.domain.currencies import is_known_currency, minor_units
from chalicelib.domain.errors import CurrencyMismatch, InvalidMoney, UnknownCurrency


def normalise_currency(code: str) -> str:
    upper = code.strip().upper()
    if not is_known_currency(upper):
        raise UnknownCurrency(f"unknown ISO 4217 currency code {code!r}", field="currency")
    return upper


MAX_INTEGER_DIGITS = 15
MAX_FRACTION_DIGITS = 4  # no ISO 4217 currency has more; Money then checks the currency's own exponent
MAX_MAGNITUDE = Decimal(10) ** MAX_INTEGER_DIGITS


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise InvalidMoney(f"amount must be a Decimal, not {type(self.amount).__name__}")
        if not self.amount.is_finite():
            raise InvalidMoney(f"amount {self.amount} is not a finite number")
        if abs(self.amount) >= MAX_MAGNITUDE:
            raise InvalidMoney(f"amount has more than {MAX_INTEGER_DIGITS} digits before the decimal point")
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
        if isinstance(amount, str):
            value = parse_plain_amount(amount)
        elif isinstance(amount, int):
            value = Decimal(amount)
        else:
            value = amount
        return cls(value, normalise_currency(currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.of(0, currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        code = normalise_currency(currency)
        if abs(minor) >= MAX_MAGNITUDE.scaleb(minor_units(code)):
            raise InvalidMoney(f"amount has more than {MAX_INTEGER_DIGITS} digits before the decimal point")
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


_PLAIN = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")


def amount_from_digits(negative: bool, integral: str, fraction: str, text: str) -> Decimal:
    """The one place an amount's digits become a Decimal: ASCII digits, bounded, never an exponent."""
    if not (integral or fraction) or not (integral + fraction).isascii() or not (integral + fraction).isdigit():
        raise InvalidMoney(f"{_shown(text)} is not an amount")
    significant = integral.lstrip("0")
    if len(significant) > MAX_INTEGER_DIGITS:
        raise InvalidMoney(f"{_shown(text)} has more than {MAX_INTEGER_DIGITS} digits before the decimal point")
    if len(fraction) > MAX_FRACTION_DIGITS:
        raise InvalidMoney(f"{_shown(text)} has more than {MAX_FRACTION_DIGITS} decimals")
    value = Decimal(f"{significant or '0'}.{fraction or '0'}")
    return -value if negative else value


def _shown(text: str) -> str:
    """Enough of a bad value to recognise it in a report, never a 40 KB cell."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_plain_amount(text: str, *, signed: bool = True) -> Decimal:
    """An amount as machines write it (API bodies, JSON, UBL, camt.053): `-1234.50`, nothing else.

    An optional sign where `signed`, ASCII digits, an optional `.` and decimals. No exponent (`1e30`), no `_`,
    no thousands separators, no full-width or Arabic-Indic digits, no NaN or Infinity.
    """
    if not isinstance(text, str):
        raise InvalidMoney("an amount is written as a string such as \"120.00\"")
    match = _PLAIN.fullmatch(text.strip())
    if match is None:
        raise InvalidMoney(f"{_shown(text)} is not an amount (digits and one '.', such as \"120.00\")")
    sign, integral, fraction = match.group(1), match.group(2), match.group(3) or ""
    if sign and not signed:
        raise InvalidMoney(f"{_shown(text)} must not carry a sign")
    return amount_from_digits(sign == "-", integral, fraction, text)


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
    if thousands in integral and not re.fullmatch(r"[0-9]{1,3}(" + re.escape(thousands) + r"[0-9]{3})+", integral):
        raise InvalidMoney(f"{text!r} has misplaced thousands separators")
    return amount_from_digits(negative, integral.replace(thousands, ""), fraction, text)


def money_from_text(text: str, currency: str, decimal_separator: str = ".") -> Money:
    return Money.of(parse_amount(text, decimal_separator), currency)
