"""Every way into Dunwell, on one screen. Each handler decodes its trigger and calls one use case."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Cron, Rate
from chalice.app import CloudWatchEvent, DynamoDBEvent, SNSEvent, SQSEvent

from chalicelib import bootstrap
from chalicelib.api import (
    accounts,
    collections,
    customers,
    dunning,
    health,
    imports,
    invoices,
    keys,
    openapi,
    pages,
    payments,
    policies,
    portal,
    portal_links,
    predictions,
    reports,
    webhooks,
)
from chalicelib.api import letters as letter_routes
from chalicelib.api.http import error_shape
from chalicelib.observability import logger, observe

app = Chalice(app_name="dunwell", configure_logs=False)
# Invoice documents (GET /invoices/{id}/pdf, /ubl) are bytes: base64 through API Gateway, raw to the client.
app.api.binary_types.extend(["application/pdf", "application/xml"])


def bind_tables(event: Any, get_response: Any) -> Any:
    """Every way in binds the tables before any use case is built: once per container (again only when the
    settings change), and never at import, which packaging does without AWS settings."""
    bootstrap.bind_tables()
    return get_response(event)


app.register_middleware(observe, "all")
app.register_middleware(bind_tables, "all")
app.register_middleware(error_shape, "http")

app.register_blueprint(health.blueprint)
app.register_blueprint(invoices.blueprint)
app.register_blueprint(customers.blueprint)
app.register_blueprint(imports.blueprint)
app.register_blueprint(payments.blueprint)
app.register_blueprint(policies.blueprint)
app.register_blueprint(webhooks.blueprint)
app.register_blueprint(dunning.blueprint)
app.register_blueprint(accounts.blueprint)
app.register_blueprint(collections.blueprint)
app.register_blueprint(keys.blueprint)
app.register_blueprint(reports.blueprint)
app.register_blueprint(openapi.blueprint)
app.register_blueprint(predictions.blueprint)
app.register_blueprint(pages.blueprint)
app.register_blueprint(portal_links.blueprint)
app.register_blueprint(portal.blueprint)
app.register_blueprint(letter_routes.blueprint)


# S3 -> EventBridge -> here (on_s3_event cannot be packaged for CloudFormation). The bucket name is
# added to this pattern by infra/resources.yaml, which knows it. incoming/: invoice files; bank/: statements.
@app.on_cw_event(
    {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"object": {"key": [{"prefix": "incoming/"}, {"prefix": "bank/"}]}},
    },
    name="ingest_upload",
)
def ingest_upload(event: CloudWatchEvent) -> dict[str, Any]:
    detail = event.detail
    outcome = bootstrap.ingest_service().ingest(detail["bucket"]["name"], detail["object"]["key"])
    summary: dict[str, Any] = outcome.summary()
    logger.info("ingest finished", extra={"outcome": summary})
    return summary


# Files whose event was lost or whose worker died are picked up again: nothing dropped is ever lost.
@app.schedule(Rate(15, unit=Rate.MINUTES), name="redrive_inbox")
def redrive_inbox(event: CloudWatchEvent) -> dict[str, Any]:
    redriven: list[str] = bootstrap.ingest_service().redrive_stale()
    logger.info("inbox redrive", extra={"redriven": redriven})
    return {"redriven": redriven}


# Hourly, so every customer's local send window is met; each run reads only the invoices due for a decision
# and hands them, per customer, to the reminder workers (in this process where no queue is configured).
@app.schedule(Rate(1, unit=Rate.HOURS), name="dunning_sweep")
def dunning_sweep(event: CloudWatchEvent) -> dict[str, Any]:
    queue = bootstrap.dunning_queue()
    service = bootstrap.dunning_service()
    remaining = getattr(event.context, "get_remaining_time_in_millis", None)
    # Plans first: a broken plan puts its invoices back on the ladder, and the invoice sweep takes them at once.
    plans = bootstrap.plan_service().sweep(time_left_ms=remaining)
    summary = service.dispatch(queue) if queue is not None else service.run(time_left_ms=remaining)
    result: dict[str, Any] = {**summary.to_dict(), "plans": plans.to_dict()}
    logger.info("dunning sweep", extra={"summary": result})
    return result


# Hourly, so Monday 07:00 in the seller's time zone is met wherever it is; the digest goes once per week and
# recipient (its send-once claims), so every other run of the week does nothing.
@app.schedule(Rate(1, unit=Rate.HOURS), name="weekly_digest")
def weekly_digest(event: CloudWatchEvent) -> dict[str, Any]:
    outcome: dict[str, Any] = bootstrap.weekly_digest().run().to_dict()
    logger.info("weekly digest", extra={"outcome": outcome})
    return outcome


# Hourly, so each customer's first business day of the month is met in its own time zone; outside the first days
# of a month it reads nothing.
@app.schedule(Rate(1, unit=Rate.HOURS), name="monthly_statements")
def monthly_statements(event: CloudWatchEvent) -> dict[str, Any]:
    outcome: dict[str, Any] = bootstrap.monthly_statements().run().to_dict()
    logger.info("monthly statements", extra={"outcome": outcome})
    return outcome


# One message per customer with due invoices; a failed message is retried alone (partial batch response).
@app.on_sqs_message(queue="dunwell-dunning-work", batch_size=5, name="send_reminders")
def send_reminders(event: SQSEvent) -> dict[str, Any]:
    failures = []
    for record in event:
        try:
            bootstrap.dunning_service().work(bootstrap.decode_work(record.body))
        except Exception:
            logger.exception("reminder work failed; SQS will redeliver it")
            failures.append({"itemIdentifier": record.to_dict()["messageId"]})
    return {"batchItemFailures": failures}


# SES bounces and complaints (configuration set -> SNS topic; infra/resources.yaml points this at the stack's).
@app.on_sns_message(topic="dunwell-ses-events", name="ses_notifications")
def ses_notifications(event: SNSEvent) -> dict[str, Any]:
    outcome: dict[str, Any] = bootstrap.bounce_handler().handle(event.message)
    logger.info("ses notification", extra={"outcome": outcome})
    return outcome


# Every audit event, as written (in the same transaction as its change), goes out on the EventBridge bus;
# payment receipts are sent from here too.
# infra/resources.yaml points this at the stack's events table stream; this ARN only names the kind of source.
@app.on_dynamodb_record(stream_arn="arn:aws:dynamodb:eu-west-1:000000000000:table/dunwell-events/stream/any",
                        starting_position="TRIM_HORIZON", batch_size=100, name="publish_events")
def publish_events(event: DynamoDBEvent) -> dict[str, Any]:
    from chalicelib.services.events_out import publish

    bus = bootstrap.event_bus()
    changes = bootstrap.decode_stream_records(event.to_dict()["Records"])
    failed = publish(changes, bus) if bus is not None else []
    # Payment receipts ride the same stream (once per payment by their claim, so a retried batch sends none twice).
    bootstrap.receipts().on_events([c.event for c in changes])
    # Tasks whose reason was an unpaid invoice end when it is settled (completing twice changes nothing).
    unclosed = bootstrap.task_closer().on_events([c.event for c in changes])
    if unclosed is not None:
        retry = {c.sequence_number for c in changes[unclosed:]}
        failed = [c.sequence_number for c in changes if c.sequence_number in retry or c.sequence_number in failed]
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}


# Every change of an invoice (before and after) is folded into the analytics table: period sums per currency and
# customer, and open balances. Each projection counts a change once, however often the stream delivers it.
# infra/resources.yaml points this at the stack's invoices table stream; this ARN only names the kind of source.
@app.on_dynamodb_record(stream_arn="arn:aws:dynamodb:eu-west-1:000000000000:table/dunwell-invoices/stream/any",
                        starting_position="TRIM_HORIZON", batch_size=100, name="project_invoices")
def project_invoices(event: DynamoDBEvent) -> dict[str, Any]:
    records = event.to_dict()["Records"]
    try:
        changes = bootstrap.decode_invoice_records(records)
        for projection in bootstrap.invoice_projections():
            projection.apply(changes)
    except Exception:  # the whole batch again, from its first record: counting is idempotent
        logger.exception("invoice projection failed; the stream delivers the batch again")
        return {"batchItemFailures": [{"itemIdentifier": str(r["dynamodb"].get("SequenceNumber"))}
                                      for r in records[:1]]}
    return {"batchItemFailures": []}


# Late each day (UTC), the day's cash forecast per currency is stored once, so its accuracy can be measured later.
@app.schedule(Cron(50, 23, "*", "*", "?", "*"), name="snapshot_forecasts")
def snapshot_forecasts(event: CloudWatchEvent) -> dict[str, Any]:
    stored: dict[str, bool] = bootstrap.cash_forecast().snapshot()
    logger.info("forecast snapshots", extra={"stored": stored})
    return {"stored": stored}
