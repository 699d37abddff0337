"""Aging: an open balance by how far past due it is at a day."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")


def bucket_of(due: date, as_of: date) -> str:
    """`current`: not yet past due (due on or after as_of); then by days past due (as_of - due)."""
    days = (as_of - due).days
    if days <= 0:
        return "current"
    if days <= 30:
        return "1_30"
    if days <= 60:
        return "31_60"
    if days <= 90:
        return "61_90"
    return "over_90"


def aging(by_due: Mapping[date, int], as_of: date) -> dict[str, int]:
    """Open balance per bucket (minor units); the buckets always sum to the balance."""
    buckets = dict.fromkeys(BUCKETS, 0)
    for due, amount in by_due.items():
        buckets[bucket_of(due, as_of)] += amount
    return buckets


def overdue(by_due: Mapping[date, int], as_of: date) -> int:
    return sum(amount for due, amount in by_due.items() if due < as_of)
