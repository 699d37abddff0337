"""No reminder without a way to pay: a stage whose settings give neither a bank account (SELLER_IBAN) nor a pay
link (PAY_URL_TEMPLATE) refuses every reminder run, invoice ladder and payment plans alike.

A reminder that asks for money and does not say where to send it costs the customer's goodwill and brings no
money, so the run sends nothing, says why in its summary, logs an error, counts `RemindersRefused` and tells
finance staff (at most once an hour per process: the sweep is hourly, and one page per run is enough).
Receipts are not reminders and still go."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from chalicelib.services.ports import Alerts, Metrics, utc_now

log = logging.getLogger(__name__)
ALERT_EVERY = timedelta(hours=1)
REASON_CODE = "no_way_to_pay"


class WayToPay:
    def __init__(self, missing: str | None, alerts: Alerts, metrics: Metrics, stage: str,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.missing = missing  # why reminders may not go (domain/payment_details.way_to_pay_missing), or None
        self.alerts = alerts
        self.metrics = metrics
        self.stage = stage
        self.clock = clock or utc_now
        self._alerted_at: datetime | None = None

    def refusal(self, run: str) -> str | None:
        """None when reminders may go; else the reason, after logging, counting and (throttled) alerting."""
        if self.missing is None:
            return None
        log.error("reminders refused (%s run, stage %s): %s", run, self.stage, self.missing)
        self.metrics.count("RemindersRefused", 1, {"reason": REASON_CODE, "run": run})
        now = self.clock()
        if self._alerted_at is None or now - self._alerted_at >= ALERT_EVERY:
            self.alerts.publish(f"Dunwell {self.stage}: reminders refused, customers are not told how to pay", {
                "reason": self.missing, "run": run,
                "fix": "set the stack parameter SellerIban or PayUrlTemplate (SELLER_IBAN / PAY_URL_TEMPLATE "
                       "locally) and deploy again; the next sweep catches up on every reminder due"})
            self._alerted_at = now
        return self.missing


def never_refused(run: str) -> str | None:
    """For services built without a check (unit tests of the sweep itself)."""
    return None
