"""Builds the adapters and use cases on first use and caches them for the life of the Lambda container.

Nothing is built at import (packaging imports app.py with no AWS settings; tests start moto before
the first client). `reset()` drops everything, for tests that switch settings or endpoints.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from chalicelib import config


@cache
def _session() -> Any:
    import boto3

    settings = config.settings()
    from chalicelib.adapters.models import bind_tables

    bind_tables(settings)
    return boto3.session.Session(region_name=settings.region)


@cache
def s3_client() -> Any:
    return _session().client("s3", endpoint_url=config.settings().endpoint_url)


@cache
def files() -> Any:
    from chalicelib.adapters.s3_files import S3FileStore

    return S3FileStore(s3_client(), config.settings().inbox_bucket)


@cache
def ledger() -> Any:
    _session()
    from chalicelib.adapters.dynamo import DynamoLedger

    return DynamoLedger()


@cache
def customers() -> Any:
    _session()
    from chalicelib.adapters.dynamo import DynamoCustomers

    return DynamoCustomers()


@cache
def imports() -> Any:
    _session()
    from chalicelib.adapters.dynamo import DynamoImports

    return DynamoImports()


@cache
def queries() -> Any:
    _session()
    from chalicelib.adapters.queries import DynamoQueries

    return DynamoQueries()


@cache
def api_keys() -> Any:
    _session()
    from chalicelib.adapters.dynamo import DynamoApiKeys
    from chalicelib.services.api_keys import ApiKeys

    return ApiKeys(DynamoApiKeys())


@cache
def mappings_loader() -> Any:
    from chalicelib.adapters.mappings import S3MappingLoader

    return S3MappingLoader(files())


@cache
def ingest_service() -> Any:
    from chalicelib.adapters.dynamo import STORE_ERRORS
    from chalicelib.formats import parse_file
    from chalicelib.formats.bank import parse_bank_file
    from chalicelib.services.ingest_file import IngestService

    settings = config.settings()
    return IngestService(
        files(), imports(), ledger(), customers(), parse_file, mappings_loader(),
        max_bytes=settings.max_upload_bytes,
        lease=timedelta(seconds=settings.ingest_lease_seconds),
        stale_after=timedelta(minutes=settings.stale_inbox_minutes),
        parse_bank=parse_bank_file, payments=payment_service(),
        earliest_step_offset=settings_admin().earliest_step_offset,
        credit_check=credit_control().check_limits, store_errors=STORE_ERRORS, metrics=metrics(),
    )


@cache
def webhook_secrets() -> Any:
    from chalicelib.adapters.notify import WebhookSecrets

    return WebhookSecrets(config.settings())


def cursor_signing_secret() -> str:
    """What list cursors are signed with (chalicelib/api/http.py): CURSOR_SIGNING_KEY, else the Secrets Manager
    secret CURSOR_SIGNING_KEY_ARN (cached 5 minutes, like the webhook secrets), else, outside Lambda only, a random
    value per process: the local stack and the tests serve the API from one process, so their cursors work."""
    settings = config.settings()
    if settings.cursor_signing_key:
        return settings.cursor_signing_key
    if settings.cursor_signing_key_arn:
        from aws_lambda_powertools.utilities import parameters

        return str(parameters.get_secret(settings.cursor_signing_key_arn, max_age=300))
    if settings.running_in_lambda:  # a key per container would refuse the cursors of every other container
        raise RuntimeError("no cursor signing key: set CURSOR_SIGNING_KEY_ARN (infra/resources.yaml does) "
                           "or CURSOR_SIGNING_KEY")
    return _process_cursor_secret()


@cache
def _process_cursor_secret() -> str:
    """Kept across reset(): a cursor stays valid for the life of the process."""
    import secrets

    return secrets.token_urlsafe(32)


@cache
def payment_store() -> Any:
    _session()
    from chalicelib.adapters.payments import DynamoPayments

    return DynamoPayments()


@cache
def payment_service() -> Any:
    _session()
    from chalicelib.adapters.payments import DynamoProviderEvents
    from chalicelib.adapters.plans import DynamoPlans
    from chalicelib.services.payments import PaymentService

    return PaymentService(payment_store(), DynamoProviderEvents(), ledger(), customers(), alerts(),
                          plans=DynamoPlans(), tasks=tasks(), metrics=metrics())


@cache
def receipts() -> Any:
    _session()
    from chalicelib.adapters.dunning import DynamoClaims
    from chalicelib.formats.receipts import render_receipt_email
    from chalicelib.services.receipts import PaymentReceipts

    return PaymentReceipts(customers(), render_receipt_email, sender(), metrics(), seller(), DynamoClaims())


@cache
def settings_admin() -> Any:
    _session()
    from chalicelib.adapters.dynamo import DynamoPolicies
    from chalicelib.services.settings_admin import SettingsAdmin

    return SettingsAdmin(DynamoPolicies(), customers(), invoices=ledger())


@cache
def task_closer() -> Any:
    from chalicelib.services.task_closer import TaskCloser

    return TaskCloser(tasks())


@cache
def tasks() -> Any:
    _session()
    from chalicelib.adapters.dunning import DynamoTasks

    return DynamoTasks()


@cache
def dunning_settings() -> Any:
    _session()
    from chalicelib.adapters.dunning import DynamoDunningSettings

    return DynamoDunningSettings()


@cache
def alerts() -> Any:
    from chalicelib.adapters.notify import SnsAlerts

    settings = config.settings()
    return SnsAlerts(_session().client("sns", endpoint_url=settings.endpoint_url), settings.finance_alerts_topic)


@cache
def sender() -> Any:
    settings = config.settings()
    session = _session()
    return build_sender(session.client("sesv2", endpoint_url=settings.endpoint_url),
                        session.client("sns", endpoint_url=settings.endpoint_url))


def build_sender(ses: Any, sns: Any, **clock: Any) -> Any:
    """The sender as deployed, over the given SES and SNS clients (bench/scale.py passes simulated ones and a fake
    clock: `clock` and `sleep`)."""
    from chalicelib.adapters.dunning import AwsSender

    settings = config.settings()
    return AwsSender(ses, sns, settings.sender_email, settings.seller_name, settings.ses_configuration_set,
                     settings.ses_max_send_rate, **clock)


def seller() -> Any:
    from chalicelib.formats.messages import Seller

    settings = config.settings()
    return Seller(settings.seller_name, settings.sender_email, settings.seller_phone, settings.seller_iban,
                  settings.seller_bic, settings.seller_address)


@cache
def way_to_pay() -> Any:
    from chalicelib.services.way_to_pay import WayToPay

    settings = config.settings()
    return WayToPay(settings.no_way_to_pay, alerts(), metrics(), settings.stage)


@cache
def metrics() -> Any:
    from chalicelib.adapters.dunning import PowertoolsMetrics

    return PowertoolsMetrics("Dunwell", "dunwell")


@cache
def dunning_service() -> Any:
    return build_dunning_service(sender())


def build_dunning_service(reminder_sender: Any, clock: Any = None) -> Any:
    """The dunning service as deployed, sending through `reminder_sender`: one per Lambda container, so
    bench/scale.py builds one per simulated worker (each with its own sender's pacing) on a fake clock."""
    _session()
    from chalicelib.adapters.dunning import DynamoClaims, DynamoDueInvoices, DynamoHistory
    from chalicelib.formats.reminders import ReminderRenderer
    from chalicelib.services.dunning import DunningService

    return DunningService(
        DynamoDueInvoices(), ledger(), customers(), settings_admin().policy_cached, dunning_settings().cached,
        DynamoClaims(), reminder_sender, ReminderRenderer(seller(), config.settings().pay_url_template), tasks(),
        alerts(), metrics(), files(), DynamoHistory(), clock=clock, refusal=way_to_pay().refusal)


@cache
def dunning_queue() -> Any:
    """The reminder workers' queue; None where none is configured (then the sweep works in its own process)."""
    settings = config.settings()
    if not settings.dunning_queue_url:
        return None
    from chalicelib.adapters.dunning import SqsWorkQueue

    return SqsWorkQueue(_session().client("sqs", endpoint_url=settings.endpoint_url), settings.dunning_queue_url)


def decode_work(body: str) -> Any:
    _session()
    from chalicelib.adapters.dunning import decode_work as decode

    return decode(body)


@cache
def event_bus() -> Any:
    """Where events go out; None where no bus is configured (they are still in the audit trail)."""
    settings = config.settings()
    if not settings.event_bus_name:
        return None
    from chalicelib.adapters.events_out import EventBridgeBus

    return EventBridgeBus(_session().client("events", endpoint_url=settings.endpoint_url), settings.event_bus_name)


def decode_stream_records(records: Any) -> Any:
    _session()
    from chalicelib.adapters.events_out import decode_stream_records as decode

    return decode(records)


@cache
def timeline() -> Any:
    _session()
    from chalicelib.adapters.timeline import DynamoEventLog, DynamoSubjects
    from chalicelib.services.timeline import Timeline

    return Timeline(DynamoEventLog(), DynamoSubjects())


@cache
def credit_control() -> Any:
    from chalicelib.services.credit import CreditControl

    return CreditControl(customers(), queries(), metrics=metrics())


@cache
def bounce_handler() -> Any:
    from chalicelib.services.bounces import BounceHandler

    return BounceHandler(customers(), tasks(), alerts(), metrics())


@cache
def collections_service() -> Any:
    _session()
    from chalicelib.adapters.collections import DynamoDisputes
    from chalicelib.services.collections import CollectionsService

    return CollectionsService(ledger(), DynamoDisputes(),
                              write_off_collector_limit=config.settings().write_off_collector_limit,
                              metrics=metrics())


@cache
def plan_service() -> Any:
    _session()
    from chalicelib.adapters.dunning import DynamoClaims
    from chalicelib.adapters.plans import DynamoPlans
    from chalicelib.formats.reminders import ReminderRenderer
    from chalicelib.services.plans import PlanService

    return PlanService(DynamoPlans(), ledger(), customers(), settings_admin().policy_cached, DynamoClaims(), sender(),
                       ReminderRenderer(seller(), config.settings().pay_url_template), tasks(), alerts(),
                       settings=dunning_settings().cached, refusal=way_to_pay().refusal)


KEPT_ACROSS_RESET = (_process_cursor_secret,)
_BUILDERS = (_session, s3_client, files, ledger, customers, imports, queries, api_keys, mappings_loader,
             ingest_service, webhook_secrets, payment_store, payment_service, settings_admin, task_closer, tasks,
             dunning_settings, alerts, dunning_service, bounce_handler, dunning_queue, sender,
             metrics, collections_service, plan_service, receipts, event_bus, timeline, credit_control, way_to_pay)


def reset() -> None:
    config.reset()
    for builder in _BUILDERS:
        builder.cache_clear()
