"""Property: whatever way an ERP spells an amount, the CSV parser reads back the same Money."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.currencies import minor_units
from chalicelib.domain.money import Money
from chalicelib.formats import Mapping, SourceRecord, parse_file

CURRENCIES = ["EUR", "USD", "GBP", "JPY", "KWD", "CLF", "CHF"]
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


def spell(money: Money, decimal: str, grouped: bool, symbol: str, negative_style: str) -> str:
    exponent = minor_units(money.currency)
    text = f"{abs(money.amount):{',' if grouped else ''}.{exponent}f}"
    if decimal == ",":
        text = text.translate(str.maketrans(",.", ".,"))
    if symbol == "sign":
        text = SYMBOLS.get(money.currency, money.currency + " ") + text
    elif symbol == "code":
        text = f"{text} {money.currency}"
    if money.is_negative:
        text = {"minus": f"-{text}", "brackets": f"({text})", "trailing": f"{text}-"}[negative_style]
    return text


def mapping(decimal: str) -> Mapping:
    return Mapping.from_dict({
        "name": f"roundtrip_{'comma' if decimal == ',' else 'dot'}",
        "description": "amount round trip",
        "auto_detect": False,
        "delimiter": ";" if decimal == "," else ",",
        "decimal_separator": decimal,
        "grouping": "sum_lines",
        "columns": {"number": "number", "customer_name": "customer", "issue_date": "date", "currency": "currency",
                    "line_amount": "amount"},
    })


MAPPINGS = {d: mapping(d) for d in (".", ",")}

money = st.builds(
    lambda minor, currency: Money.from_minor(minor, currency),
    st.integers(min_value=-(10**14), max_value=10**14),  # doubled below, still inside the 15-digit bound
    st.sampled_from(CURRENCIES),
)


@settings(max_examples=300, deadline=None)
@given(
    amount=money,
    decimal=st.sampled_from([".", ","]),
    grouped=st.booleans(),
    symbol=st.sampled_from(["none", "sign", "code"]),
    negative_style=st.sampled_from(["minus", "brackets", "trailing"]),
)
def test_spelled_amount_reads_back_as_the_same_money(amount, decimal, grouped, symbol, negative_style):
    mapping = MAPPINGS[decimal]
    cell = spell(amount, decimal, grouped, symbol, negative_style)
    # A negative amount is a line of an invoice whose other line keeps the total non-negative.
    offset = Money.from_minor(2 * abs(amount.minor), amount.currency)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=mapping.delimiter, lineterminator="\r\n")
    writer.writerow(["number", "customer", "date", "currency", "amount"])
    writer.writerow(["X-1", "Acme", "2026-11-01", amount.currency, cell])
    writer.writerow(["X-1", "Acme", "2026-11-01", amount.currency, spell(offset, decimal, grouped, "none", "minus")])
    parsed = parse_file(io.BytesIO(out.getvalue().encode()), "roundtrip.csv", [mapping], mapping.name)
    (record,) = list(parsed.items)
    assert isinstance(record, SourceRecord), record
    assert record.document.total - offset == amount
