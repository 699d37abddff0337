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
    )


@cache
def webhook_secrets() -> Any:
    from chalicelib.adapters.notify import WebhookSecrets

    return WebhookSecrets(config.settings())


@cache
def payment_store() -> Any:
    _session()
    from chalicelib.adapters.payments import DynamoPayments

    return DynamoPayments()


@cache
def payment_service() -> Any:
    _session()
    from chalicelib.adapters.payments import DynamoProviderEvents
    from chalicelib.services.payments import PaymentService

    return PaymentService(payment_store(), DynamoProviderEvents(), ledger(), customers(), alerts())


@cache
def settings_admin() -> Any:
    _session()
    from chalicelib.adapters.dynamo import DynamoPolicies
    from chalicelib.services.settings_admin import SettingsAdmin

    return SettingsAdmin(DynamoPolicies(), customers(), invoices=ledger())


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
def dunning_service() -> Any:
    _session()
    from chalicelib.adapters.dunning import AwsSender, DynamoClaims, DynamoDueInvoices, DynamoHistory, PowertoolsMetrics
    from chalicelib.formats.messages import Seller
    from chalicelib.formats.reminders import ReminderRenderer
    from chalicelib.services.dunning import DunningService

    settings = config.settings()
    session = _session()
    sender = AwsSender(session.client("sesv2", endpoint_url=settings.endpoint_url),
                       session.client("sns", endpoint_url=settings.endpoint_url),
                       settings.sender_email, settings.seller_name, settings.ses_configuration_set)
    seller = Seller(settings.seller_name, settings.sender_email, settings.seller_phone, settings.seller_iban,
                    settings.seller_bic, settings.seller_address)
    return DunningService(
        DynamoDueInvoices(), ledger(), customers(), settings_admin().policy_cached, dunning_settings().get,
        DynamoClaims(), sender, ReminderRenderer(seller, settings.pay_url_template), tasks(), alerts(),
        PowertoolsMetrics("Dunwell", "dunwell"), files(), DynamoHistory())


@cache
def bounce_handler() -> Any:
    from chalicelib.adapters.dunning import PowertoolsMetrics
    from chalicelib.services.bounces import BounceHandler

    return BounceHandler(customers(), tasks(), alerts(), PowertoolsMetrics("Dunwell", "dunwell"))


_BUILDERS = (_session, s3_client, files, ledger, customers, imports, queries, api_keys, mappings_loader,
             ingest_service, webhook_secrets, payment_store, payment_service, settings_admin, tasks,
             dunning_settings, alerts, dunning_service, bounce_handler)


def reset() -> None:
    config.reset()
    for builder in _BUILDERS:
        builder.cache_clear()
