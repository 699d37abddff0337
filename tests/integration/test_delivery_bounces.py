"""A bounce of an invoice delivery (moto: SES -> SNS -> the ses_notifications handler) falls back to another contact
at once, as reminders do; with no other contact the invoice counts as never delivered, and the next reminder (once
staff have added an address) says so and attaches it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.models import EventModel, InvoiceModel
from tests.integration.test_collections import run, text_of
from tests.integration.test_invoice_delivery import HEADER, mails, patch, row, stream

FIRST, SECOND = "ap@kunde.example", "buchhaltung@kunde.example"


def bounce(client: Any, mail: Any, ses_id: str) -> dict[str, Any]:
    notification = {"eventType": "Bounce",
                    "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                               "bouncedRecipients": [{"emailAddress": mail["To"]}]},
                    "mail": {"messageId": ses_id, "destination": [mail["To"]],
                             "headers": [{"name": "X-Dunwell-Message-Key", "value": mail["X-Dunwell-Message-Key"]}]}}
    event = client.events.generate_sns_event(message=json.dumps(notification), subject="bounce")
    return dict(client.lambda_.invoke("ses_notifications", event).payload)


def test_a_bounced_invoice_goes_to_another_contact_once_and_to_none_is_not_delivered(
        client: Any, s3: Any, bucket: str, admin_headers: dict[str, str], dunning: None) -> None:
    from tests.integration.helpers import drop

    today = datetime.now(UTC).date().isoformat()
    drop(client, s3, bucket, "incoming/a.csv", (HEADER + row("RE-1", "100.00", today)).encode())
    status, _ = patch(client, {"invoice_delivery": "email", "contacts": [
        {"name": "AP", "email": FIRST}, {"name": "Buchhaltung", "email": SECOND}]})
    assert status == 200
    drop(client, s3, bucket, "incoming/b.csv", (HEADER + row("RE-2", "250.00", today)).encode())
    stream(client, "1", None, InvoiceModel.get("RE-2").serialize())
    [first] = mails()
    assert first["To"] == FIRST and first["X-Dunwell-Message-Key"].startswith("delivery#RE-2#")

    outcome = bounce(client, first, "ses-b1")
    assert outcome["outcome"] == "suppressed" and outcome["customer_id"] == "kunde"
    assert outcome["delivery"] == {"invoice_id": "RE-2", "fallback": "sent", "delivered": True}
    assert bounce(client, first, "ses-b1")["delivery"]["fallback"] == "done"  # SNS delivers twice: no second mail
    assert [m["To"] for m in mails()] == [FIRST, SECOND]
    second = mails()[1]
    assert any(p.get_content_type() == "application/pdf" for p in second.walk())
    invoice = json.loads(client.http.get("/invoices/RE-2", headers=admin_headers).body)
    assert invoice["delivered_at"] is not None
    types = [e.type for e in EventModel.query("invoice#RE-2")]
    assert types.count("invoice.delivered") == 2 and types.count("invoice.delivery_bounced") == 1
    tasks = json.loads(client.http.get("/tasks", headers=admin_headers).body)["items"]
    assert any(t["title"].startswith("Invoice email bounce") for t in tasks)

    # The second address bounces too: nobody is left, the invoice is not delivered.
    last = bounce(client, second, "ses-b2")
    assert last["delivery"] == {"invoice_id": "RE-2", "fallback": "no_other_contact", "delivered": False}
    assert len(mails()) == 2
    invoice = json.loads(client.http.get("/invoices/RE-2", headers=admin_headers).body)
    assert invoice["delivered_at"] is None
    timeline = json.loads(client.http.get("/invoices/RE-2/timeline", headers=admin_headers).body)
    bounced = [e for e in timeline["items"] if e["type"] == "invoice.delivery_bounced"]
    assert [e["data"]["fallback"] for e in bounced] == ["sent", "no_other_contact"]
    assert SECOND not in json.dumps(bounced)  # masked on the timeline

    # Staff add a working address: the invoice's next reminder says it never arrived and carries it.
    assert patch(client, {"contacts": [{"name": "Neu", "email": "neu@kunde.example"}]})[0] == 200
    summary = run(client, admin_headers, today)
    assert summary["sent"]["email"] == 1, summary
    reminder = mails()[2]
    assert reminder["To"] == "neu@kunde.example"
    assert "Die Rechnung RE-2 hat Sie bisher nicht erreicht" in text_of(reminder)
    # RE-1 came before the customer chose delivery by email: Dunwell never sent it either, so it is attached too.
    pdfs = [p.get_filename() for p in reminder.walk() if p.get_content_type() == "application/pdf"]
    assert sorted(pdfs) == ["RE-1.pdf", "RE-2.pdf"]
    invoice = json.loads(client.http.get("/invoices/RE-2", headers=admin_headers).body)
    assert invoice["delivered_at"] is not None
