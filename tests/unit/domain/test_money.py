from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.currencies import MINOR_UNITS
from chalicelib.domain.errors import CurrencyMismatch, InvalidMoney, UnknownCurrency
from chalicelib.domain.money import MAX_INTEGER_DIGITS, Money, parse_amount, parse_plain_amount

currencies = st.sampled_from(sorted(MINOR_UNITS))


@st.composite
def money(draw, currency=None):
    code = currency or draw(currencies)
    minor = draw(st.integers(min_value=-(10**15 - 1), max_value=10**15 - 1))
    return Money.from_minor(minor, code)


@given(money())
def test_minor_units_round_trip(m):
    assert Money.from_minor(m.minor, m.currency) == m


@given(money())
def test_api_string_round_trip(m):
    assert Money.of(m.to_api(), m.currency) == m


@given(currencies, st.lists(st.integers(min_value=-10**12, max_value=10**12), max_size=20))
def test_sum_is_exact_in_minor_units(code, minors):
    total = Money.zero(code)
    for minor in minors:
        total = total + Money.from_minor(minor, code)
    assert total.minor == sum(minors)


@given(money(currency="EUR"), money(currency="EUR"))
def test_subtraction_inverts_addition(a, b):
    assert (a + b) - b == a


def test_known_exponents():
    assert Money.of("1000", "JPY").to_api() == "1000"
    assert Money.of("1.234", "BHD").to_api() == "1.234"
    assert Money.of("1.5", "EUR").to_api() == "1.50"
    assert Money.of("1.2345", "CLF").minor == 12345


def test_too_many_decimals_is_rejected_not_rounded():
    with pytest.raises(InvalidMoney):
        Money.of("1.005", "EUR")
    with pytest.raises(InvalidMoney):
        Money.of("1.5", "JPY")


def test_float_is_refused():
    with pytest.raises(InvalidMoney):
        Money.of(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(InvalidMoney):
        Money(1.5, "EUR")  # type: ignore[arg-type]


def test_unknown_currency_and_mismatch():
    with pytest.raises(UnknownCurrency):
        Money.of("1", "XYZ")
    assert Money.of("1", "eur").currency == "EUR"
    with pytest.raises(CurrencyMismatch):
        Money.of("1", "EUR") + Money.of("1", "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money.of("1", "EUR") < Money.of("1", "USD")


def test_equal_values_are_equal_and_hash_equal():
    assert Money.of("1.5", "EUR") == Money.of("1.50", "EUR")
    assert len({Money.of("1.5", "EUR"), Money.of("1.50", "EUR")}) == 1


@pytest.mark.parametrize(
    ("text", "separator", "expected"),
    [
        ("1,234.56", ".", "1234.56"),
        ("(1,234.56)", ".", "-1234.56"),
        ("1.234,56", ",", "1234.56"),
        ("100,00-", ",", "-100.00"),
        ("€ 1 234,50", ",", "1234.50"),
        ("$12", ".", "12"),
        ("EUR 99.9", ".", "99.9"),
        ("-0.01", ".", "-0.01"),
        ("+7", ".", "7"),
        (".5", ".", "0.5"),
    ],
)
def test_parse_amount_accepts_erp_forms(text, separator, expected):
    assert parse_amount(text, separator) == Decimal(expected)


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "12,34,5", "1,23.45", "--1", "1e5"])
def test_parse_amount_rejects_garbage(text):
    with pytest.raises(InvalidMoney):
        parse_amount(text, ".")


def test_separator_is_never_guessed():
    assert parse_amount("1,234", ".") == Decimal("1234")
    assert parse_amount("1,234", ",") == Decimal("1.234")


@given(money(currency="EUR"))
def test_parse_amount_reads_what_erps_write(m):
    text = f"{abs(m.amount):,.2f}"
    if m.is_negative:
        text = f"({text})"
    assert parse_amount(text, ".") == m.amount


# -- the one strict grammar ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "1e30", "1E5", "1_000", "NaN", "Infinity", "-inf", "１２３",  # full-width digits  # noqa: RUF001
    "١٢٣", "12.3.4", "1,234.00", "", "+-1", "0x10", " ", ".", "9" * 40 + ".00",
])
def test_plain_amounts_refuse_everything_but_ascii_digits_and_one_point(text):
    with pytest.raises(InvalidMoney):
        parse_plain_amount(text)


@pytest.mark.parametrize("text", ["١٢٣", "１２３", "1" * 16, "(1" + "0" * 29 + ")", "€ ١٢٣,٠٠"])  # noqa: RUF001
def test_erp_amounts_share_the_same_digits_and_bound(text):
    with pytest.raises(InvalidMoney):
        parse_amount(text, ",")


def test_the_bound_is_fifteen_integer_digits_leading_zeros_aside():
    assert parse_plain_amount("9" * MAX_INTEGER_DIGITS + ".99") == Decimal("9" * MAX_INTEGER_DIGITS + ".99")
    assert parse_plain_amount("000" + "9" * MAX_INTEGER_DIGITS) == Decimal("9" * MAX_INTEGER_DIGITS)
    with pytest.raises(InvalidMoney, match="15 digits"):
        parse_plain_amount("1" + "0" * MAX_INTEGER_DIGITS)


def test_a_sign_is_refused_where_not_allowed():
    assert parse_plain_amount("-12.50") == Decimal("-12.50")
    with pytest.raises(InvalidMoney, match="sign"):
        parse_plain_amount("-12.50", signed=False)


def test_money_itself_refuses_what_the_parsers_would_and_a_huge_minor_amount():
    with pytest.raises(InvalidMoney):
        Money.of("1e3", "EUR")
    with pytest.raises(InvalidMoney):
        Money.of(Decimal("1E+20"), "EUR")
    with pytest.raises(InvalidMoney):
        Money.from_minor(10**30, "EUR")
    assert Money.from_minor(10**17 - 1, "EUR").amount == Decimal("999999999999999.99")


@given(st.integers(min_value=-(10**15 - 1), max_value=10**15 - 1), st.integers(min_value=0, max_value=4))
def test_plain_amounts_read_back_what_they_print(integral, decimals):
    value = Decimal(integral).scaleb(-decimals)
    assert parse_plain_amount(f"{value:f}") == value
