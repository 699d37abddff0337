"""The composition root: one `Container` builds every adapter and use case on first use and keeps it for the life
of the Lambda container.

Nothing is built at import (packaging imports app.py with no AWS settings; tests start moto before the first
client), and each builder imports its module only when first called, so a cold start loads only what the
invocation needs; the types come from TYPE_CHECKING imports, so `mypy --strict` checks the whole wiring anyway.

Table binding is a step of its own, `bind_tables()`, taken by each way in (the app's middleware, the CLI, the
local stack, the tests' fixtures), never by a builder. Tests that need another dependency hand the container one
(`Container(clock=...)`, or assign a field before it is first read) and `use()` it; `reset()` starts afresh.
The module-level functions are the container's builders under the names the API calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from chalicelib import config

if TYPE_CHECKING:
    from boto3.session import Session
    from botocore.client import BaseClient

    from chalicelib.adapters.analytics import DynamoAnalytics
    from chalicelib.adapters.dunning import (
        AwsSender,
        DynamoClaims,
        DynamoDunningSettings,
        DynamoTasks,
        PowertoolsMetrics,
        SqsWorkQueue,
    )
    from chalicelib.adapters.dynamo import DynamoCustomers, DynamoImports, DynamoLedger
    from chalicelib.adapters.events_out import EventBridgeBus
    from chalicelib.adapters.mappings import S3MappingLoader
    from chalicelib.adapters.notify import SnsAlerts, WebhookSecrets
    from chalicelib.adapters.payments import DynamoPayments
    from chalicelib.adapters.queries import DynamoQueries
    from chalicelib.adapters.s3_files import S3FileStore
    from chalicelib.config import Settings
    from chalicelib.formats.messages import Seller
    from chalicelib.formats.reminders import ReminderRenderer
    from chalicelib.services.api_keys import ApiKeys
    from chalicelib.services.bounces import BounceHandler
    from chalicelib.services.collections import CollectionsService
    from chalicelib.services.credit import CreditControl
    from chalicelib.services.dashboard import Dashboard
    from chalicelib.services.digest import WeeklyDigest
    from chalicelib.services.dunning import DunningService
    from chalicelib.services.dunning_settings import DunningSettingsAdmin
    from chalicelib.services.forecast import CashForecast
    from chalicelib.services.ingest_file import IngestService
    from chalicelib.services.invoice_delivery import InvoiceDelivery
    from chalicelib.services.invoice_documents import InvoiceDocuments
    from chalicelib.services.letters import Letters
    from chalicelib.services.payments import PaymentService
    from chalicelib.services.plan_requests import PlanRequests
    from chalicelib.services.plans import PlanService
    from chalicelib.services.portal import Portal
    from chalicelib.services.portal_actions import PortalActions
    from chalicelib.services.portal_links import PortalLinks
    from chalicelib.services.portal_payments import PortalPayments
    from chalicelib.services.ports import (
        InvoiceChange,
        InvoiceProjection,
        OpenBalances,
        Sender,
        StreamChange,
        WorkItem,
    )
    from chalicelib.services.predictions import Predictions
    from chalicelib.services.receipts import PaymentReceipts
    from chalicelib.services.reports import ReportsService
    from chalicelib.services.sessions import Sessions, SignInThrottle
    from chalicelib.services.settings_admin import SettingsAdmin
    from chalicelib.services.settlement_log import SettlementLog
    from chalicelib.services.statement import Statements
    from chalicelib.services.statement_mail import MonthlyStatements, StatementPapers
    from chalicelib.services.task_closer import TaskCloser
    from chalicelib.services.tasks import TaskDesk
    from chalicelib.services.timeline import Timeline
    from chalicelib.services.way_to_pay import WayToPay
    from chalicelib.services.webhook_archive import WebhookArchive


_bound: Settings | None = None


def bind_tables(settings: Settings | None = None) -> None:
    """Point the PynamoDB models at this stage's tables and endpoint. Every way in calls it before it builds
    anything; it binds again only when the settings changed (a test's reset, the local stack's restart)."""
    global _bound
    settings = settings or config.settings()
    if _bound is settings:
        return
    from chalicelib.adapters.models import bind_tables as bind

    bind(settings)
    _bound = settings


class Container:
    """Every adapter and use case, each built on first read. A field assigned before its first read replaces
    what would be built (tests); `clock` is the plans' and collections' "now" (the real clock when None)."""

    def __init__(self, settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None) -> None:
        self._settings = settings
        self.clock = clock

    @cached_property
    def settings(self) -> Settings:
        return self._settings or config.settings()

    @cached_property
    def session(self) -> Session:
        import boto3

        return boto3.session.Session(region_name=self.settings.region)

    def client(self, service: str) -> BaseClient:
        return self.session.client(service, endpoint_url=self.settings.endpoint_url)

    @cached_property
    def s3_client(self) -> BaseClient:
        return self.client("s3")

    @cached_property
    def files(self) -> S3FileStore:
        from chalicelib.adapters.s3_files import S3FileStore

        return S3FileStore(self.s3_client, self.settings.inbox_bucket)

    @cached_property
    def ledger(self) -> DynamoLedger:
        from chalicelib.adapters.dynamo import DynamoLedger

        return DynamoLedger()

    @cached_property
    def customers(self) -> DynamoCustomers:
        from chalicelib.adapters.dynamo import DynamoCustomers

        return DynamoCustomers()

    @cached_property
    def imports(self) -> DynamoImports:
        from chalicelib.adapters.dynamo import DynamoImports

        return DynamoImports()

    @cached_property
    def queries(self) -> DynamoQueries:
        from chalicelib.adapters.queries import DynamoQueries

        return DynamoQueries()

    @cached_property
    def open_balances(self) -> OpenBalances:
        """Per-customer open balances for GET /customers. The analytics projection (an-core) answers in
        O(customers); until it is wired here, the invoices table's own indexes answer (adapters/queries.py
        IndexOpenBalances: the page's customers exactly, sorting by balance up to 10,000 open invoices)."""
        from chalicelib.adapters.queries import IndexOpenBalances

        return IndexOpenBalances(self.queries)

    @cached_property
    def api_keys(self) -> ApiKeys:
        from chalicelib.adapters.dynamo import DynamoApiKeys
        from chalicelib.services.api_keys import ApiKeys

        return ApiKeys(DynamoApiKeys())

    @cached_property
    def mappings_loader(self) -> S3MappingLoader:
        from chalicelib.adapters.mappings import S3MappingLoader

        return S3MappingLoader(self.files)

    @cached_property
    def ingest_service(self) -> IngestService:
        from chalicelib.adapters.dynamo import STORE_ERRORS
        from chalicelib.formats import parse_file
        from chalicelib.formats.bank import parse_bank_file
        from chalicelib.services.ingest_file import IngestService

        settings = self.settings
        return IngestService(
            self.files, self.imports, self.ledger, self.customers, parse_file, self.mappings_loader,
            max_bytes=settings.max_upload_bytes,
            lease=timedelta(seconds=settings.ingest_lease_seconds),
            stale_after=timedelta(minutes=settings.stale_inbox_minutes),
            parse_bank=parse_bank_file, payments=self.payment_service,
            earliest_step_offset=self.settings_admin.earliest_step_offset,
            credit_check=self.credit_control.check_limits, store_errors=STORE_ERRORS, metrics=self.metrics,
        )

    @cached_property
    def webhook_secrets(self) -> WebhookSecrets:
        from chalicelib.adapters.notify import WebhookSecrets

        return WebhookSecrets(self.settings)

    @cached_property
    def webhook_archive(self) -> WebhookArchive:
        from chalicelib.services.webhook_archive import WebhookArchive

        return WebhookArchive(self.files)

    @cached_property
    def payment_store(self) -> DynamoPayments:
        from chalicelib.adapters.payments import DynamoPayments

        return DynamoPayments()

    @cached_property
    def payment_service(self) -> PaymentService:
        from chalicelib.adapters.payments import DynamoProviderEvents
        from chalicelib.adapters.plans import DynamoPlans
        from chalicelib.services.payments import PaymentService

        return PaymentService(self.payment_store, DynamoProviderEvents(), self.ledger, self.customers, self.alerts,
                              plans=DynamoPlans(), tasks=self.tasks, metrics=self.metrics)

    @cached_property
    def claims(self) -> DynamoClaims:
        from chalicelib.adapters.dunning import DynamoClaims

        return DynamoClaims()

    @cached_property
    def receipts(self) -> PaymentReceipts:
        from chalicelib.formats.receipts import render_receipt_email
        from chalicelib.services.receipts import PaymentReceipts

        return PaymentReceipts(self.customers, render_receipt_email, self.sender, self.metrics, self.seller,
                               self.claims, portal_link=self.portal_links.for_message)

    @cached_property
    def settings_admin(self) -> SettingsAdmin:
        from chalicelib.adapters.dynamo import DynamoPolicies
        from chalicelib.services.settings_admin import SettingsAdmin

        return SettingsAdmin(DynamoPolicies(), self.customers, invoices=self.ledger)

    @cached_property
    def task_closer(self) -> TaskCloser:
        from chalicelib.services.task_closer import TaskCloser

        return TaskCloser(self.tasks)

    @cached_property
    def task_desk(self) -> TaskDesk:
        from chalicelib.services.tasks import TaskDesk

        return TaskDesk(self.tasks, self.ledger, self.customers)

    @cached_property
    def tasks(self) -> DynamoTasks:
        from chalicelib.adapters.dunning import DynamoTasks

        return DynamoTasks()

    @cached_property
    def dunning_settings(self) -> DynamoDunningSettings:
        from chalicelib.adapters.dunning import DynamoDunningSettings

        return DynamoDunningSettings()

    @cached_property
    def dunning_settings_admin(self) -> DunningSettingsAdmin:
        from chalicelib.services.dunning_settings import DunningSettingsAdmin

        return DunningSettingsAdmin(self.dunning_settings)

    @cached_property
    def alerts(self) -> SnsAlerts:
        from chalicelib.adapters.notify import SnsAlerts

        return SnsAlerts(self.client("sns"), self.settings.finance_alerts_topic)

    @cached_property
    def sender(self) -> Sender:
        return self.build_sender(self.client("sesv2"), self.client("sns"))

    def build_sender(self, ses: Any, sns: Any, **clock: Any) -> AwsSender:
        from chalicelib.adapters.dunning import AwsSender

        settings = self.settings
        return AwsSender(ses, sns, settings.sender_email, settings.seller_name, settings.ses_configuration_set,
                         settings.ses_max_send_rate, **clock)

    @property
    def seller(self) -> Seller:
        from chalicelib.formats.messages import Seller

        settings = self.settings
        return Seller(settings.seller_name, settings.sender_email, settings.seller_phone, settings.seller_iban,
                      settings.seller_bic, settings.seller_address)

    @cached_property
    def invoice_documents(self) -> InvoiceDocuments:
        from chalicelib.formats.invoice_pdf import InvoicePdfRenderer
        from chalicelib.services.invoice_documents import InvoiceDocuments

        return InvoiceDocuments(self.files, self.ledger, self.customers,
                                InvoicePdfRenderer(self.seller, self.settings.pay_url_template))

    def renderer(self) -> ReminderRenderer:
        from chalicelib.formats.reminders import ReminderRenderer

        return ReminderRenderer(self.seller, self.settings.pay_url_template)

    @cached_property
    def way_to_pay(self) -> WayToPay:
        from chalicelib.services.way_to_pay import WayToPay

        settings = self.settings
        return WayToPay(settings.no_way_to_pay, self.alerts, self.metrics, settings.stage)

    @cached_property
    def metrics(self) -> PowertoolsMetrics:
        from chalicelib.adapters.dunning import PowertoolsMetrics

        return PowertoolsMetrics("Dunwell", "dunwell")

    @cached_property
    def dunning_service(self) -> DunningService:
        return self.build_dunning_service(self.sender)

    def build_dunning_service(self, reminder_sender: Sender,
                              clock: Callable[[], datetime] | None = None) -> DunningService:
        from chalicelib.adapters.dunning import DynamoDueInvoices, DynamoHistory
        from chalicelib.services.dunning import DunningService

        return DunningService(
            DynamoDueInvoices(), self.ledger, self.customers, self.settings_admin.policy_cached,
            self.dunning_settings.cached, self.claims, reminder_sender,
            self.renderer(), self.tasks, self.alerts, self.metrics, self.files, DynamoHistory(), clock=clock,
            refusal=self.way_to_pay.refusal, risk_band=self.risk_band, documents=self.invoice_documents,
            portal_link=self.portal_links.for_message, letters=self.letters)

    def risk_band(self, customer_id: str, as_of: date) -> str:
        """A customer's risk band (the dunning service asks only where policy_by_risk is set)."""
        return self.settlement_log.risk_of(customer_id, as_of).band

    @cached_property
    def dunning_queue(self) -> SqsWorkQueue | None:
        if not self.settings.dunning_queue_url:
            return None
        from chalicelib.adapters.dunning import SqsWorkQueue

        return SqsWorkQueue(self.client("sqs"), self.settings.dunning_queue_url)

    @cached_property
    def event_bus(self) -> EventBridgeBus | None:
        if not self.settings.event_bus_name:
            return None
        from chalicelib.adapters.events_out import EventBridgeBus

        return EventBridgeBus(self.client("events"), self.settings.event_bus_name)

    @cached_property
    def timeline(self) -> Timeline:
        from chalicelib.adapters.timeline import DynamoEventLog, DynamoSubjects
        from chalicelib.services.timeline import Timeline

        return Timeline(DynamoEventLog(), DynamoSubjects())

    @cached_property
    def credit_control(self) -> CreditControl:
        from chalicelib.services.credit import CreditControl

        return CreditControl(self.customers, self.queries, metrics=self.metrics)

    @cached_property
    def bounce_handler(self) -> BounceHandler:
        from chalicelib.services.bounces import BounceHandler

        return BounceHandler(self.customers, self.tasks, self.alerts, self.metrics,
                             deliveries=lambda: self.invoice_delivery)

    @cached_property
    def collections_service(self) -> CollectionsService:
        from chalicelib.adapters.collections import DynamoDisputes
        from chalicelib.services.collections import CollectionsService

        return CollectionsService(self.ledger, DynamoDisputes(),
                                  write_off_collector_limit=self.settings.write_off_collector_limit,
                                  clock=self.clock, metrics=self.metrics)

    @cached_property
    def plan_service(self) -> PlanService:
        from chalicelib.adapters.plans import DynamoPlans
        from chalicelib.services.plans import PlanService

        return PlanService(DynamoPlans(), self.ledger, self.customers, self.settings_admin.policy_cached,
                           self.claims, self.sender, self.renderer(), self.tasks, self.alerts,
                           settings=self.dunning_settings.cached, refusal=self.way_to_pay.refusal, clock=self.clock,
                           portal_link=self.portal_links.for_message)

    @cached_property
    def settlement_log(self) -> SettlementLog:
        from chalicelib.adapters.settlements import DynamoSettlements
        from chalicelib.services.settlement_log import SettlementLog

        return SettlementLog(DynamoSettlements())

    @cached_property
    def predictions(self) -> Predictions:
        from chalicelib.adapters.settlements import DynamoSettlements
        from chalicelib.services.ports import utc_now
        from chalicelib.services.predictions import Predictions

        clock = self.clock or utc_now
        return Predictions(self.queries, DynamoSettlements(), today=lambda: clock().date())

    @cached_property
    def cash_forecast(self) -> CashForecast:
        from chalicelib.adapters.plans import DynamoPlans
        from chalicelib.adapters.settlements import DynamoForecasts, DynamoReceipts
        from chalicelib.services.forecast import CashForecast
        from chalicelib.services.ports import utc_now

        clock = self.clock or utc_now
        return CashForecast(self.predictions, DynamoPlans(), DynamoForecasts(), DynamoReceipts(),
                            today=lambda: clock().date())

    @cached_property
    def analytics(self) -> DynamoAnalytics:
        from datetime import UTC

        from chalicelib.adapters.analytics import DynamoAnalytics
        from chalicelib.services.ports import utc_now

        clock = self.clock or utc_now
        return DynamoAnalytics(self.client("dynamodb"), today=lambda: clock().astimezone(UTC).date())

    @cached_property
    def invoice_projections(self) -> list[InvoiceProjection]:
        """What the invoices table's stream feeds, in order (each idempotent on its own; delivery last: it sends)."""
        return [self.analytics, self.settlement_log, self.invoice_delivery]

    @cached_property
    def reports(self) -> ReportsService:
        from chalicelib.services.reports import ReportsService

        return ReportsService(self.analytics, self.customers, clock=self.clock)

    def now(self) -> datetime:
        from chalicelib.services.ports import utc_now

        return (self.clock or utc_now)()

    def seller_today(self) -> date:
        """Today in the seller's time zone (SELLER_TIMEZONE): the dashboard's default `as_of`."""
        from zoneinfo import ZoneInfo

        return self.now().astimezone(ZoneInfo(self.settings.seller_timezone)).date()

    @cached_property
    def sessions(self) -> Sessions:
        from chalicelib.services.sessions import Sessions, derive_key

        return Sessions(self.api_keys, lambda: derive_key(cursor_signing_secret()), clock=self.clock)

    @cached_property
    def signin_throttle(self) -> SignInThrottle:
        from chalicelib.services.sessions import SignInThrottle

        return SignInThrottle()

    @cached_property
    def dashboard(self) -> Dashboard:
        """The dashboard's figures, from the same use cases as the report routes."""
        from chalicelib.adapters.collections import DynamoDisputes
        from chalicelib.services.dashboard import Dashboard, DisputeAges
        from chalicelib.services.dashboard_sources import (
            ForecastAgainstActuals,
            OverdueWithRisk,
            ReportAging,
            ReportMonths,
        )

        return Dashboard(aging=ReportAging(self.reports), metrics=ReportMonths(self.reports),
                         forecast=ForecastAgainstActuals(self.cash_forecast),
                         overdue=OverdueWithRisk(self.reports, self.customers.get_customers,
                                                 self.settlement_log.risk_of),
                         disputes=DisputeAges(DynamoDisputes(), self.seller_today))

    @cached_property
    def weekly_digest(self) -> WeeklyDigest:
        from chalicelib.formats.dashboard import render_digest
        from chalicelib.services.digest import WeeklyDigest
        from chalicelib.services.ports import DashboardFigures

        settings = self.settings

        def render(figures: DashboardFigures) -> Any:
            return render_digest(figures, seller_name=settings.seller_name, dashboard_url=settings.dashboard_url)

        return WeeklyDigest(self.dashboard, render, self.sender, self.claims, self.metrics,
                            recipients=settings.digest_recipients, timezone=settings.seller_timezone,
                            currency=settings.reporting_currency, clock=self.now)

    @cached_property
    def invoice_delivery(self) -> InvoiceDelivery:
        from chalicelib.formats.invoice_mail import render_invoice_mail
        from chalicelib.services.invoice_delivery import InvoiceDelivery

        return InvoiceDelivery(self.customers, self.ledger, self.invoice_documents, render_invoice_mail, self.sender,
                               self.claims, self.metrics, self.seller)

    @cached_property
    def letters(self) -> Letters:
        from chalicelib.adapters.letters import DynamoLetters
        from chalicelib.adapters.timeline import DynamoEventLog
        from chalicelib.formats.letter_pdf import render_letter_pdf
        from chalicelib.services.letters import Letters

        return Letters(DynamoLetters(), self.files, DynamoEventLog(), render_letter_pdf, self.seller, self.metrics,
                       clock=self.clock)

    @cached_property
    def statement_papers(self) -> StatementPapers:
        from chalicelib.formats.statement_pdf import render_statement_pdf
        from chalicelib.services.statement_mail import StatementPapers

        return StatementPapers(self.statements, render_statement_pdf, self.seller)

    @cached_property
    def monthly_statements(self) -> MonthlyStatements:
        from chalicelib.adapters.letters import DynamoStatementRecipients
        from chalicelib.adapters.timeline import DynamoEventLog
        from chalicelib.formats.statement_mail import render_statement_mail
        from chalicelib.services.statement_mail import MonthlyStatements

        return MonthlyStatements(DynamoStatementRecipients(), self.statement_papers, render_statement_mail,
                                 self.sender, self.claims, DynamoEventLog(), self.metrics,
                                 seller_timezone=self.settings.seller_timezone, clock=self.clock)

    @cached_property
    def statements(self) -> Statements:
        """The statement of account (the portal's statement page, the statement PDF)."""
        from chalicelib.adapters.portal import DynamoStatementReader
        from chalicelib.services.statement import Statements

        return Statements(DynamoStatementReader())

    @cached_property
    def portal_links(self) -> PortalLinks:
        """Personal portal links (issue 13 item 1): links under PUBLIC_BASE_URL, stored hashed, revocable."""
        from chalicelib.adapters.portal_links import DynamoLinkStore, DynamoRateLimiter
        from chalicelib.adapters.timeline import DynamoEventLog
        from chalicelib.formats.portal_links import render_portal_link_email
        from chalicelib.services.portal_links import PortalLinks

        settings = self.settings
        return PortalLinks(DynamoLinkStore(), DynamoRateLimiter(), self.customers, self.claims, self.sender,
                           render_portal_link_email, DynamoEventLog(), self.metrics,
                           base_url=settings.public_base_url, seller=self.seller, days=settings.portal_link_days)

    @cached_property
    def plan_requests(self) -> PlanRequests:
        from chalicelib.adapters.plan_requests import DynamoPlanRequests
        from chalicelib.formats.plan_request_mail import PlanRequestMailRenderer
        from chalicelib.services.plan_requests import PlanRequests

        return PlanRequests(DynamoPlanRequests(), self.ledger, self.customers, self.plan_service, self.tasks,
                            self.claims, self.sender, PlanRequestMailRenderer(self.seller), clock=self.clock)

    @cached_property
    def portal_actions(self) -> PortalActions:
        from chalicelib.services.portal_actions import PortalActions

        return PortalActions(self.ledger, self.collections_service, lambda: self.plan_requests)

    @cached_property
    def portal_payments(self) -> PortalPayments:
        """The portal's pay options (bank transfer, EPC QR) and card checkout (Stripe, where a key is set)."""
        from chalicelib.adapters.stripe_checkout import StripeCheckout
        from chalicelib.services.portal_payments import PortalPayments

        settings = self.settings
        return PortalPayments(settings.seller_name, settings.seller_iban, settings.seller_bic,
                              card=StripeCheckout(settings))

    @cached_property
    def portal(self) -> Portal:
        """The customer portal's sessions and pages (issue 13): links, statement, invoices, actions, paying."""
        from chalicelib.adapters.portal import DynamoPortalReads
        from chalicelib.adapters.portal_links import DynamoRateLimiter
        from chalicelib.adapters.timeline import DynamoEventLog
        from chalicelib.services.portal import GenerationGate, Portal, PortalSessions, derive_key

        return Portal(PortalSessions(lambda: derive_key(cursor_signing_secret())), self.portal_links,
                      GenerationGate(DynamoPortalReads()), self.statements, self.ledger, DynamoEventLog(),
                      self.invoice_documents, actions=self.portal_actions, payments=self.portal_payments,
                      limiter=DynamoRateLimiter(),
                      seller_timezone=self.settings.seller_timezone)


