"""invoice_delivery: email. A new invoice reaches the customer once as a PDF through the invoices stream handler
(moto); a redelivered batch sends nothing twice; an amendment is sent again, marked as corrected; the delivery is on
the invoice (`delivered_at`) and its timeline (`invoice.delivered` with the SES message id)."""

from __future__ import annotations

import email
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pypdf
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import config
from chalicelib.adapters.models import EventModel, InvoiceModel
from chalicelib.domain.masking import mask
from tests.integration.conftest import issue_key
from tests.integration.helpers import drop
from tests.integration.test_settlement_log import stream_record

HEADER = "invoice_number,customer_id,customer_name,email,language,country,issue_date,due_date,currency,total\n"


def row(number: str, total: str, issued: str) -> str:
    return f"{number},kunde,Kunde GmbH,ap@kunde.example,de,DE,{issued},{issued},EUR,{total}\n"


def mails() -> list[Any]:
    backend = ses_backends[DEFAULT_ACCOUNT_ID][config.settings().region]
    return [email.message_from_string(m.raw_data) for m in backend.sent_messages]


def patch(client, body):
    headers = {"Authorization": f"Bearer {issue_key('collector')}", "Content-Type": "application/json"}
    response = client.http.patch("/customers/kunde", headers=headers, body=json.dumps(body))
    return response.status_code, json.loads(response.body)


def stream(client, sequence: str, old: dict | None, new: dict | None) -> None:
    result = client.lambda_.invoke("project_invoices", {"Records": [stream_record(sequence, old, new)]})
    assert result.payload == {"batchItemFailures": []}


def test_new_invoice_delivered_once_then_corrected(client, s3, bucket, admin_headers, dunning):
    # Issued today: fresh when it reaches Dunwell (an old invoice, as in a day-one import, is never mailed).
    today = datetime.now(UTC).date().isoformat()
    drop(client, s3, bucket, "incoming/a.csv", (HEADER + row("RE-1", "100.00", today)).encode())
    status, customer = patch(client, {"invoice_delivery": "email"})
    assert status == 200 and customer["invoice_delivery"] == "email"
    drop(client, s3, bucket, "incoming/b.csv", (HEADER + row("RE-2", "1234.56", today)).encode())
    new = InvoiceModel.get("RE-2").serialize()
    stream(client, "1", None, new)
    stream(client, "1", None, new)  # the batch redelivered: nothing twice
    (mail,) = mails()
    assert mail["To"] == "ap@kunde.example" and mail["Subject"].startswith("Rechnung RE-2 von")
    parts = {part.get_content_type(): part for part in mail.walk()}
    pdf = parts["application/pdf"].get_payload(decode=True)
    assert parts["application/pdf"].get_filename() == "RE-2.pdf"
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text().replace("\xa0", " ")
    assert "Rechnung RE-2" in text and "1.234,56 €" in text

    invoice = json.loads(client.http.get("/invoices/RE-2", headers=admin_headers).body)
    assert invoice["delivered_at"] is not None
    (event,) = [e for e in EventModel.query("invoice#RE-2") if e.type == "invoice.delivered"]
    assert event.data["to"] == mask("ap@kunde.example") != "ap@kunde.example"  # no address in the audit trail
    assert event.data["message_id"] and event.data["corrected"] is False
    timeline = json.loads(client.http.get("/invoices/RE-2/timeline", headers=admin_headers).body)
    assert "invoice.delivered" in json.dumps(timeline)

    # The ERP corrects the amount: delivered again, marked as corrected. Recording the delivery itself changes
    # the item but not the document: no mail for that.
    delivered = InvoiceModel.get("RE-2").serialize()
    stream(client, "2", new, delivered)
    assert len(mails()) == 1
    drop(client, s3, bucket, "incoming/c.csv", (HEADER + row("RE-2", "1200.00", today)).encode())
    stream(client, "3", delivered, InvoiceModel.get("RE-2").serialize())
    corrected = mails()[1]
    assert corrected["Subject"].startswith("Korrigierte Rechnung RE-2")
    assert len([e for e in EventModel.query("invoice#RE-2") if e.type == "invoice.delivered"]) == 2


def test_nothing_is_mailed_without_the_setting_or_for_an_old_invoice(client, s3, bucket, dunning):
    today = datetime.now(UTC).date()
    drop(client, s3, bucket, "incoming/a.csv", (HEADER + row("RE-1", "100.00", today.isoformat())).encode())
    stream(client, "1", None, InvoiceModel.get("RE-1").serialize())  # invoice_delivery: none (the default)
    patch(client, {"invoice_delivery": "email"})
    old = (today - timedelta(days=60)).isoformat()
    drop(client, s3, bucket, "incoming/b.csv", (HEADER + row("RE-OLD", "50.00", old)).encode())
    stream(client, "2", None, InvoiceModel.get("RE-OLD").serialize())
    assert mails() == []
    assert patch(client, {"invoice_delivery": "fax"})[0] == 422
