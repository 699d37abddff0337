"""Bank statements dropped under bank/: credit lines become payments through the webhook path."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.adapters.models import InvoiceModel, PaymentModel
from tests.integration.helpers import drop, keys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _ledger(client, s3, bucket):
    drop(client, s3, bucket, "incoming/dunwell-invoices.csv", (EXAMPLES / "dunwell-invoices.csv").read_bytes())


def _open_balances():
    return {m.invoice_id: int(m.balance_minor) for m in InvoiceModel.by_status.query("open")} | {
        m.invoice_id: int(m.balance_minor) for m in InvoiceModel.by_status.query("partially_paid")}


def test_camt053_statement_pays_invoices_once(client, s3, bucket):
    _ledger(client, s3, bucket)
    before = _open_balances()
    body = (EXAMPLES / "bank" / "camt053-example.xml").read_bytes()
    outcome = drop(client, s3, bucket, "bank/2026-11-21.xml", body)
    assert outcome["status"] == "processed", outcome
    assert outcome["counts"]["payments_applied"] >= 1
    after = _open_balances()
    assert sum(after.values()) < sum(before.values())
    payments = list(PaymentModel.by_time.query("payment"))
    assert payments and all(p.provider == "bank" for p in payments)
    # The same statement again (a re-sent file, different name) is a duplicate: nothing moves.
    again = drop(client, s3, bucket, "bank/2026-11-21-resent.xml", body)
    assert again["status"] == "duplicate"
    assert _open_balances() == after
    report_key = next(k for k in keys(s3, bucket, "processed/") if k.endswith("2026-11-21.xml.report.json"))
    report = json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
    assert report["format"] == "camt.053"


def test_statement_lines_overlapping_a_previous_statement_count_once(client, s3, bucket):
    _ledger(client, s3, bucket)
    body = (EXAMPLES / "bank" / "statement.csv").read_bytes()
    first = drop(client, s3, bucket, "bank/week-47.csv", body)
    assert first["status"] == "processed", first
    balances = _open_balances()
    count = PaymentModel.count()
    # Another file repeating the same lines (the bank's references) plus a header change of bytes.
    second = drop(client, s3, bucket, "bank/week-47-and-48.csv", body + b"\n")
    assert second["status"] == "processed"
    assert second["counts"].get("payments_duplicate", 0) == first["counts"].get("payments_applied", 0)
    assert _open_balances() == balances and PaymentModel.count() == count


def test_remittance_spelling_of_a_number_still_matches(client, s3, bucket):
    _ledger(client, s3, bucket)
    before = _open_balances()["INV-2026-1005"]
    statement = ("date,amount,currency,payer_name,reference,bank_ref\n"
                 "2026-11-21,100.00,EUR,Müller Maschinenbau GmbH,Rechnung INV20261005,REF-1\n")
    drop(client, s3, bucket, "bank/spelling.csv", statement.encode())
    assert _open_balances()["INV-2026-1005"] == before - 10000
