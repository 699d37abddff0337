"""Settings, read from the environment once: the only module that reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from chalicelib.domain.payment_details import (
    InvalidPaymentDetail,
    check_pay_url_template,
    normalise_bic,
    normalise_iban,
    way_to_pay_missing,
)


class ConfigError(ValueError):
    """A setting that cannot work; the message starts with the variable's name so the fix is obvious."""


def _checked(env: dict[str, str], name: str, check: Callable[[str], str]) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    try:
        return check(value)
    except InvalidPaymentDetail as exc:
        raise ConfigError(f"{name}={value!r}: {exc}") from None


def _timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"SELLER_TIMEZONE={name!r}: not an IANA time zone such as Europe/Berlin") from None
    return name.strip()


def _base_url(value: str) -> str | None:
    from urllib.parse import urlsplit

    if not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"PUBLIC_BASE_URL={value!r}: not an absolute http(s) URL such as "
                          "https://abc.execute-api.eu-west-1.amazonaws.com/api")
    return value.strip().rstrip("/")


def _positive_int(env: dict[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) <= 3650:
        raise ConfigError(f"{name}={raw!r}: a whole number of days from 1 to 3650")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    endpoint_url: str | None
    invoices_table: str
    credit_notes_table: str
    customers_table: str
    imports_table: str
    events_table: str
    api_keys_table: str
    payments_table: str
    provider_events_table: str
    policies_table: str
    dunning_messages_table: str
    tasks_table: str
    disputes_table: str
    payment_plans_table: str
    plan_requests_table: str
    predictions_table: str
    analytics_table: str
    webhook_secrets_arn: str | None
    finance_alerts_topic: str | None
    cursor_signing_key: str | None
    cursor_signing_key_arn: str | None
    running_in_lambda: bool
    inbox_bucket: str
    max_upload_bytes: int
    ingest_lease_seconds: int
    stale_inbox_minutes: int
    sender_email: str
    seller_name: str
    seller_phone: str | None
    seller_iban: str | None
    seller_bic: str | None
    seller_address: tuple[str, ...]
    pay_url_template: str | None
    ses_configuration_set: str | None
    allow_simulated_clock: bool
    write_off_collector_limit: Decimal
    dunning_queue_url: str | None
    event_bus_name: str | None
    ses_max_send_rate: float | None
    adyen_manual_capture_accounts: frozenset[str] = frozenset()
    # The dashboard's default currency and the weekly digest's (REPORTING_CURRENCY), the seller's time zone for the
    # digest's Monday morning (SELLER_TIMEZONE), who gets it (DIGEST_RECIPIENTS, comma-separated; none: no digest)
    # and the dashboard's public address the digest links to (DASHBOARD_URL, optional).
    reporting_currency: str = "EUR"
    seller_timezone: str = "UTC"
    digest_recipients: tuple[str, ...] = ()
    dashboard_url: str | None = None
    # Letters for the post (LETTERS_TABLE; services/letters.py).
    letters_table: str = "dunwell-local-letters"
    # Card payments from the portal (services/portal_payments.py): the Stripe secret key comes from STRIPE_SECRET_KEY
    # locally and in tests (read through `environment`, never kept in a field), else on AWS from the Secrets Manager
    # secret STRIPE_SECRET_KEY_ARN ({"secret_key": "sk_..."}, cached 5 minutes like the webhook secrets). Neither:
    # the portal offers the bank transfer only.
    stripe_secret_key_arn: str | None = None
    # The variables as read, where a processor's secret variable is looked up when its webhook first needs it:
    # which variables exist is the processor registry's to say, and loading it here would cost every function's
    # cold start. Out of repr and comparisons: it holds secrets.
    environment: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # Personal portal links (services/portal_links.py): their table, the API's public base URL the links live under
    # (PUBLIC_BASE_URL; unset: messages carry no link), and how many days a link stays valid (PORTAL_LINK_DAYS).
    portal_links_table: str = "dunwell-local-portal-links"
    public_base_url: str | None = None
    portal_link_days: int = 45

    @property
    def no_way_to_pay(self) -> str | None:
        """Why this stage may send no reminder (neither an IBAN nor a pay link), or None."""
        return way_to_pay_missing(self.seller_iban, self.pay_url_template)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        prefix = e.get("DUNWELL_RESOURCE_PREFIX", f"dunwell-{e.get('DUNWELL_STAGE', 'local')}")

        def table(var: str, suffix: str) -> str:
            return e.get(var) or f"{prefix}-{suffix}"

        return cls(
            stage=e.get("DUNWELL_STAGE", "local"),
            region=e.get("AWS_DEFAULT_REGION") or e.get("AWS_REGION") or "eu-west-1",
            endpoint_url=e.get("AWS_ENDPOINT_URL") or None,
            invoices_table=table("INVOICES_TABLE", "invoices"),
            credit_notes_table=table("CREDIT_NOTES_TABLE", "credit-notes"),
            customers_table=table("CUSTOMERS_TABLE", "customers"),
            imports_table=table("IMPORTS_TABLE", "imports"),
            events_table=table("EVENTS_TABLE", "events"),
            api_keys_table=table("API_KEYS_TABLE", "api-keys"),
            payments_table=table("PAYMENTS_TABLE", "payments"),
            provider_events_table=table("PROVIDER_EVENTS_TABLE", "provider-events"),
            policies_table=table("POLICIES_TABLE", "policies"),
            dunning_messages_table=table("DUNNING_MESSAGES_TABLE", "dunning-messages"),
            tasks_table=table("TASKS_TABLE", "tasks"),
            disputes_table=table("DISPUTES_TABLE", "disputes"),
            payment_plans_table=table("PAYMENT_PLANS_TABLE", "payment-plans"),
            plan_requests_table=table("PLAN_REQUESTS_TABLE", "plan-requests"),
            predictions_table=table("PREDICTIONS_TABLE", "predictions"),
            analytics_table=table("ANALYTICS_TABLE", "analytics"),
            webhook_secrets_arn=e.get("WEBHOOK_SECRETS_ARN") or None,
            finance_alerts_topic=e.get("FINANCE_ALERTS_TOPIC") or None,
            # The key list cursors (`next_cursor`) are signed with: CURSOR_SIGNING_KEY where set, else in AWS the
            # Secrets Manager secret CURSOR_SIGNING_KEY_ARN (the API function's only); with neither, outside
            # Lambda, a random key per process (chalicelib/bootstrap.py).
            cursor_signing_key=e.get("CURSOR_SIGNING_KEY") or None,
            cursor_signing_key_arn=e.get("CURSOR_SIGNING_KEY_ARN") or None,
            running_in_lambda=bool(e.get("AWS_LAMBDA_FUNCTION_NAME")),
            inbox_bucket=e.get("INBOX_BUCKET") or f"{prefix}-inbox",
            max_upload_bytes=int(e.get("DUNWELL_MAX_UPLOAD_BYTES", str(512 * 1024 * 1024))),
            ingest_lease_seconds=int(e.get("DUNWELL_INGEST_LEASE_SECONDS", "900")),
            stale_inbox_minutes=int(e.get("DUNWELL_STALE_INBOX_MINUTES", "20")),
            # The local stack sets DUNWELL_MAIL_FROM (a sender it verified in moto); AWS, SENDER_EMAIL.
            sender_email=e.get("DUNWELL_MAIL_FROM") or e.get("SENDER_EMAIL") or "accounts@example.com",
            seller_name=e.get("SELLER_NAME") or "Accounts receivable",
            seller_phone=e.get("SELLER_PHONE") or None,
            # Checked here, where every function reads its settings first: a mistyped IBAN stops the stage at its
            # first invocation (and `make run` at start) instead of being printed under every reminder.
            seller_iban=_checked(e, "SELLER_IBAN", normalise_iban),
            seller_bic=_checked(e, "SELLER_BIC", normalise_bic),
            seller_address=tuple(line.strip() for line in (e.get("SELLER_ADDRESS") or "").split("|") if line.strip()),
            pay_url_template=_checked(e, "PAY_URL_TEMPLATE", check_pay_url_template),
            ses_configuration_set=e.get("SES_CONFIGURATION_SET") or None,
            # A simulated clock (POST /dunning/runs with as_of) is for the local stack and tests, never production.
            allow_simulated_clock=e.get("DUNWELL_ALLOW_SIMULATED_CLOCK", "").lower() == "true"
            and e.get("DUNWELL_STAGE", "local") != "prod",
            # Collectors may write off up to this much per invoice (in its currency's units); admins above it.
            write_off_collector_limit=Decimal(e.get("WRITE_OFF_COLLECTOR_LIMIT") or "500.00"),
            dunning_queue_url=e.get("DUNNING_QUEUE_URL") or None,
            event_bus_name=e.get("EVENT_BUS_NAME") or None,
            ses_max_send_rate=float(e["SES_MAX_SEND_RATE"]) if e.get("SES_MAX_SEND_RATE") else None,
            # Adyen merchant accounts set to manual capture (comma-separated): there CAPTURE is the payment; on every
            # other account, Adyen's default automatic capture, a successful AUTHORISATION is.
            adyen_manual_capture_accounts=frozenset(
                a.strip() for a in (e.get("ADYEN_MANUAL_CAPTURE_ACCOUNTS") or "").split(",") if a.strip()),
            reporting_currency=(e.get("REPORTING_CURRENCY") or "EUR").strip().upper(),
            seller_timezone=_timezone(e.get("SELLER_TIMEZONE") or "UTC"),
            digest_recipients=tuple(dict.fromkeys(
                a.strip() for a in (e.get("DIGEST_RECIPIENTS") or "").split(",") if a.strip())),
            dashboard_url=e.get("DASHBOARD_URL") or None,
            letters_table=table("LETTERS_TABLE", "letters"),
            stripe_secret_key_arn=e.get("STRIPE_SECRET_KEY_ARN") or None,
            environment=e,
            portal_links_table=table("PORTAL_LINKS_TABLE", "portal-links"),
            public_base_url=_base_url(e.get("PUBLIC_BASE_URL") or ""),
            portal_link_days=_positive_int(e, "PORTAL_LINK_DAYS", 45),
        )

    @property
    def webhook_secrets_env(self) -> dict[str, str]:
        """Local development and tests: each processor's secrets straight from the variable its module names
        (comma-separated during a rotation). In AWS they come from Secrets Manager (WEBHOOK_SECRETS_ARN)."""
        from chalicelib.formats.processors.registry import processors

        return {name: self.environment[p.variable] for name, p in processors().items()
                if self.environment.get(p.variable)}


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


def reset() -> None:
    settings.cache_clear()
