"""GET /invoices/{id}/pdf and /ubl: Dunwell's rendering in the customer's language, or the ERP's own document."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pypdf

from chalicelib.formats.invoice_pdf import invoice_rf
from tests.integration.conftest import issue_key
from tests.integration.helpers import drop

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HEADER = ("invoice_number,customer_id,customer_name,language,country,issue_date,due_date,terms,currency,total,"
          "amount_paid,address_line1,postal_code,city\n")


def fetch(client, path, accept="application/pdf"):
    headers = {"Authorization": f"Bearer {issue_key('viewer')}", "Accept": accept}
    return client.http.get(path, headers=headers)


def text_of(body: bytes) -> str:
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)
    return text.replace("\xa0", " ")  # Babel puts a no-break space between amount and symbol


def test_rendered_pdf_in_the_customers_language(client, s3, bucket):
    drop(client, s3, bucket, "incoming/a.csv", (HEADER + "RE-2026-17,kunde,Kunde GmbH,de,DE,2026-11-01,2026-12-01,"
                                                 ",EUR,1234.56,200.00,Hauptstr. 5,10115,Berlin\n").encode())
    response = fetch(client, "/invoices/RE-2026-17/pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Dunwell-Document"] == "rendered"
    assert response.body.startswith(b"%PDF-")
    text = text_of(response.body)
    assert "Rechnung RE-2026-17" in text
    assert "1.234,56 €" in text and "1.034,56 €" in text  # total and amount due, German formatting
    assert "Kunde GmbH\nHauptstr. 5\n10115 Berlin\nDEUTSCHLAND" in text
    rf = invoice_rf("RE-2026-17")
    assert rf == "RF51RE202617" and "RF51 RE20 2617" in text
    assert "DE89 3704 0044 0532 0130 00" in text and "Test Seller GmbH (fictional)" in text


def test_unknown_invoice_and_roles(client):
    assert fetch(client, "/invoices/NOPE-1/pdf").status_code == 404
    anonymous = client.http.get("/invoices/NOPE-1/pdf", headers={"Accept": "application/pdf"})
    assert anonymous.status_code == 401
    assert json.loads(anonymous.body)["error"]["code"] == "unauthenticated"


def test_the_erps_own_pdf_is_the_document_of_record_before_or_after_the_invoice(client, s3, bucket):
    original = b"%PDF-1.4\n% the ERP's own invoice\n%%EOF\n"
    # The PDF arrives first: it waits under documents/ and is never read as an invoice file.
    outcome = drop(client, s3, bucket, "incoming/documents/RE-2026-18.pdf", original)
    assert outcome["status"] == "document"
    assert s3.get_object(Bucket=bucket, Key="documents/invoices/RE-2026-18.pdf")["Body"].read() == original
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="incoming/")
    assert fetch(client, "/invoices/RE-2026-18/pdf").status_code == 404  # no invoice yet
    drop(client, s3, bucket, "incoming/a.csv", (HEADER + "RE-2026-18,kunde,Kunde GmbH,de,DE,2026-11-01,2026-12-01,,"
                                                 "EUR,10.00,0,,,\n").encode())
    response = fetch(client, "/invoices/RE-2026-18/pdf")
    assert response.status_code == 200 and response.body == original
    assert response.headers["X-Dunwell-Document"] == "original"


def test_a_file_under_documents_that_is_not_a_pdf_is_rejected_and_kept(client, s3, bucket):
    outcome = drop(client, s3, bucket, "incoming/documents/RE-1.pdf", b"invoice_number,total\nX,1\n")
    assert outcome["status"] == "rejected"
    assert outcome["destination_key"].startswith("rejected/") and outcome["destination_key"].endswith("/RE-1.pdf")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="incoming/")


def test_ubl_invoice_keeps_its_xml(client, s3, bucket):
    xml = (EXAMPLES / "peppol-base-example.xml").read_bytes()
    drop(client, s3, bucket, "incoming/peppol.xml", xml)
    response = fetch(client, "/invoices/Snippet1/ubl", accept="application/xml")
    assert response.status_code == 200 and response.body == xml
    assert response.headers["Content-Type"] == "application/xml"
    pdf = fetch(client, "/invoices/Snippet1/pdf")
    assert pdf.status_code == 200 and "Hovedgatan 32" in text_of(pdf.body)  # the readable companion


def test_ubl_of_an_invoice_from_csv_is_404(client, s3, bucket):
    drop(client, s3, bucket, "incoming/a.csv", (HEADER + "RE-2026-19,kunde,Kunde GmbH,de,DE,2026-11-01,2026-12-01,,"
                                                 "EUR,10.00,0,,,\n").encode())
    response = fetch(client, "/invoices/RE-2026-19/ubl", accept="application/xml")
    assert response.status_code == 404


def test_a_client_that_accepts_no_binary_gets_a_400_in_the_api_error_shape(client, s3, bucket):
    drop(client, s3, bucket, "incoming/a.csv", (HEADER + "RE-2026-20,kunde,Kunde GmbH,de,DE,2026-11-01,2026-12-01,,"
                                                 "EUR,10.00,0,,,\n").encode())
    response = fetch(client, "/invoices/RE-2026-20/pdf", accept="application/json")
    assert response.status_code == 400, response.body[:200]
    assert "Accept header" in json.loads(response.body)["error"]["message"]
