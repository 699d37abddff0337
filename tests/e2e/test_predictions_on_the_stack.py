"""Payment behaviour, predictions and the forecast on `make run`'s stack: a payment that settles an invoice reaches
the settlement log through the invoices table's stream (project_invoices), and the reports answer over HTTP."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.e2e.stack import RunningStack, wait_for
from tests.e2e.test_payments_on_the_stack import HEADER

pytestmark = pytest.mark.e2e


def get(stack: RunningStack, path: str, **params: str) -> requests.Response:
    return requests.get(f"{stack.api_url}{path}", headers=stack.auth, params=params, timeout=30)


def test_a_settlement_reaches_behaviour_and_the_reports_answer(local_stack: RunningStack):
    tag = uuid.uuid4().hex[:6].upper()
    customer, paid, open_ = f"PRED-{tag}", f"PRED-{tag}-1", f"PRED-{tag}-2"
    rows = [f"{n},invoice,{customer},Pred {tag} GmbH,ap@pred.example,,de,Europe/Berlin,DE,2020-10-01,2020-10-31,,"
            f"EUR,{amount},0,,open," for n, amount in ((paid, "500.00"), (open_, "300.00"))]
    local_stack.s3().put_object(Bucket=local_stack.info["inbox_bucket"], Key=f"incoming/pred-{tag}.csv",
                                Body=("\n".join([HEADER, *rows]) + "\n").encode())
    wait_for(lambda: get(local_stack, f"/invoices/{open_}").status_code == 200, 60, 0.25, "not imported")
    response = requests.post(f"{local_stack.api_url}/payments", timeout=30, json={
        "amount": "500.00", "currency": "EUR", "customer_id": customer, "method": "wire",
        "received_on": "2020-11-20", "invoice_numbers": [paid]},
        headers={**local_stack.auth, "Idempotency-Key": f"pred-{tag}"})
    assert response.status_code == 201, response.text

    def settled() -> dict | None:
        body = get(local_stack, f"/customers/{customer}").json()
        return body if body["behaviour"]["invoices_settled"] == 1 else None

    body = wait_for(settled, 60, 0.25, "the settlement never reached the log")
    assert body["risk"]["band"] in ("low", "medium", "high") and body["risk"]["reasons"]

    predictions = get(local_stack, "/reports/predictions", customer_id=customer)
    assert predictions.status_code == 200, predictions.text
    (item,) = predictions.json()["items"]
    assert (item["number"], item["balance"], item["late_probability"]) == (open_, "300.00", "1.00")

    forecast = get(local_stack, "/reports/forecast", currency="EUR", weeks="4")
    assert forecast.status_code == 200, forecast.text
    assert len(forecast.json()["weeks"]) == 4
    accuracy = get(local_stack, "/reports/forecast-accuracy")
    assert accuracy.status_code == 200, accuracy.text
