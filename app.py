"""Every way into Dunwell, on one screen. Each handler decodes its trigger and calls one use case."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent, SNSEvent

from chalicelib import bootstrap
from chalicelib.api import customers, dunning, health, imports, invoices, payments, policies, webhooks
from chalicelib.observability import logger, observe

app = Chalice(app_name="dunwell", configure_logs=False)
app.register_middleware(observe, "all")

app.register_blueprint(health.blueprint)
app.register_blueprint(invoices.blueprint)
app.register_blueprint(customers.blueprint)
app.register_blueprint(imports.blueprint)
app.register_blueprint(payments.blueprint)
app.register_blueprint(policies.blueprint)
app.register_blueprint(webhooks.blueprint)
app.register_blueprint(dunning.blueprint)


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


# Hourly, so every customer's local send window is met; each run reads only the invoices due for a decision.
@app.schedule(Rate(1, unit=Rate.HOURS), name="dunning_sweep")
def dunning_sweep(event: CloudWatchEvent) -> dict[str, Any]:
    remaining = getattr(event.context, "get_remaining_time_in_millis", None)
    summary: dict[str, Any] = bootstrap.dunning_service().run(time_left_ms=remaining).to_dict()
    logger.info("dunning sweep", extra={"summary": summary})
    return summary


# SES bounces and complaints (configuration set -> SNS topic; infra/resources.yaml points this at the stack's).
@app.on_sns_message(topic="dunwell-ses-events", name="ses_notifications")
def ses_notifications(event: SNSEvent) -> dict[str, Any]:
    outcome: dict[str, Any] = bootstrap.bounce_handler().handle(event.message)
    logger.info("ses notification", extra={"outcome": outcome})
    return outcome
