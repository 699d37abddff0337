"""Fees, statutory compensation and interest: exact Decimal, separate, never compounded, never twice."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.dunning.charges import (
    DEFAULT_RATE_TABLE,
    MissingReferenceRate,
    RateTable,
    RateTableError,
    ReferenceRate,
    charges_due,
    early_payment_discount,
    interest_charged_through,
    interest_segments,
    simple_interest,
    statutory_compensation,
    uk_fixed_sum,
)
from chalicelib.domain.dunning.policy import FeeRule, Policy, Step, default_policy
from chalicelib.domain.money import Money
from chalicelib.domain.terms import PaymentTerms
from tests.unit.dunning.factories import invoice, money


def test_contractual_simple_interest_actual_365():
    # 10,000 x 8% x 30/365 = 65.7534... -> 65.75
    assert simple_interest(money("10000"), Decimal(8), date(2025, 3, 1), date(2025, 3, 31)) == money("65.75")
    assert simple_interest(money("10000"), Decimal(8), date(2025, 3, 1), date(2025, 3, 1)) == money("0")


def test_half_up_rounding_at_the_end():
    # 365 x 1% x 1/365 = 0.01 exactly; 182.5 x 1% x 1 day = 0.005 -> rounds half up to 0.01
    assert simple_interest(money("182.50"), Decimal(1), date(2025, 1, 1), date(2025, 1, 2)) == money("0.01")
    assert simple_interest(Money.of(1000, "JPY"), Decimal("18.25"), date(2025, 1, 1), date(2025, 1, 2)) == Money.of(
        1, "JPY")  # 0.5 yen -> 1


def test_eu_interest_uses_each_half_year_rate():
    # due 20 Jun 2025; 21-30 Jun at 3.15+8, 1-10 Jul at 2.15+8
    segments = interest_segments(money("10000"), Decimal(8), date(2025, 6, 20), date(2025, 7, 10),
                                 rate_table=DEFAULT_RATE_TABLE, scheme="ecb_mro")
    assert [(s.first_day, s.last_day, s.days, s.annual_rate) for s in segments] == [
        (date(2025, 6, 21), date(2025, 6, 30), 10, Decimal("11.15")),
        (date(2025, 7, 1), date(2025, 7, 10), 10, Decimal("10.15")),
    ]
    amount = simple_interest(money("10000"), Decimal(8), date(2025, 6, 20), date(2025, 7, 10),
                             rate_table=DEFAULT_RATE_TABLE, scheme="ecb_mro")
    assert amount == money("58.36")  # 10000 x (0.1115 + 0.1015) x 10/365 = 58.356...


def test_uk_interest_uses_base_rate_plus_8():
    amount = simple_interest(Money.of("5000", "GBP"), Decimal(8), date(2024, 12, 31), date(2025, 1, 30),
                             rate_table=DEFAULT_RATE_TABLE, scheme="boe_base")
    assert amount == Money.of("52.40", "GBP")  # 5000 x 12.75% x 30/365 = 52.397...


def test_missing_reference_rate_is_an_error_not_a_guess():
    with pytest.raises(MissingReferenceRate):
        DEFAULT_RATE_TABLE.rate_on("ecb_mro", date(2026, 7, 1))  # not shipped: unverified
    with pytest.raises(MissingReferenceRate):
        DEFAULT_RATE_TABLE.rate_on("ecb_mro", date(2023, 12, 31))
    assert DEFAULT_RATE_TABLE.rate_on("ecb_mro", date(2026, 6, 30)) == Decimal("2.15")
    assert DEFAULT_RATE_TABLE.rate_on("boe_base", date(2026, 12, 31)) == Decimal("3.75")


def test_rate_table_round_trip_and_validation():
    assert RateTable.from_rows(DEFAULT_RATE_TABLE.to_rows()) == DEFAULT_RATE_TABLE
    with pytest.raises(RateTableError):
        RateTable((ReferenceRate("ecb_mro", date(2025, 2, 1), Decimal(1)),))
    with pytest.raises(RateTableError):
        RateTable((ReferenceRate("ecb_mro", date(2025, 1, 1), Decimal(1)),
                   ReferenceRate("ecb_mro", date(2025, 1, 1), Decimal(2))))
    with pytest.raises(RateTableError):
        RateTable.from_rows([{"scheme": "ecb_mro", "valid_from": "2025-01-01", "rate": 2.15}])


@pytest.mark.parametrize(("debt", "fixed"), [
    ("0.01", "40"), ("999.99", "40"), ("1000.00", "70"), ("9999.99", "70"), ("10000.00", "100"), ("250000", "100"),
])
def test_uk_fixed_sums_by_debt_size(debt, fixed):
    assert uk_fixed_sum(Money.of(debt, "GBP")) == Money.of(fixed, "GBP")


def test_statutory_compensation_by_scheme_and_currency():
    assert statutory_compensation("eu_2011_7", money("10")) == money("40")
    assert statutory_compensation("eu_2011_7", Money.of("10", "USD")) is None
    assert statutory_compensation("uk_late_payment", Money.of("10", "EUR")) is None
    assert statutory_compensation("none", money("10")) is None


FINAL = Step("final", 35, ("email",), "final_notice", "final", fee=FeeRule(compensation=True, interest=True))


def test_eu_final_notice_charges_40_eur_and_interest_once():
    policy = default_policy("eu_2011_7")
    inv = invoice(total="1000.00", due=date(2025, 3, 3))
    first = charges_due(inv, policy, FINAL, frozenset(), date(2025, 4, 7))
    kinds = {c.kind: c for c in first.charges}
    assert kinds["compensation"].amount == money("40")
    assert kinds["compensation"].key == "INV-1:eu40"
    # 1000 x (3.15 + 8)% x 35/365 = 10.69...
    assert kinds["interest"].amount == money("10.69")
    assert kinds["interest"].period == (date(2025, 3, 4), date(2025, 4, 7))
    keys = frozenset(c.key for c in first.charges)
    assert charges_due(inv, policy, FINAL, keys, date(2025, 4, 7)).charges == ()
    later = charges_due(inv, policy, FINAL, keys, date(2025, 4, 22)).charges
    assert [c.kind for c in later] == ["interest"]  # compensation never again
    assert later[0].period == (date(2025, 4, 8), date(2025, 4, 22))


def test_interest_is_on_principal_only_never_on_charges():
    policy = default_policy("eu_2011_7")
    inv = invoice(total="1000.00", due=date(2025, 3, 3))
    first = charges_due(inv, policy, FINAL, frozenset(), date(2025, 4, 7)).charges
    keys = frozenset(c.key for c in first)
    second = charges_due(inv, policy, FINAL, keys, date(2025, 5, 7)).charges
    single = charges_due(inv, policy, FINAL, frozenset({"INV-1:eu40"}), date(2025, 5, 7)).charges
    split = sum((c.amount.amount for c in (*first, *second) if c.kind == "interest"), Decimal(0))
    assert abs(split - single[0].amount.amount) <= Decimal("0.01")


def test_uk_fixed_sum_uses_outstanding_debt():
    policy = default_policy("uk_late_payment")
    inv = invoice(total="12000.00", currency="GBP", due=date(2025, 3, 3))
    charges = charges_due(inv, policy, FINAL, frozenset(), date(2025, 4, 7)).charges
    assert {c.key: c.amount for c in charges if c.kind == "compensation"} == {"INV-1:uk_fixed": Money.of(100, "GBP")}


def test_contractual_fixed_and_percentage_fees_once_per_step():
    step = Step("firm", 7, ("email",), "t", "firm", fee=FeeRule(fixed=Decimal("5"), percent=Decimal("1.5")))
    policy = Policy("p", "P", (step,), late_fee_scheme="contractual", contractual_annual_rate=Decimal(8))
    inv = replace(invoice(total="1000.00"), applied_payments=money("333.33"))
    charges = charges_due(inv, policy, step, frozenset(), date(2025, 3, 10)).charges
    assert [(c.kind, c.amount, c.key) for c in charges] == [
        ("fee", money("5.00"), "INV-1:fee:firm"),
        ("fee", money("10.00"), "INV-1:pct:firm"),  # 1.5% of 666.67 = 10.00005 -> 10.00
    ]
    assert charges_due(inv, policy, step, {c.key for c in charges}, date(2025, 3, 11)).charges == ()


def test_scheme_none_charges_no_statutory_sums():
    assert charges_due(invoice(), default_policy("none"), FINAL, frozenset(), date(2025, 4, 7)).charges == ()


def test_paid_invoice_has_no_charges():
    paid = replace(invoice(total="100.00"), applied_payments=money("100.00"))
    assert charges_due(paid, default_policy("eu_2011_7"), FINAL, frozenset(), date(2025, 4, 7)).charges == ()


def test_missing_rate_skips_interest_with_a_warning_and_keeps_the_period_open():
    policy = default_policy("eu_2011_7")
    inv = invoice(due=date(2026, 6, 20))
    result = charges_due(inv, policy, FINAL, frozenset(), date(2026, 7, 25))
    assert [c.kind for c in result.charges] == ["compensation"]
    assert "ecb_mro" in result.warnings[0]
    assert interest_charged_through("INV-1", {c.key for c in result.charges}) is None


def test_early_payment_discount():
    terms = PaymentTerms.parse("2/10 net 30")
    inv = invoice(total="1000.00", issue=date(2025, 2, 1), due=date(2025, 3, 3))
    discount = early_payment_discount(inv, terms, date(2025, 2, 5))
    assert discount is not None
    assert (discount.amount, discount.pay_amount, discount.last_day) == (money("20.00"), money("980.00"),
                                                                         date(2025, 2, 11))
    assert early_payment_discount(inv, terms, date(2025, 2, 12)) is None
    assert early_payment_discount(inv, PaymentTerms.parse("net 30"), date(2025, 2, 5)) is None
    assert early_payment_discount(inv, None, date(2025, 2, 5)) is None
