"""Keys that make work lists orderable by an index: pure functions, no I/O.

- `balance_order_key`: a fixed-width text whose byte order is the *reverse* of the amounts' order, so an index
  read forwards lists the largest balance first (one currency at a time: minor units of one currency share an
  exponent, so comparing them is comparing the Decimal amounts).
- `number_search_key`: how a typed invoice-number prefix meets stored numbers (domain.ids.reference_key: case,
  blanks and separators dropped), so "inv 2026" finds "INV-2026-0001".
- `name_search_key`: how a typed customer-name prefix meets the customers' by_name index (casefolded).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from chalicelib.domain.analytics.aging import BUCKETS, bucket_of
from chalicelib.domain.ids import reference_key
from chalicelib.domain.money import Money

BALANCE_DIGITS = 20  # minor units below 10**20: far beyond any invoice; DynamoDB numbers hold 38 digits
_LIMIT = 10 ** BALANCE_DIGITS


def _ascending(minor: int) -> str:
    """Order-preserving text for a signed integer: "0" + (10**20 + n) below zero, "1" + n from zero."""
    if not -_LIMIT < minor < _LIMIT:
        raise ValueError(f"an amount of {minor} minor units is beyond {BALANCE_DIGITS} digits")
    return f"0{_LIMIT + minor:0{BALANCE_DIGITS}d}" if minor < 0 else f"1{minor:0{BALANCE_DIGITS}d}"


def balance_order_key(minor: int) -> str:
    """Sorts ascending exactly as the amounts sort descending (largest first)."""
    return _ascending(-minor)


def number_search_key(text: str) -> str:
    """A number or a typed prefix of one, as the by_number index holds it ('' when nothing is left)."""
    return reference_key(text)


def name_search_key(text: str) -> str:
    """A typed prefix of a customer name, as the customers' by_name index holds names (casefolded)."""
    return text.lstrip().casefold()


def open_amounts(items: Iterable[tuple[str, Money, date]], as_of: date
                 ) -> dict[tuple[str, str], tuple[Money, Money, Mapping[str, Money]]]:
    """(customer_id, balance, due date) of open invoices -> per (customer, currency): balance, overdue, buckets."""
    totals: dict[tuple[str, str], dict[str, Money]] = {}
    for customer_id, balance, due in items:
        buckets = totals.setdefault((customer_id, balance.currency),
                                    {b: Money.zero(balance.currency) for b in BUCKETS})
        bucket = bucket_of(due, as_of)
        buckets[bucket] = buckets[bucket] + balance
    result: dict[tuple[str, str], tuple[Money, Money, Mapping[str, Money]]] = {}
    for key, buckets in totals.items():
        zero = Money.zero(key[1])
        balance = sum(buckets.values(), zero)
        overdue = sum((v for b, v in buckets.items() if b != "current"), zero)
        result[key] = (balance, overdue, dict(buckets))
    return result
