"""Policies by risk band: the customer's own policy wins, then the band's (policy_by_risk), then the default; risk is
read once per customer and only when it can change the answer; the preview says which policy applied and why."""

from dataclasses import replace
from datetime import date

from chalicelib.domain.dunning.policy import DEFAULT_POLICY
from chalicelib.services.dunning import DunningService, DunningSettings
from tests.unit.dunning.factories import customer
from tests.unit.services import sending_fakes as fakes
from tests.unit.services.fakes import Ledger
from tests.unit.services.test_dunning_service import ACME, NOW, TODAY, due

STRICT = replace(DEFAULT_POLICY, policy_id="strict")


def service(settings, customer_record=ACME, band="high"):
    asked: list[tuple[str, date]] = []

    def risk_band(customer_id, as_of):
        asked.append((customer_id, as_of))
        return band

    ledger = Ledger(due("INV-1", date(2026, 12, 1)), due("INV-2", TODAY))
    recorded = fakes.Recorded()
    policies = {"strict": STRICT}
    svc = DunningService(ledger, ledger, fakes.Customers(customer_record),
                         lambda policy_id: policies.get(policy_id or "", DEFAULT_POLICY), lambda: settings,
                         fakes.Claims(ledger), fakes.Sender(), fakes.Renderer(), fakes.Tasks(), recorded, recorded,
                         recorded, recorded, clock=lambda: NOW, risk_band=risk_band)
    return svc, asked


def test_the_risk_band_chooses_the_policy_once_per_customer_and_the_preview_says_why():
    svc, asked = service(DunningSettings(policy_by_risk={"high": "strict"}))
    items = svc.preview(TODAY)
    assert [i["policy"] for i in items] == [{"policy_id": "strict", "why": "risk band high (policy_by_risk)"}] * 2
    assert asked == [("acme", TODAY)]


def test_an_explicit_policy_wins_and_risk_is_not_read():
    svc, asked = service(DunningSettings(policy_by_risk={"high": "strict"}),
                         customer_record=replace(ACME, policy_id="vip"))
    assert {i["policy"]["why"] for i in svc.preview(TODAY)} == {"set on the customer"}
    assert asked == []


def test_without_policy_by_risk_the_sweep_reads_no_risk():
    svc, asked = service(DunningSettings())
    assert svc.preview(TODAY)[0]["policy"] == {"policy_id": None, "why": "the default policy"}
    svc.run(as_of=TODAY)
    assert asked == []


def test_a_band_without_a_policy_gets_the_default():
    svc, _ = service(DunningSettings(policy_by_risk={"high": "strict"}), band="low")
    assert svc.preview(TODAY)[0]["policy"] == {"policy_id": None, "why": "the default policy"}


def test_the_sweep_reads_risk_once_per_customer():
    svc, asked = service(DunningSettings(policy_by_risk={"high": "strict"}))
    svc.run(as_of=TODAY)
    assert asked == [("acme", TODAY)]


def test_customer_factory_has_no_policy():
    assert customer().policy_id is None
