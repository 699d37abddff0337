"""The cash forecast on moto: weeks from the day after as_of, a promise on its date, a plan's instalments on theirs,
one block per currency; the daily snapshot once per as_of; accuracy against receipts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib import bootstrap
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentEvent, PaymentKind
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row
from tests.integration.test_openapi import conforms

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
AS_OF = "2026-11-25"


@pytest.fixture
def ledger(client, s3, bucket) -> Iterator[None]:
    bootstrap.use(bootstrap.Container(clock=lambda: NOW))
    drop(client, s3, bucket, "incoming/ledger.csv", dunwell_csv(
        invoice_row("INV-1", "100.00", due="2026-11-10"),
        invoice_row("INV-2", "250.00", due="2026-11-20"),
        invoice_row("INV-3", "70.00", due="2026-12-15", customer="globex"),
        invoice_row("INV-4", "600.00", due="2026-11-30", customer="initech"),
        invoice_row("INV-5", "40.00", due="2026-12-20", currency="USD")))
    yield


def post(client, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    response = client.http.post(path, body=json.dumps(body), headers={**headers, "Content-Type": "application/json"})
    return response.status_code, json.loads(response.body)


def amounts(block: dict[str, Any]) -> Decimal:
    return sum((Decimal(w["expected"]) for w in block["weeks"]), Decimal(block["beyond"]))


def test_the_forecast_spreads_open_invoices_and_puts_promises_and_instalments_on_their_dates(
        client, ledger, admin_headers):
    status, promised = post(client, "/invoices/INV-2/promises", {"date": "2026-12-04", "amount": "250.00"},
                            admin_headers)
    assert status == 201, promised
    status, plan = post(client, "/customers/initech/payment-plans", {"invoice_ids": ["INV-4"], "instalments": [
        {"due_date": "2026-12-10", "amount": "300.00"}, {"due_date": "2027-01-10", "amount": "300.00"}]},
        admin_headers)
    assert status == 201, plan
    status, body = get_json(client, f"/reports/forecast?as_of={AS_OF}&currency=EUR", admin_headers)
    assert status == 200, body
    conforms("CashForecast", body)
    assert (body["as_of"], body["currency"], body["open_ar"]) == (AS_OF, "EUR", "1020.00")
    assert [(w["start"], w["end"]) for w in body["weeks"][:2]] == [("2026-11-26", "2026-12-02"),
                                                                    ("2026-12-03", "2026-12-09")]
    assert len(body["weeks"]) == 13
    week2, week3 = body["weeks"][1], body["weeks"][2]
    assert Decimal(week2["expected"]) >= Decimal("200.00")  # 80% of the promise on Dec 4
    assert Decimal(week3["expected"]) >= Decimal("255.00")  # 85% of the Dec 10 instalment
    for week in body["weeks"]:
        assert Decimal(week["low"]) <= Decimal(week["expected"]) <= Decimal(week["high"])
    # Every open euro is expected somewhere, or is the part of an instalment not kept (at risk).
    assert abs(amounts(body) + Decimal(body["at_risk"]) - Decimal("1020.00")) <= Decimal("1.00")
    status, every = get_json(client, f"/reports/forecast?as_of={AS_OF}&weeks=4", admin_headers)
    assert status == 200
    conforms("CashForecasts", every)
    assert [(b["currency"], b["open_ar"], len(b["weeks"])) for b in every["currencies"]] == [
        ("EUR", "1020.00", 4), ("USD", "40.00", 4)]


def test_bad_forecast_parameters(client, ledger, admin_headers):
    assert get_json(client, f"/reports/forecast?as_of={AS_OF}&weeks=0", admin_headers)[0] == 422
    assert get_json(client, f"/reports/forecast?as_of={AS_OF}&weeks=x", admin_headers)[0] == 400
    assert get_json(client, f"/reports/forecast?as_of={AS_OF}&currency=euro", admin_headers)[0] == 400
    assert get_json(client, "/reports/forecast?as_of=2026-11-26", admin_headers)[0] == 422  # tomorrow, to the clock
    assert get_json(client, "/reports/forecast-accuracy?from=2026-11-20&to=2026-11-01", admin_headers)[0] == 422


def test_snapshots_are_stored_once_per_day_and_scored_against_receipts(client, ledger, admin_headers):
    forecasts = bootstrap.cash_forecast()
    assert forecasts.snapshot(date(2026, 11, 25)) == {"EUR": True, "USD": True}
    assert forecasts.snapshot(date(2026, 11, 25)) == {"EUR": False, "USD": False}
    assert forecasts.snapshot() == {"EUR": False, "USD": False}  # the schedule's call: today by the clock, stored
    bootstrap.payment_service().receive(PaymentEvent(
        provider="stripe", event_id="evt_1", payment_ref="pi_1", kind=PaymentKind.PAYMENT,
        amount=Money.of("100.00", "EUR"), occurred_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC), raw_type="test",
        references=("INV-1",)))
    status, body = get_json(client, "/reports/forecast-accuracy?from=2026-11-26&to=2026-12-02&currency=EUR",
                            admin_headers)
    assert status == 200, body
    conforms("ForecastAccuracy", body)
    (block,) = body["currencies"]
    one, four, _thirteen = block["horizons"]
    assert [h["weeks_ahead"] for h in block["horizons"]] == [1, 4, 13]
    (week,) = one["weeks"]
    assert (week["start"], week["end"], week["actual"]) == ("2026-11-26", "2026-12-02", "100.00")
    forecast = Decimal(week["forecast"])
    assert Decimal(one["wape"]) == (abs(Decimal("100") - forecast)).quantize(Decimal("0.1"))
    assert four["weeks"][0]["forecast"] is None and four["wape"] is None
    status, every = get_json(client, "/reports/forecast-accuracy?from=2026-11-26&to=2026-12-02", admin_headers)
    assert [b["currency"] for b in every["currencies"]] == ["EUR", "USD"]
