"""Every way into Dunwell, on one screen. Each handler decodes its trigger and calls one use case."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent

from chalicelib import bootstrap
from chalicelib.api import customers, health, imports, invoices, payments, policies, webhooks
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
