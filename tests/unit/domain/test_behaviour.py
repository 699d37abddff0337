"""Payment behaviour and risk from a customer's settlements, and the policy a risk band chooses."""

from datetime import date, timedelta

import pytest

from chalicelib.domain.analytics.behaviour import (
    SettledRecord,
    band_of,
    behaviour,
    choose_policy,
    risk,
    validate_policy_by_risk,
)
from chalicelib.domain.analytics.prediction import Settled

AS_OF = date(2026, 6, 30)


def record(n: int, days_late: int, *, age: int | None = None, disputed: bool = False, promised: bool = False,
           broken: bool = False) -> SettledRecord:
    on = AS_OF - timedelta(days=age if age is not None else 7 * n + 1)
    due = on - timedelta(days=days_late)
    return SettledRecord(Settled(f"INV-{n}", due - timedelta(days=30), due, 100_00, on, disputed, promised or broken),
                         promise_broken=broken)


def test_behaviour_figures():
    records = [record(i, d) for i, d in enumerate([10, 14, 0, -2, 12, 8, 30, 6, 4, 2])]
    records += [record(20, 40, disputed=True, promised=True), record(21, 3, promised=True, broken=True)]
    b = behaviour(records, AS_OF)
    assert b.invoices_settled == 12
    assert b.to_dict()["average_days_late"] == "10.6"  # 127 / 12
    assert b.to_dict()["median_days_late"] == "7.0"
    assert b.to_dict()["on_time_rate"] == "16.7"  # 2 of 12
    assert b.to_dict()["dispute_rate"] == "8.3"
    assert (b.promises_kept, b.promises_broken) == (1, 1)


def test_behaviour_ignores_what_was_settled_after_as_of_and_says_nothing_without_history():
    later = record(1, 50, age=-3)
    b = behaviour([later], AS_OF)
    assert b.invoices_settled == 0 and b.average_days_late is None and b.trend is None


def test_trend_compares_the_last_90_days_with_before():
    records = [record(i, 25, age=10 + i) for i in range(3)] + [record(10 + i, 2, age=120 + i) for i in range(5)]
    b = behaviour(records, AS_OF)
    assert b.trend == "slower"
    assert b.to_dict()["trend"]["last_90_days_average_days_late"] == "25.0"
    assert b.to_dict()["trend"]["before_average_days_late"] == "2.0"


def test_a_chronic_late_payer_is_high_risk_with_reasons_in_plain_words():
    records = [record(i, 12 if i < 8 else -1) for i in range(10)]
    r = risk(records, AS_OF)
    assert (r.score, r.band) == (48, "medium")  # 100 x 0.71 late x (0.5 + 0.5 x 12/30)
    assert "paid 8 of its last 10 invoices late, 12 days on average" in r.reasons
    punctual = risk([record(i, -1) for i in range(20)], AS_OF)
    assert punctual.band == "low"
    assert punctual.score < r.score
    very_late = risk([record(i, 45) for i in range(20)], AS_OF)
    assert very_late.band == "high" and very_late.score > r.score


def test_a_new_customer_is_medium_until_it_has_paid_some():
    r = risk([], AS_OF)
    assert (r.score, r.band) == (30, "medium")
    assert r.reasons == ("no invoice settled yet: rated as an average new customer",)


def test_broken_promises_and_slowing_down_add_to_the_score():
    base = [record(i, 5, age=120 + i) for i in range(6)]
    slowing = base + [record(100 + i, 25, age=5 + i) for i in range(3)]
    assert risk(slowing, AS_OF).score > risk(base + [record(100 + i, 5, age=5 + i) for i in range(3)], AS_OF).score
    assert any(reason.startswith("pays later lately") for reason in risk(slowing, AS_OF).reasons)
    broken = [*base, record(50, 5, broken=True)]
    assert "broke 1 promise to pay" in risk(broken, AS_OF).reasons


def test_bands():
    assert [band_of(s) for s in (0, 29, 30, 59, 60, 100)] == ["low", "low", "medium", "medium", "high", "high"]


def test_an_explicit_policy_wins_then_the_risk_band_then_the_default():
    by_risk = {"high": "strict", "low": "gentle"}
    assert choose_policy("vip", "high", by_risk).to_dict() == {"policy_id": "vip", "why": "set on the customer"}
    assert choose_policy(None, "high", by_risk).to_dict() == {"policy_id": "strict",
                                                              "why": "risk band high (policy_by_risk)"}
    assert choose_policy(None, "medium", by_risk).policy_id is None
    assert choose_policy(None, None, {}).why == "the default policy"


def test_policy_by_risk_is_validated():
    assert validate_policy_by_risk({"high": "strict"}) == {"high": "strict"}
    for bad in ([], {"extreme": "x"}, {"high": 3}, {"high": ""}):
        with pytest.raises(ValueError, match="policy_by_risk"):
            validate_policy_by_risk(bad)
