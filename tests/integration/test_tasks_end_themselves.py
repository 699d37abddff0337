"""Tasks end when their reason ends: an invoice paid or written off completes its escalation and broken-promise
tasks (from the events stream, with an audit event), once, however often the stream delivers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chalicelib import bootstrap
from chalicelib.adapters.dynamo import event_to_model
from chalicelib.adapters.models import EventModel
from chalicelib.services.ports import Task
from tests.integration.helpers import drop, dunwell_csv, invoice_row

OPENED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def open_tasks(invoice_id: str) -> None:
    for task_id, kind in ((f"escalation:{invoice_id}:final", "escalation"),
                          (f"broken_promise:{invoice_id}:2026-11-10", "broken_promise"),
                          (f"chargeback:chb_{invoice_id}", "chargeback")):
        bootstrap.tasks().open(Task(task_id, kind, f"{kind} {invoice_id}", "acme", invoice_id, {}, OPENED,
                                    "system:dunning"))


def stream(client, entities: list[str]) -> dict:
    """Every audit event of these entities through publish_events, as the events table's stream delivers them."""
    records = []
    for entity in entities:
        for index, m in enumerate(EventModel.query(entity)):
            image = event_to_model(m_to_event(m)).serialize()
            records.append({"eventID": f"{entity}-{index}", "eventName": "INSERT", "eventSource": "aws:dynamodb",
                            "dynamodb": {"SequenceNumber": f"{len(records)}", "NewImage": image,
                                         "StreamViewType": "NEW_IMAGE"}})
    return dict(client.lambda_.invoke("publish_events", {"Records": records}).payload)


def m_to_event(m):
    from chalicelib.services.ports import AuditEvent

    return AuditEvent(m.entity_key, m.type, m.actor, m.at, m.event_key.split("#", 2)[-1], dict(m.data or {}))


def status_of(task_id: str) -> str:
    task = bootstrap.tasks().get(task_id)
    assert task is not None
    return str(task.status)


def post(client, path, headers, body):
    response = client.http.post(path, body=json.dumps(body).encode(),
                                headers={**headers, "Content-Type": "application/json"})
    assert response.status_code in (200, 201), response.body
    return json.loads(response.body)


def test_a_written_off_and_a_paid_invoice_close_their_unpaid_tasks_once(client, s3, bucket, admin_headers):
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1", "100.00"),
                                                           invoice_row("INV-2", "80.00"), invoice_row("INV-3")))
    for invoice_id in ("INV-1", "INV-2", "INV-3"):
        open_tasks(invoice_id)
    post(client, "/invoices/INV-1/write-off", admin_headers, {"amount": "100.00", "reason": "insolvent"})
    post(client, "/payments", admin_headers, {"amount": "30.00", "currency": "EUR", "invoice_numbers": ["INV-2"]})
    entities = ["invoice#INV-1", "invoice#INV-2", "invoice#INV-3"]
    assert stream(client, entities) == {"batchItemFailures": []}
    # INV-1 written off: its unpaid tasks end; the chargeback (contest or accept) is another matter.
    assert status_of("escalation:INV-1:final") == "done" and status_of("broken_promise:INV-1:2026-11-10") == "done"
    assert status_of("chargeback:chb_INV-1") == "open"
    # INV-2 only part paid, INV-3 untouched: still owed, still open.
    assert {status_of(f"escalation:{i}:final") for i in ("INV-2", "INV-3")} == {"open"}
    post(client, "/payments", admin_headers, {"amount": "50.00", "currency": "EUR", "invoice_numbers": ["INV-2"]})
    stream(client, entities)
    stream(client, entities)  # the stream delivers at least once
    assert status_of("escalation:INV-2:final") == "done" and status_of("escalation:INV-3:final") == "open"
    completed = [e for e in EventModel.query("invoice#INV-1") if e.type == "task.completed"]
    assert sorted(e.data["task_id"] for e in completed) == ["broken_promise:INV-1:2026-11-10",
                                                            "escalation:INV-1:final"]
    assert {e.actor for e in completed} == {"system:tasks"}
    assert all("INV-1 settled" in e.data["reason"] for e in completed)
    assert len([e for e in EventModel.query("invoice#INV-2") if e.type == "task.completed"]) == 2
