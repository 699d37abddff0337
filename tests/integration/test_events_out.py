"""Events out: new audit events from the events table's stream land on the EventBridge bus, once each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib import bootstrap, config
from chalicelib.adapters.dynamo import event_to_model
from chalicelib.services.ports import AuditEvent

BUS = "dunwell-test-events"


@pytest.fixture
def bus_queue(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    bootstrap.reset()
    region = config.settings().region
    events, sqs = boto3.client("events", region_name=region), boto3.client("sqs", region_name=region)
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName="erp-listener")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="holds", EventBusName=BUS, EventPattern=json.dumps({"source": ["dunwell"]}))
    events.put_targets(Rule="holds", EventBusName=BUS, Targets=[{"Id": "erp", "Arn": arn}])
    yield url


def stream_record(event: AuditEvent, sequence: str, name: str = "INSERT") -> dict[str, Any]:
    image = event_to_model(event).serialize()
    return {"eventID": sequence, "eventName": name, "eventSource": "aws:dynamodb",
            "dynamodb": {"SequenceNumber": sequence, "NewImage": image, "StreamViewType": "NEW_IMAGE"}}


def test_new_audit_events_are_published_with_a_stable_id(client: Any, bus_queue: str) -> None:
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    hold = AuditEvent("customer#acme", "customer.credit_hold_set", "system:dunning", at, "INV-1:escalation",
                      {"reason": "escalation of invoice INV-1"})
    paid = AuditEvent("invoice#INV-2", "invoice.payment_applied", "provider:stripe", at, "pay_1",
                      {"amount": "100.00", "currency": "EUR"})
    records = [stream_record(hold, "100"), stream_record(paid, "101"), stream_record(paid, "102", "REMOVE")]
    outcome = client.lambda_.invoke("publish_events", {"Records": records}).payload
    assert outcome == {"batchItemFailures": []}
    sqs = boto3.client("sqs", region_name=config.settings().region)
    received = sqs.receive_message(QueueUrl=bus_queue, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in received]
    by_type = {b["detail-type"]: b for b in bodies}
    assert set(by_type) == {"customer.credit_hold_set", "invoice.payment_applied"}  # the REMOVE is not an event
    detail = by_type["customer.credit_hold_set"]["detail"]
    assert detail["entity_type"] == "customer" and detail["entity_id"] == "acme"
    assert detail["id"].startswith("customer#acme/2026-11-24T09:00:00") and detail["actor"] == "system:dunning"
    assert by_type["invoice.payment_applied"]["source"] == "dunwell"


def test_a_refused_entry_is_retried_from_there(client: Any, bus_queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bus = bootstrap.event_bus()
    monkeypatch.setattr(bus, "put", lambda entries: [True] + [False] * (len(entries) - 1))
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    records = [stream_record(AuditEvent(f"invoice#INV-{i}", "invoice.amended", "system:ingest", at, str(i)), str(i))
               for i in range(3)]
    outcome = client.lambda_.invoke("publish_events", {"Records": records}).payload
    assert outcome == {"batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]}
