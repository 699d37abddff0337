"""Aging and metrics on `make run`'s stack over HTTP: an invoice file dropped in the inbox and payments posted
reach the analytics table through the invoices table's stream; reports as of past days are exact."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
import requests

from tests.e2e.stack import RunningStack, wait_for

pytestmark = pytest.mark.e2e
HEADER = ("invoice_number,kind,customer_id,customer_name,email,phone,language,timezone,country,issue_date,"
          "due_date,terms,currency,total,amount_paid,applies_to,status,buyer_reference")
CURRENCY = "NZD"  # no other e2e test bills in it, so the currency's figures are this test's alone


def get(stack: RunningStack, path: str, **params: str) -> Any:
    response = requests.get(f"{stack.api_url}{path}", headers=stack.auth, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json() if "json" in response.headers.get("Content-Type", "") else response


def test_import_pay_and_read_aging_and_metrics(local_stack: RunningStack) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    customer = f"E2E-R-{tag}"
    rows = [f"R{tag}-{n},invoice,{customer},Reports {tag} Ltd,ap@e2e.example,,en,Pacific/Auckland,NZ,{issued},{due},,"
            f"{CURRENCY},{total},0,,open," for n, issued, due, total in (
                (1, "2025-01-01", "2025-01-31", "1000.00"), (2, "2025-01-10", "2025-02-09", "2000.00"))]
    local_stack.s3().put_object(Bucket=local_stack.info["inbox_bucket"], Key=f"incoming/reports-{tag}.csv",
                                Body=("\n".join([HEADER, *rows]) + "\n").encode())

    def aging_total(as_of: str) -> str | None:
        report = get(local_stack, "/reports/aging", as_of=as_of, currency=CURRENCY, customer_id=customer)
        return str(report["total"]) if report["total"] != "0.00" else None

    assert wait_for(lambda: aging_total("2025-01-31"), 60, 0.5, "the import never reached the report") == "3000.00"
    headers = {**local_stack.auth, "Idempotency-Key": f"rep-{tag}"}
    paid = requests.post(f"{local_stack.api_url}/payments", headers=headers, timeout=30, json={
        "amount": "1000.00", "currency": CURRENCY, "invoice_numbers": [f"R{tag}-1"], "method": "wire",
        "received_on": "2025-01-20"})
    assert paid.status_code == 201 and paid.json()["status"] == "applied", paid.text
    wait_for(lambda: aging_total("2025-01-31") == "2000.00" or None, 60, 0.5, "the payment never reached the report")
    aging = get(local_stack, "/reports/aging", as_of="2025-01-31", currency=CURRENCY)
    assert aging["buckets"]["current"] == "2000.00" and aging["customers"][0]["name"] == f"Reports {tag} Ltd"
    assert aging_total("2025-01-15") == "3000.00"  # the payment was received after the 15th

    metrics = get(local_stack, "/reports/metrics", **{"from": "2025-01-01", "to": "2025-01-31", "currency": CURRENCY})
    assert (metrics["sales"], metrics["collected"], metrics["ending_ar"]) == ("3000.00", "1000.00", "2000.00")
    assert metrics["dso"] == "20.7" and metrics["best_possible_dso"] == "20.7" and metrics["add"] == "0.0"
    assert metrics["cei"] == "100.0" and metrics["average_days_late"] == "-11.0"

    exported = get(local_stack, "/reports/aging", as_of="2025-01-31", currency=CURRENCY, format="csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [customer, "2000.00"] == [table[1][2], table[1][-1]]