_current: Container | None = None


def container() -> Container:
    global _current
    if _current is None:
        _current = Container()
    return _current


def use(replacement: Container) -> None:
    """Serve every builder from `replacement` until the next reset() (tests, the benches' simulations)."""
    global _current
    _current = replacement


def reset() -> None:
    """Forget the settings and everything built from them: the next builder starts a new container."""
    global _current
    config.reset()
    _current = None


def files() -> S3FileStore:
    return container().files


def ledger() -> DynamoLedger:
    return container().ledger


def customers() -> DynamoCustomers:
    return container().customers


def imports() -> DynamoImports:
    return container().imports


def queries() -> DynamoQueries:
    return container().queries


def open_balances() -> OpenBalances:
    return container().open_balances


def api_keys() -> ApiKeys:
    return container().api_keys


def mappings_loader() -> S3MappingLoader:
    return container().mappings_loader


def ingest_service() -> IngestService:
    return container().ingest_service


def invoice_documents() -> InvoiceDocuments:
    return container().invoice_documents


def webhook_secrets() -> WebhookSecrets:
    return container().webhook_secrets


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


def webhook_archive() -> WebhookArchive:
    return container().webhook_archive


def payment_store() -> DynamoPayments:
    return container().payment_store


def payment_service() -> PaymentService:
    return container().payment_service


