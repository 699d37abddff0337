"""Messages to finance staff (SNS) and webhook secrets (environment or Secrets Manager)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.config import Settings
from chalicelib.observability import logger


class SnsAlerts:
    def __init__(self, client: Any, topic_arn: str | None) -> None:
        self._sns = client
        self.topic_arn = topic_arn

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        if not self.topic_arn:
            logger.warning("no finance alerts topic configured; alert only logged", extra={"subject": subject})
            return
        self._sns.publish(TopicArn=self.topic_arn, Subject=subject[:100],
                          Message=json.dumps(message, default=str))


class WebhookSecrets:
    """Signing secrets per provider, several during a rotation. Locally and in tests they come from
    the environment (comma-separated); in AWS from one Secrets Manager secret holding
    {"stripe": [...], "gocardless": [...], "adyen": [...]}, cached by Powertools for 5 minutes so a
    rotation needs no deployment."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def for_provider(self, provider: str) -> list[str]:
        from_env = self.settings.webhook_secrets_env.get(provider)
        if from_env:
            return [s.strip() for s in from_env.split(",") if s.strip()]
        if not self.settings.webhook_secrets_arn:
            return []
        from aws_lambda_powertools.utilities import parameters

        document: Any = parameters.get_secret(self.settings.webhook_secrets_arn, transform="json", max_age=300)
        values = document.get(provider, []) if isinstance(document, dict) else []
        return [values] if isinstance(values, str) else [str(v) for v in values]
