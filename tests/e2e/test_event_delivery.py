"""The local event plumbing against a real moto server, with a small app: EventBridge, SQS and SNS triggers,
retries, dead-lettering, partial batch failures and schedules. The Dunwell app is not involved."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice import Chalice
from chalice.config import Config

from chalicelib.local import events
from chalicelib.local.aws import client_factory
from chalicelib.local.cfn_yaml import Resolver
from chalicelib.local.events import QueuePoller, wire
from chalicelib.local.invoke import Function, Invoker
from chalicelib.local.scheduler import Scheduler, jobs_of
from tests.e2e.stack import wait_for

# Generous: wait_for returns as soon as the event arrives; a CI box under load may take many seconds.
PATIENCE = 60

pytestmark = pytest.mark.e2e

REGION = "eu-west-1"
FAILURES_ARN = "arn:aws:sqs:eu-west-1:123456789012:fake-async-failures"
# As infra/resources.yaml overrides a Chalice function: failed async invocations go to the function's DLQ.
TEMPLATE: dict[str, Any] = {"Resources": {"OnUpload": {"Properties": {
    "DeadLetterQueue": {"Type": "SQS", "TargetArn": FAILURES_ARN}}}}}


class Calls:
    def __init__(self) -> None:
        self.events: dict[str, list[Any]] = {}
        self.lock = threading.Lock()

    def add(self, name: str, event: Any) -> int:
        with self.lock:
            self.events.setdefault(name, []).append(event)
            return len(self.events[name])

    def of(self, name: str) -> list[Any]:
        with self.lock:
            return list(self.events.get(name, []))


def build_app(calls: Calls) -> Chalice:
    app = Chalice(app_name="fake")

    @app.on_cw_event({"source": ["aws.s3"], "detail-type": ["Object Created"],
                      "detail": {"object": {"key": [{"prefix": "incoming/"}]}}}, name="on_upload")
    def on_upload(event: Any) -> dict:
        n = calls.add("on_upload", event.to_dict())
        if "fail-once" in event.detail["object"]["key"] and n == 1:
            raise RuntimeError("first attempt fails")
        if "always-fails" in event.detail["object"]["key"]:
            raise RuntimeError("this one never works")
        return {"ok": True}

    @app.on_sqs_message(queue="fake-work", batch_size=5, name="on_work")
    def on_work(event: Any) -> dict:
        bodies = [record.body for record in event]
        calls.add("on_work", bodies)
        failed = [{"itemIdentifier": r.to_dict()["messageId"]} for r in event
                  if r.body == "flaky" and len(calls.of("on_work")) == 1]
        return {"batchItemFailures": failed}

    @app.on_sns_message(topic="fake-topic", name="on_note")
    def on_note(event: Any) -> None:
        calls.add("on_note", {"message": event.message, "subject": event.subject})

    @app.schedule("rate(1 minute)", name="every_minute")
    def every_minute(event: Any) -> None:
        calls.add("every_minute", event.to_dict())

    return app


@pytest.fixture
def plumbing(external_moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setattr(events, "MAX_RECEIVES", 2)
    monkeypatch.setattr(events, "retry_delay", lambda attempts: 0)
    clients = client_factory(external_moto, REGION)
    clients("s3").create_bucket(Bucket="fake-inbox", CreateBucketConfiguration={"LocationConstraint": REGION})
    clients("sqs").create_queue(QueueName="fake-work")
    clients("sqs").create_queue(QueueName="fake-async-failures")
    calls = Calls()
    app = build_app(calls)
    resolver = Resolver(TEMPLATE, stack_name="fake-local", region=REGION, account_id="123456789012")
    invoker = Invoker(app, Config(chalice_stage="local", config_from_disk={"version": "2.0", "app_name": "fake"}),
                      Function(REGION, "123456789012", "fake", "local"), tmp_path / "invocations.jsonl")
    stop = threading.Event()
    routes = wire(app, TEMPLATE, resolver, clients, "fake-inbox")
    pollers = [QueuePoller(route, clients, invoker, stop) for route in routes]
    for poller in pollers:
        poller.start()
    yield {"clients": clients, "calls": calls, "routes": {r.handler: r for r in routes}, "app": app,
           "invoker": invoker, "resolver": resolver, "stop": stop}
    stop.set()
    for poller in pollers:
        poller.thread.join(5)


def test_s3_events_reach_the_handler_once(plumbing):
    s3, calls = plumbing["clients"]("s3"), plumbing["calls"]
    s3.put_object(Bucket="fake-inbox", Key="incoming/a b.csv", Body=b"x")
    s3.put_object(Bucket="fake-inbox", Key="outgoing/ignored.csv", Body=b"x")
    event = wait_for(lambda: calls.of("on_upload"), PATIENCE, 0.05, "no S3 event")[0]
    assert event["detail"]["object"]["key"] == "incoming/a b.csv"
    assert event["detail"]["bucket"]["name"] == "fake-inbox"
    time.sleep(1.5)
    assert len(calls.of("on_upload")) == 1  # deleted after success; the other prefix never matched


def test_a_failed_event_is_retried(plumbing):
    plumbing["clients"]("s3").put_object(Bucket="fake-inbox", Key="incoming/fail-once.csv", Body=b"x")
    wait_for(lambda: len(plumbing["calls"].of("on_upload")) >= 2, PATIENCE, 0.05, "not retried")


def test_an_event_failing_every_time_is_dead_lettered(plumbing, caplog):
    assert plumbing["routes"]["on_upload"].dead_letter == FAILURES_ARN
    sqs = plumbing["clients"]("sqs")
    dlq_url = sqs.get_queue_url(QueueName="fake-async-failures")["QueueUrl"]
    with caplog.at_level("ERROR", logger="dw_local.events"):
        plumbing["clients"]("s3").put_object(Bucket="fake-inbox", Key="incoming/always-fails.csv", Body=b"x")
        dead = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages"), PATIENCE, 0.1,
                        "nothing reached the dead-letter queue")
    assert json.loads(dead[0]["Body"])["detail"]["object"]["key"] == "incoming/always-fails.csv"
    assert len(plumbing["calls"].of("on_upload")) == 2  # MAX_RECEIVES
    assert any("giving up" in r.getMessage() for r in caplog.records)


def test_sqs_batches_and_partial_failures(plumbing):
    sqs, calls = plumbing["clients"]("sqs"), plumbing["calls"]
    url = plumbing["routes"]["on_work"].queue_url
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "steady"},
                                                  {"Id": "2", "MessageBody": "flaky"}])
    wait_for(lambda: sum(len(b) for b in calls.of("on_work")) >= 3, PATIENCE, 0.05, "flaky not redelivered")
    delivered = [body for batch in calls.of("on_work") for body in batch]
    assert sorted(delivered) == ["flaky", "flaky", "steady"]


def test_sns_messages_reach_the_handler(plumbing):
    sns = plumbing["clients"]("sns")
    topic = sns.create_topic(Name="fake-topic")["TopicArn"]
    sns.publish(TopicArn=topic, Message='{"notificationType": "Bounce"}', Subject="bounce")
    note = wait_for(lambda: plumbing["calls"].of("on_note"), PATIENCE, 0.05, "no SNS delivery")[0]
    assert note == {"message": '{"notificationType": "Bounce"}', "subject": "bounce"}


def test_schedules_fire_at_start_and_on_a_sped_up_cadence(plumbing):
    jobs = jobs_of(plumbing["app"], TEMPLATE, plumbing["resolver"], plumbing["invoker"])
    assert [job.handler for job in jobs] == ["every_minute"]
    scheduler = Scheduler(jobs, plumbing["invoker"], plumbing["stop"], fire_at_start=True, speedup=60)
    scheduler.start()  # a minute every second
    fired = wait_for(lambda: (lambda got: got if len(got) >= 3 else None)(plumbing["calls"].of("every_minute")),
                     5, 0.05, "the schedule did not fire three times in 5 s")
    event = fired[0]
    assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    assert event["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/fake-local-every_minute"]
    assert event["region"] == REGION and event["time"].endswith("Z")
