"""A bounce run through the app logs no full email address: the handler's outcome, the logs of everything it
touched, and its answer name addresses masked (the collector's task keeps the address it must replace)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row

ADDRESS = "jane.doe@acme.example"


def _bounce(client: Any, message_key: str | None) -> dict[str, Any]:
    headers = [{"name": "X-Dunwell-Message-Key", "value": message_key}] if message_key else []
    notification = {"eventType": "Bounce",
                    "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                               "bouncedRecipients": [{"emailAddress": ADDRESS}]},
                    "mail": {"messageId": "ses-1", "destination": [ADDRESS], "headers": headers}}
    event = client.events.generate_sns_event(message=json.dumps(notification), subject="bounce")
    return dict(client.lambda_.invoke("ses_notifications", event).payload)


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)


def test_a_bounce_is_logged_with_the_address_masked(client: Any, s3: Any, bucket: str, admin_headers: dict[str, str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(invoice_row("INV-1", email=ADDRESS)))
    with caplog.at_level(logging.INFO):
        outcome = _bounce(client, "acme#2026-11-24#email")
    assert outcome == {"outcome": "suppressed", "customer_id": "acme", "addresses": ["j***@acme.example"]}
    logged = _logged(caplog)
    assert "ses notification" in logged and "j***@acme.example" in logged
    assert ADDRESS not in logged
    [task] = get_json(client, "/tasks", admin_headers)[1]["items"]
    assert ADDRESS in json.dumps(task)  # the collector needs the address to find a better one


def test_a_bounce_of_no_known_customer_is_logged_masked_too(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        outcome = _bounce(client, None)
    assert outcome == {"outcome": "unmatched", "addresses": ["j***@acme.example"]}
    assert ADDRESS not in _logged(caplog)
