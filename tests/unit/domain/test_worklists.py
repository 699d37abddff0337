"""The work-list index keys: orders exactly as the amounts, prefixes meet numbers as typed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.analytics.aging import bucket_of
from chalicelib.domain.money import Money
from chalicelib.domain.worklists import (
    balance_order_key,
    name_search_key,
    number_search_key,
    open_amounts,
)

minor = st.integers(min_value=-(10 ** 20) + 1, max_value=10 ** 20 - 1)


@given(st.lists(minor, min_size=2, max_size=30))
def test_balance_key_orders_largest_first_exactly_like_the_decimal_amounts(amounts):
    decimals = {m: Decimal(m).scaleb(-2) for m in amounts}
    by_key = sorted(amounts, key=balance_order_key)
    assert [decimals[m] for m in by_key] == sorted((decimals[m] for m in amounts), reverse=True)


@given(minor, minor)
def test_balance_keys_compare_as_the_amounts_and_have_one_width(a, b):
    assert (balance_order_key(a) < balance_order_key(b)) == (a > b)
    assert (balance_order_key(a) == balance_order_key(b)) == (a == b)
    assert len(balance_order_key(a)) == len(balance_order_key(b)) == 21


@given(st.integers(min_value=0, max_value=10 ** 12), st.integers(min_value=0, max_value=10 ** 12),
       st.sampled_from(["EUR", "USD", "JPY"]))
def test_balance_key_with_its_currency_and_id_keeps_the_order(a, b, currency):
    key_a, key_b = (f"{currency}#{balance_order_key(m)}#INV-{i}" for i, m in ((1, a), (2, b)))
    if a != b:
        assert (key_a < key_b) == (a > b)


def test_balance_key_refuses_what_it_cannot_order():
    with pytest.raises(ValueError):
        balance_order_key(10 ** 20)


@pytest.mark.parametrize(("number", "typed"), [
    ("INV-2026-0001", "inv 2026"), ("INV-2026-0001", "INV-2026-00"), ("INV/2026/0001", "inv-2026/0"),
    ("inv 2026 0001", "INV2026"),
])
def test_a_typed_prefix_meets_the_number_however_it_is_spelled(number, typed):
    assert number_search_key(number).startswith(number_search_key(typed))


@given(st.text(alphabet="AB12-/ .x", min_size=1, max_size=12), st.integers(min_value=0, max_value=12))
def test_a_prefix_of_a_number_is_a_prefix_of_its_key(number, cut):
    assert number_search_key(number).startswith(number_search_key(number[:cut]))


def test_name_prefix_is_casefolded_like_the_by_name_index():
    assert name_search_key("  Straße") == "strasse"
    assert "müller gmbh#mueller".startswith(name_search_key("MÜLLER"))


@pytest.mark.parametrize(("days", "bucket"), [(-3, "current"), (0, "current"), (1, "1_30"), (30, "1_30"),
                                              (31, "31_60"), (60, "31_60"), (61, "61_90"), (90, "61_90"),
                                              (91, "over_90")])
def test_aging_buckets_by_days_past_due(days, bucket):
    as_of = date(2026, 6, 30)
    assert bucket_of(as_of - timedelta(days=days), as_of) == bucket


def test_open_amounts_per_customer_and_currency():
    as_of = date(2026, 6, 30)
    eur = lambda text: Money(Decimal(text), "EUR")  # noqa: E731
    amounts = open_amounts([("acme", eur("100.00"), as_of), ("acme", eur("40.50"), date(2026, 5, 1)),
                            ("acme", Money(Decimal("7"), "USD"), date(2026, 1, 1)),
                            ("globex", eur("1.00"), date(2027, 1, 1))], as_of)
    balance, overdue, buckets = amounts[("acme", "EUR")]
    assert (balance, overdue) == (eur("140.50"), eur("40.50"))
    assert buckets["current"] == eur("100.00") and buckets["31_60"] == eur("40.50")
    assert amounts[("acme", "USD")][1] == Money(Decimal("7"), "USD")
    assert amounts[("globex", "EUR")][1] == eur("0.00")
