"""PlanService with in-memory ports: an instalment reminder goes once per stage and channel, only while the plan
is active."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.dunning.policy import DEFAULT_POLICY
from chalicelib.services.plans import PlanService
from tests.unit.dunning.factories import customer, invoice
from tests.unit.services import sending_fakes as fakes
from tests.unit.services.fakes import Ledger

TODAY = date(2026, 11, 24)  # a Tuesday
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 in Berlin, in the send window


def world(first_due):
    ledger = Ledger(invoice(number="INV-1", total="900.00", due=date(2026, 10, 1), version=1))
    plans = fakes.Plans(ledger)
    ports = {"ledger": ledger, "plans": plans, "sender": fakes.Sender(), "renderer": fakes.Renderer(),
             "tasks": fakes.Tasks(), "recorded": fakes.Recorded()}
    ports["service"] = PlanService(plans, ledger, fakes.Customers(customer()), lambda _policy_id: DEFAULT_POLICY,
                                   fakes.Claims(ledger, plans), ports["sender"], ports["renderer"], ports["tasks"],
                                   ports["recorded"], clock=lambda: NOW, new_id=lambda: "pln_1")
    ports["service"].create("acme", ["INV-1"], instalments=[
        (first_due, Decimal("300.00")), (first_due + timedelta(days=30), Decimal("600.00"))], actor="key:collector")
    return ports


@pytest.mark.parametrize(("first_due", "day", "stage", "channels"), [
    (TODAY + timedelta(days=3), TODAY, "before", ["email"]),
    (TODAY, TODAY, "due", ["email"]),
    (TODAY, TODAY + timedelta(days=2), "overdue", ["email", "sms"]),
])
def test_an_instalment_is_reminded_once_per_stage_on_its_channels(first_due, day, stage, channels):
    ports = world(first_due)
    summary = ports["service"].sweep(as_of=day)
    again = ports["service"].sweep(as_of=day)
    assert [channel for channel, _tone, _lines in ports["renderer"].messages] == channels
    assert summary.reminders == {stage: 1} and again.reminders == {}
    assert ports["plans"].get("pln_1").reminders_sent == {f"1:{stage}:{c}" for c in channels}
    assert [e.type for e in ports["plans"].events].count("plan.reminder_sent") == len(channels)


def test_a_plan_cancelled_mid_sweep_sends_nothing():
    ports = world(TODAY)
    service = ports["service"]
    ports["plans"].after_due = lambda: service.cancel("pln_1", "customer paid in full by cheque", "key:collector")
    summary = service.sweep(as_of=TODAY)
    assert ports["sender"].emails == [] and summary.skipped["plan_changed"] == 1
    plan = ports["plans"].get("pln_1")
    assert plan.status.value == "cancelled" and plan.reminders_sent == frozenset()


def test_a_plan_is_not_read_before_its_first_reminder_is_due():
    ports = world(TODAY + timedelta(days=10))
    summary = ports["service"].sweep(as_of=TODAY + timedelta(days=1))
    assert summary.plans_considered == 0 and ports["sender"].emails == []
    assert ports["plans"].get("pln_1").next_action_at.date() == TODAY + timedelta(days=7)
