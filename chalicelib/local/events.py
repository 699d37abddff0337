"""Event delivery: EventBridge rules, SQS and SNS triggers -> an SQS queue -> a poll loop -> the app's handler.

For each `@app.on_cw_event` an EventBridge rule with the handler's own pattern (merged with the template's
override, and limited to the inbox bucket for S3 patterns) targets a local queue: S3 -> EventBridge -> SQS is
what moto emulates, so an object put by any client (aws cli, boto3) reaches the handler. `@app.on_sqs_message`
handlers read their queue directly; `@app.on_sns_message` handlers get an SQS queue subscribed to the topic.

A message is deleted once the handler returns. If the handler raises, the message comes back after a short
back-off; after MAX_RECEIVES attempts (Lambda's async invoke: 1 + 2 retries) it moves to a dead-letter queue,
the function's own `DeadLetterQueue` from the template when it has one, and the failure is logged loudly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.local.cfn_yaml import Resolver, TemplateError, deep_merge
from chalicelib.local.invoke import Poller
from chalicelib.local.provision import ClientFactory, enable_eventbridge, ensure_queue, function_event_values

log = logging.getLogger("dw_local.events")

MAX_RECEIVES = 3  # then the message moves to the dead-letter queue


def retry_delay(attempts: int) -> int:
    """Seconds before a failed message is delivered again: 2, 4, 8, 16, 30..."""
    return int(min(30, 2**attempts))

WAIT_SECONDS = 1  # long poll: an event is picked up at once, and stop() is noticed within a second


@dataclass(frozen=True)
class Route:
    """One queue whose messages invoke one handler."""

    handler: str
    kind: str  # "eventbridge" | "sqs" | "sns"
    queue_url: str
    queue_arn: str
    batch_size: int = 1
    max_receives: int | None = None  # after that many failed attempts the queue dead-letters the message
    dead_letter: str | None = None


def wire(
    app: Any, template: Mapping[str, Any], resolver: Resolver, clients: ClientFactory, inbox_bucket: str | None
) -> list[Route]:
    """Creates the rules, queues and subscriptions for every event-driven handler of the app."""
    from chalice.app import (
        CloudWatchEventConfig,
        DynamoDBEventConfig,
        ScheduledEventConfig,
        SNSEventConfig,
        SQSEventConfig,
    )

    stack = resolver.pseudo["AWS::StackName"]
    routes = []
    for source in app.event_sources:
        if isinstance(source, CloudWatchEventConfig):
            pattern = event_pattern(source.event_pattern, template, resolver, source.name, inbox_bucket)
            names = function_event_values(template, resolver, source.name, "RuleName")
            rule = str(names[-1]) if names else f"{stack}-{source.name}"  # what `chalice deploy` names it
            dead_letter = function_dead_letter(template, resolver, source.name)
            routes.append(_eventbridge_route(clients, stack, source.name, rule, pattern, dead_letter))
        elif isinstance(source, SQSEventConfig):
            # As in AWS, the template's override of the event source (this stack's queue) wins over app.py's name.
            queues = function_event_values(template, resolver, source.name, "Queue")
            queue_arn = str(queues[-1]) if queues else source.queue_arn
            queue = None if queues else source.queue
            routes.append(_sqs_route(clients, source.name, queue, queue_arn, source.batch_size))
        elif isinstance(source, SNSEventConfig):
            dead_letter = function_dead_letter(template, resolver, source.name)
            topics = function_event_values(template, resolver, source.name, "Topic")
            routes.append(_sns_route(clients, stack, source.name, str(topics[-1]) if topics else source.topic,
                                     dead_letter))
        elif not isinstance(source, ScheduledEventConfig | DynamoDBEventConfig):  # scheduler.py, streams.py
            log.warning("%s: %s triggers are not emulated locally", source.name, type(source).__name__)
    return routes


def event_pattern(
    pattern: Mapping[str, Any],
    template: Mapping[str, Any],
    resolver: Resolver,
    handler: str,
    inbox_bucket: str | None,
) -> dict[str, Any]:
    merged = dict(pattern)
    for override in function_event_values(template, resolver, handler, "Pattern"):
        merged = deep_merge(merged, override)
    detail = merged.get("detail") or {}
    if "aws.s3" in (merged.get("source") or []) and inbox_bucket and "name" not in (detail.get("bucket") or {}):
        merged["detail"] = deep_merge(detail, {"bucket": {"name": [inbox_bucket]}})
    return merged


def function_dead_letter(template: Mapping[str, Any], resolver: Resolver, handler: str) -> str | None:
    """The SQS queue ARN the template gives the function for failed async invocations, if any."""
    from chalice.utils import to_cfn_resource_name

    spec = (template["Resources"].get(to_cfn_resource_name(handler)) or {}).get("Properties") or {}
    target = spec.get("DeadLetterQueue") or {}
    if target.get("Type") != "SQS" or "TargetArn" not in target:
        return None
    try:
        return str(resolver.resolve(target["TargetArn"]))
    except TemplateError as error:
        log.warning("%s: its DeadLetterQueue is not available locally (%s)", handler, error)
        return None


def buckets_in(pattern: Mapping[str, Any]) -> list[str]:
    names = ((pattern.get("detail") or {}).get("bucket") or {}).get("name") or []
    return [n for n in names if isinstance(n, str)]


def _queue(clients: ClientFactory, name: str, attributes: dict[str, str] | None = None) -> tuple[str, str]:
    sqs = clients("sqs")
    url = ensure_queue(sqs, name, attributes or {})
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _queue_with_dlq(clients: ClientFactory, name: str, dlq_arn: str | None) -> tuple[str, str, str]:
    """A local delivery queue and its dead-letter queue (`dlq_arn`, else a new one): (url, arn, dlq arn)."""
    if dlq_arn is None:
        _, dlq_arn = _queue(clients, f"{name}-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})
    url, arn = _queue(clients, name, {"RedrivePolicy": redrive})
    return url, arn, dlq_arn


def _eventbridge_route(
    clients: ClientFactory, stack: str, handler: str, rule: str, pattern: dict[str, Any], dead_letter: str | None
) -> Route:
    url, arn, dlq_arn = _queue_with_dlq(clients, f"{stack}-{handler}-events", dead_letter)
    s3 = clients("s3")
    for bucket in buckets_in(pattern):
        enable_eventbridge(s3, bucket)
    events = clients("events")
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule, Targets=[{"Id": "local-poller", "Arn": arn}])
    log.info("rule %s -> %s (failures -> %s): %s", rule, handler, dlq_arn.rsplit(":", 1)[-1], json.dumps(pattern))
    return Route(handler, "eventbridge", url, arn, 1, MAX_RECEIVES, dlq_arn)


def _sqs_route(
    clients: ClientFactory, handler: str, queue: str | None, queue_arn: str | None, batch_size: int
) -> Route:
    name = queue or (queue_arn or "").rsplit(":", 1)[-1]
    sqs = clients("sqs")
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except Exception:
        log.warning("%s reads queue %s, which the template does not define: creating it", handler, name)
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])["Attributes"]
    redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
    max_receives = int(redrive["maxReceiveCount"]) if "maxReceiveCount" in redrive else None
    batch = max(1, min(batch_size, 10))
    return Route(handler, "sqs", url, attributes["QueueArn"], batch, max_receives, redrive.get("deadLetterTargetArn"))


def _sns_route(clients: ClientFactory, stack: str, handler: str, topic: str, dead_letter: str | None) -> Route:
    sns = clients("sns")
    topic_arn = topic if topic.startswith("arn:") else sns.create_topic(Name=topic)["TopicArn"]
    url, arn, dlq_arn = _queue_with_dlq(clients, f"{stack}-{handler}-sns", dead_letter)
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    if not any(s.get("Endpoint") == arn for s in subscriptions):
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    log.info("topic %s -> %s", topic_arn, handler)
    return Route(handler, "sns", url, arn, 1, MAX_RECEIVES, dlq_arn)


class QueuePoller(Poller[Route]):
    """A thread that long-polls one route's queue and invokes its handler."""

    service = "sqs"
    thread_prefix = "dunwell-poll"

    def _run(self) -> None:
        visibility = self._invoker.timeout_seconds(self.route.handler) + 5
        while not self._stop.is_set():
            try:
                response = self._client.receive_message(
                    QueueUrl=self.route.queue_url,
                    MaxNumberOfMessages=self.route.batch_size,
                    WaitTimeSeconds=WAIT_SECONDS,
                    VisibilityTimeout=visibility,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception as error:
                if self._stop.is_set():
                    return
                log.warning("polling %s failed: %s", self.route.queue_url, error)
                self._stop.wait(2)
                continue
            messages = response.get("Messages") or []
            if not messages:
                continue
            if self.route.kind == "sqs":
                self._deliver(messages, self._sqs_event(messages))
            else:
                for message in messages:
                    self._deliver([message], self._single_event(message))

    def _single_event(self, message: dict[str, Any]) -> dict[str, Any] | None:
        try:
            body = json.loads(message["Body"])
        except ValueError:
            log.error("dropping a message on %s that is not JSON: %.200s", self.route.queue_url, message["Body"])
            return None
        if self.route.kind == "eventbridge":
            return body if isinstance(body, dict) else None
        return {"Records": [_sns_record(body, self.route.queue_arn)]}

    def _sqs_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [_sqs_record(m, self.route.queue_arn, self._region) for m in messages]}

    def _deliver(self, messages: list[dict[str, Any]], event: dict[str, Any] | None) -> None:
        if event is None:
            self._delete(messages)
            return
        try:
            trigger = f"{self.route.kind}:{self.route.queue_arn.rsplit(':', 1)[-1]}"
            result = self._invoker.invoke(self.route.handler, event, trigger=trigger, subject=_subject(event))
        except Exception:  # logged by the invoker; the messages come back for a retry
            self._retry(messages)
            return
        failed = _batch_item_failures(result)
        self._retry([m for m in messages if m["MessageId"] in failed])
        self._delete([m for m in messages if m["MessageId"] not in failed])

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self._client.delete_message(QueueUrl=self.route.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _retry(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            attempts = int((message.get("Attributes") or {}).get("ApproximateReceiveCount", "1"))
            if self.route.max_receives is not None and attempts >= self.route.max_receives:
                log.error(
                    "!!! %s failed %d times on message %s: giving up, it moves to %s. Body: %.500s",
                    self.route.handler,
                    attempts,
                    message["MessageId"],
                    self.route.dead_letter,
                    message["Body"],
                )
            delay = retry_delay(attempts)
            try:
                self._client.change_message_visibility(
                    QueueUrl=self.route.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=delay
                )
            except Exception as error:
                log.warning("could not schedule the retry of %s: %s", message["MessageId"], error)


def _subject(event: dict[str, Any]) -> str | None:
    """What an event is about, for the journal: `s3://bucket/key` for S3 events."""
    detail = event.get("detail")
    if isinstance(detail, dict) and isinstance(detail.get("object"), dict):
        return f"s3://{(detail.get('bucket') or {}).get('name')}/{detail['object'].get('key')}"
    records = event.get("Records")
    return f"{len(records)} record(s)" if isinstance(records, list) else None


def _batch_item_failures(result: Any) -> set[str]:
    if isinstance(result, dict) and isinstance(result.get("batchItemFailures"), list):
        return {str(f.get("itemIdentifier")) for f in result["batchItemFailures"] if isinstance(f, dict)}
    return set()


def _sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes") or {},
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType"),
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _sns_record(body: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The Lambda SNS record for an SNS notification delivered to SQS (JSON envelope, not raw)."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{body.get('TopicArn')}:local-{queue_arn.rsplit(':', 1)[-1]}",
        "Sns": {
            "Type": body.get("Type", "Notification"),
            "MessageId": body.get("MessageId"),
            "TopicArn": body.get("TopicArn"),
            "Subject": body.get("Subject"),
            "Message": body.get("Message"),
            "Timestamp": body.get("Timestamp"),
            "SignatureVersion": body.get("SignatureVersion", "1"),
            "Signature": body.get("Signature", ""),
            "SigningCertUrl": body.get("SigningCertURL", ""),
            "UnsubscribeUrl": body.get("UnsubscribeURL", ""),
            "MessageAttributes": body.get("MessageAttributes") or {},
        },
    }
