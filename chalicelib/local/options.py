"""The local stack's settings, read from the environment once (the README lists every variable)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]

DEFAULT_API_PORT = 8000
DEFAULT_AWS_PORT = 5111
DEFAULT_REGION = "eu-west-1"
DEFAULT_STACK_NAME = "dunwell-local"
DEFAULT_MAIL_FROM = "collections@dunwell.local"


def webhook_secret_defaults() -> dict[str, tuple[str, str]]:
    """Local-only webhook secrets by processor, as (variable, value): each processor's module declares its own,
    documented in the README so scripts can sign test webhooks. Never used in AWS."""
    from chalicelib.formats.processors.registry import processors

    return {name: (p.variable, p.local_default) for name, p in processors().items()}


# A seller that is obviously not real, so the mail `make run` writes shows bank details as a deployed stage's
# would: the IBAN is the standard documentation example (valid check digits, no one's account), its BIC the one
# published with it. Each variable set in the environment wins; set to empty, it is unset (SELLER_IBAN= with no
# PAY_URL_TEMPLATE shows how a stage without a way to pay refuses to send reminders).
DEMO_SELLER = {
    "SELLER_NAME": "Demo Seller GmbH (fictional)",
    "SELLER_ADDRESS": "Beispielstraße 1|10115 Berlin|Germany (fictional address)",
    "SELLER_PHONE": "",
    "SELLER_IBAN": "DE89 3704 0044 0532 0130 00",
    "SELLER_BIC": "COBADEFFXXX",
    "PAY_URL_TEMPLATE": "",
}


@dataclass(frozen=True)
class LocalOptions:
    project_dir: Path = PROJECT_DIR
    home: Path = field(default_factory=Path.cwd)  # `.dunwell/` is created here
    template: Path = PROJECT_DIR / "infra" / "resources.yaml"
    endpoint_url: str | None = None  # an AWS endpoint to use instead of starting moto
    host: str = "127.0.0.1"
    aws_port: int = DEFAULT_AWS_PORT
    api_port: int = DEFAULT_API_PORT
    region: str = DEFAULT_REGION
    stack_name: str = DEFAULT_STACK_NAME
    stage: str = "local"
    mail_from: str = DEFAULT_MAIL_FROM
    webhook_secrets: Mapping[str, str] = field(
        default_factory=lambda: {name: default for name, (_, default) in webhook_secret_defaults().items()}
    )
    seller: Mapping[str, str] = field(default_factory=lambda: dict(DEMO_SELLER))
    schedules_at_start: bool = False
    schedule_speedup: float = 1.0
    outbox_interval_seconds: float = 1.0

    @property
    def state_dir(self) -> Path:
        return self.home / ".dunwell"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LocalOptions:
        e = os.environ if env is None else env
        project_dir = Path(e.get("DUNWELL_PROJECT_DIR") or PROJECT_DIR).resolve()
        seller = {name: e.get(name, default) for name, default in DEMO_SELLER.items()}
        _check_seller(seller)
        return cls(
            project_dir=project_dir,
            home=Path(e.get("DUNWELL_HOME") or Path.cwd()).resolve(),
            template=Path(e.get("DUNWELL_RESOURCES_TEMPLATE") or project_dir / "infra" / "resources.yaml"),
            endpoint_url=e.get("AWS_ENDPOINT_URL") or None,
            aws_port=_port(e, "DUNWELL_AWS_PORT", DEFAULT_AWS_PORT),
            api_port=_port(e, "DUNWELL_API_PORT", DEFAULT_API_PORT),
            region=e.get("AWS_DEFAULT_REGION") or e.get("AWS_REGION") or DEFAULT_REGION,
            stack_name=e.get("DUNWELL_LOCAL_STACK_NAME") or DEFAULT_STACK_NAME,
            mail_from=e.get("DUNWELL_MAIL_FROM") or DEFAULT_MAIL_FROM,
            seller=seller,
            webhook_secrets={name: e.get(var) or default
                             for name, (var, default) in webhook_secret_defaults().items()},
            schedules_at_start=(e.get("DUNWELL_SCHEDULES_AT_START") or "").lower() in ("1", "true", "yes"),
            schedule_speedup=float(e.get("DUNWELL_SCHEDULE_SPEEDUP") or 1),
        )


def _check_seller(seller: Mapping[str, str]) -> None:
    """Refuses a mistyped IBAN, BIC or pay link before anything starts, with the same message (naming the
    variable) a deployed function would fail with."""
    from chalicelib.config import Settings

    Settings.from_env(dict(seller))


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(f"{name}={text!r}: expected a port number (0 picks a free one)")
    return int(text)