def receipts() -> PaymentReceipts:
    return container().receipts


def settings_admin() -> SettingsAdmin:
    return container().settings_admin


def task_closer() -> TaskCloser:
    return container().task_closer


def task_desk() -> TaskDesk:
    return container().task_desk


def tasks() -> DynamoTasks:
    return container().tasks


def dunning_settings() -> DynamoDunningSettings:
    return container().dunning_settings


def dunning_settings_admin() -> DunningSettingsAdmin:
    return container().dunning_settings_admin


def alerts() -> SnsAlerts:
    return container().alerts


def sender() -> Sender:
    return container().sender


def build_sender(ses: Any, sns: Any, **clock: Any) -> AwsSender:
    """The sender as deployed, over the given SES and SNS clients (bench/scale.py passes simulated ones and a fake
    clock: `clock` and `sleep`)."""
    return container().build_sender(ses, sns, **clock)


def seller() -> Seller:
    return container().seller


def way_to_pay() -> WayToPay:
    return container().way_to_pay


def metrics() -> PowertoolsMetrics:
    return container().metrics


def dunning_service() -> DunningService:
    return container().dunning_service


def build_dunning_service(reminder_sender: Sender,
                          clock: Callable[[], datetime] | None = None) -> DunningService:
    """The dunning service as deployed, sending through `reminder_sender`: one per Lambda container, so
    bench/scale.py builds one per simulated worker (each with its own sender's pacing) on a fake clock."""
    return container().build_dunning_service(reminder_sender, clock)


