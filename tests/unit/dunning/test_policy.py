"""Policies are data: sorted, validated with field + reason, round-tripped through plain dicts / JSON."""

import json
from decimal import Decimal

import pytest

from chalicelib.domain.dunning.policy import (
    DEFAULT_POLICY,
    FeeRule,
    Policy,
    PolicyError,
    Step,
    default_policy,
)


def test_default_policy_ladder():
    assert [(s.name, s.offset_days, s.channels, s.tone) for s in DEFAULT_POLICY.steps] == [
        ("upcoming", -7, ("email",), "friendly"),
        ("due_today", 0, ("email",), "friendly"),
        ("overdue_7", 7, ("email", "sms"), "firm"),
        ("overdue_21", 21, ("email",), "firm"),
        ("final_notice", 35, ("email",), "final"),
        ("escalation", 50, ("email",), "escalation"),
    ]
    assert DEFAULT_POLICY.steps[-1].actions == ("credit_hold", "collector_task", "notify_finance")
    assert DEFAULT_POLICY.steps[4].fee == FeeRule(compensation=True, interest=True)
    assert DEFAULT_POLICY.late_fee_scheme == "none"
    assert default_policy("eu_2011_7").late_fee_scheme == "eu_2011_7"


def test_steps_are_sorted_by_offset():
    policy = Policy("p", "P", (Step("b", 10, ("email",), "t", "firm"), Step("a", -3, ("email",), "t", "friendly")))
    assert [s.name for s in policy.steps] == ["a", "b"]


@pytest.mark.parametrize("policy", [DEFAULT_POLICY, default_policy("contractual", Decimal("9.5")),
                                    default_policy("uk_late_payment")])
def test_round_trip_through_json(policy):
    data = json.loads(json.dumps(policy.to_dict()))
    assert Policy.from_dict(data) == policy


def _policy_dict(**changes):
    data = DEFAULT_POLICY.to_dict()
    data.update(changes)
    return data


def _step(**changes):
    data = DEFAULT_POLICY.steps[0].to_dict()
    data.update(changes)
    return data


@pytest.mark.parametrize(("data", "field"), [
    (_policy_dict(steps=[]), "steps"),
    (_policy_dict(steps="x"), "steps"),
    (_policy_dict(policy_id="Bad Id"), "policy_id"),
    (_policy_dict(colour="red"), "policy.colour"),
    (_policy_dict(steps=[_step(channels=["fax"])]), "steps[0].channels"),
    (_policy_dict(steps=[_step(channels=[])]), "steps[0].channels"),
    (_policy_dict(steps=[_step(channels=["email", "email"])]), "steps[0].channels"),
    (_policy_dict(steps=[_step(tone="rude")]), "steps[0].tone"),
    (_policy_dict(steps=[_step(offset_days="7")]), "steps[0].offset_days"),
    (_policy_dict(steps=[_step(offset_days=1.5)]), "steps[0].offset_days"),
    (_policy_dict(steps=[_step(actions=["shout"])]), "steps[0].actions"),
    (_policy_dict(steps=[_step(fee={"percent": "150"})]), "steps[0].fee.percent"),
    (_policy_dict(steps=[_step(fee={"fixed": 2.5})]), "steps[0].fee.fixed"),
    (_policy_dict(steps=[_step(fee={"fixed": "-1"})]), "steps[0].fee.fixed"),
    (_policy_dict(steps=[_step(fee={})]), "steps[0].fee"),
    (_policy_dict(steps=[_step(), _step()]), "steps"),
    (_policy_dict(steps=[_step(), _step(name="other")]), "steps"),  # same offset twice
    (_policy_dict(steps=[_step(name="x")]), None),
    (_policy_dict(send_window={"start": "17:00", "end": "09:00"}), "send_window"),
    (_policy_dict(send_window={"start": "9am"}), "send_window.start"),
    (_policy_dict(late_fee_scheme="us_law"), "late_fee_scheme"),
    (_policy_dict(late_fee_scheme="contractual", steps=[_step(fee={"interest": True})]), "contractual_annual_rate"),
    (_policy_dict(late_fee_scheme="contractual", contractual_annual_rate="8"), "steps[4].fee.compensation"),
    (_policy_dict(contractual_annual_rate="abc"), "contractual_annual_rate"),
    (_policy_dict(business_days_only="yes"), "business_days_only"),
])
def test_invalid_policies_name_the_field(data, field):
    if field is None:
        Policy.from_dict(data)
        return
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict(data)
    assert caught.value.field == field
    assert caught.value.reason
    assert caught.value.code == "invalid_policy"