def dunning_queue() -> SqsWorkQueue | None:
    """The reminder workers' queue; None where none is configured (then the sweep works in its own process)."""
    return container().dunning_queue


def decode_work(body: str) -> WorkItem:
    from chalicelib.adapters.dunning import decode_work as decode

    return decode(body)


def event_bus() -> EventBridgeBus | None:
    """Where events go out; None where no bus is configured (they are still in the audit trail)."""
    return container().event_bus


def decode_stream_records(records: Sequence[Mapping[str, Any]]) -> list[StreamChange]:
    from chalicelib.adapters.events_out import decode_stream_records as decode

    return decode(records)


def timeline() -> Timeline:
    return container().timeline


def credit_control() -> CreditControl:
    return container().credit_control


def bounce_handler() -> BounceHandler:
    return container().bounce_handler


def collections_service() -> CollectionsService:
    return container().collections_service


def plan_service() -> PlanService:
    return container().plan_service


def settlement_log() -> SettlementLog:
    return container().settlement_log


def cash_forecast() -> CashForecast:
    return container().cash_forecast


def predictions() -> Predictions:
    return container().predictions


def analytics() -> DynamoAnalytics:
    return container().analytics


def invoice_projections() -> list[InvoiceProjection]:
    return container().invoice_projections


def decode_invoice_records(records: Sequence[Mapping[str, Any]]) -> list[InvoiceChange]:
    from chalicelib.adapters.analytics import decode_invoice_records as decode

    return decode(records)


def reports() -> ReportsService:
    return container().reports
def sessions() -> Sessions:
    return container().sessions


def signin_throttle() -> SignInThrottle:
    return container().signin_throttle


def dashboard() -> Dashboard:
    return container().dashboard


def weekly_digest() -> WeeklyDigest:
    return container().weekly_digest


def statements() -> Statements:
    return container().statements


def portal_links() -> PortalLinks:
    return container().portal_links


def portal_payments() -> PortalPayments:
    return container().portal_payments


KEPT_ACROSS_RESET = (_process_cursor_secret,)


def letters() -> Letters:
    return container().letters


def plan_requests() -> PlanRequests:
    return container().plan_requests


def portal_actions() -> PortalActions:
    return container().portal_actions


def statement_papers() -> StatementPapers:
    return container().statement_papers


def monthly_statements() -> MonthlyStatements:
    return container().monthly_statements


def portal() -> Portal:
    return container().portal
