"""SES bounce and complaint notifications: stop writing to an address that bounces for good or complains.

A permanent bounce or a complaint marks that address `email_suppressed` on every contact of the customer; the
sweep then writes to another contact, or falls back to SMS, and a collector gets a task to find a good
address. Transient bounces (mailbox full, ...) change nothing: SES already retried them. Notifications are
matched to the customer by the `X-Dunwell-Message-Key` header every reminder carries; a notification that
names no known customer still reaches finance staff. Safe to receive twice (suppressing twice is a no-op
and the task id is derived from the notification).

A bounce of an invoice delivery (its key `delivery#<invoice id>#...` names the invoice) is matched through the
invoice, and the invoice goes to another contact at once (services/invoice_delivery.py `bounced`): a delivery is
sent once, so no later sweep would write to the next contact as it does for reminders.

The outcome `handle` returns is logged and kept in the invocation record, so it names addresses masked
(`a***@acme.example`); the collector's task and the finance alert, which someone must act on, carry them whole."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.customer import Customer
from chalicelib.domain.delivery import KEY_PREFIX as DELIVERY_KEY_PREFIX
from chalicelib.domain.masking import mask_all
from chalicelib.services.ports import (
    Alerts,
    AuditEvent,
    Metrics,
    StoredCustomer,
    Task,
    TaskStore,
    VersionConflict,
    conflict_retries,
    utc_now,
)

ACTOR = "system:ses"


class CustomerEditor(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...
    def update_customer(self, stored: StoredCustomer, customer: Customer, events: Sequence[AuditEvent],
                        now: datetime) -> None: ...


class DeliveryBounces(Protocol):
    """Invoice deliveries (services/invoice_delivery.py): their message keys name an invoice, not a customer."""

    def customer_of(self, message_key: str) -> str | None: ...
    def bounced(self, message_key: str, addresses: Sequence[str], ses_message_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Feedback:
    kind: str  # bounce | complaint
    permanent: bool
    addresses: tuple[str, ...]
    ses_message_id: str
    message_key: str | None
    detail: str


def parse_notification(message: str) -> Feedback | None:
    """SES event publishing (`eventType`) and identity notifications (`notificationType`) alike."""
    try:
        body = json.loads(message)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    kind = str(body.get("eventType") or body.get("notificationType") or "").lower()
    mail = body.get("mail") or {}
    headers = {str(h.get("name", "")).lower(): str(h.get("value", "")) for h in mail.get("headers") or []}
    key = headers.get("x-dunwell-message-key")
    if kind == "bounce":
        bounce = body.get("bounce") or {}
        recipients = bounce.get("bouncedRecipients") or []
        return Feedback("bounce", bounce.get("bounceType") == "Permanent",
                        tuple(str(r.get("emailAddress", "")).lower() for r in recipients if r.get("emailAddress")),
                        str(mail.get("messageId", "")), key,
                        f"{bounce.get('bounceType')}/{bounce.get('bounceSubType')}")
    if kind == "complaint":
        complaint = body.get("complaint") or {}
        recipients = complaint.get("complainedRecipients") or []
        return Feedback("complaint", True,
                        tuple(str(r.get("emailAddress", "")).lower() for r in recipients if r.get("emailAddress")),
                        str(mail.get("messageId", "")), key, str(complaint.get("complaintFeedbackType") or "complaint"))
    return None


class BounceHandler:
    def __init__(self, customers: CustomerEditor, tasks: TaskStore, alerts: Alerts, metrics: Metrics,
                 clock: Callable[[], datetime] | None = None,
                 deliveries: Callable[[], DeliveryBounces] | None = None) -> None:
        self.customers = customers
        self.deliveries = deliveries  # built only for a bounce of an invoice delivery
        self.tasks = tasks
        self.alerts = alerts
        self.metrics = metrics
        self.clock = clock or utc_now

    def handle(self, message: str) -> dict[str, Any]:
        feedback = parse_notification(message)
        if feedback is None:
            return {"outcome": "ignored", "reason": "not a bounce or complaint"}
        if not feedback.permanent:
            return {"outcome": "ignored", "reason": f"transient bounce ({feedback.detail})"}
        key = feedback.message_key
        delivery = self.deliveries() if key and key.startswith(DELIVERY_KEY_PREFIX) and self.deliveries else None
        if key and delivery is not None:
            customer_id = delivery.customer_of(key)
        else:
            customer_id = key.split("#", 1)[0] if key else None
        now = self.clock()
        suppressed = self._suppress(customer_id, feedback, now) if customer_id else []
        if not suppressed:
            self.alerts.publish(f"Dunwell: {feedback.kind} for an address of no known customer", {
                "addresses": list(feedback.addresses), "ses_message_id": feedback.ses_message_id,
                "message_key": feedback.message_key})
            return {"outcome": "unmatched", "addresses": mask_all(feedback.addresses)}
        self.metrics.count("AddressesSuppressed", len(suppressed), {"channel": "email", "kind": feedback.kind})
        what = "Invoice email" if delivery is not None else "Reminder email"
        self.tasks.open(Task(
            f"{feedback.kind}:{feedback.ses_message_id}", f"email_{feedback.kind}",
            f"{what} {feedback.kind}: find another address for customer {customer_id}",
            customer_id, None, {"addresses": suppressed, "detail": feedback.detail,
                                "ses_message_id": feedback.ses_message_id}, now, ACTOR))
        outcome: dict[str, Any] = {"outcome": "suppressed", "customer_id": customer_id,
                                   "addresses": mask_all(suppressed)}
        if key and delivery is not None:
            # As reminders write to another contact once an address is suppressed, the invoice goes to one now.
            outcome["delivery"] = delivery.bounced(key, suppressed, feedback.ses_message_id)
        return outcome

    def _suppress(self, customer_id: str, feedback: Feedback, now: datetime) -> list[str]:
        wanted = set(feedback.addresses)
        for _attempt in conflict_retries(f"suppressing a bounced address of customer {customer_id}", self.metrics):
            stored = self.customers.get_customers([customer_id]).get(customer_id)
            if stored is None:
                return []
            contacts = stored.customer.contacts
            hits = [c.email for c in contacts if c.email and c.email.lower() in wanted]
            if not hits:
                return []
            if all(c.email_suppressed for c in contacts if c.email and c.email.lower() in wanted):
                return [h for h in hits if h]  # delivered twice: already done
            updated = replace(stored.customer, contacts=tuple(
                replace(c, email_suppressed=True) if c.email and c.email.lower() in wanted else c for c in contacts))
            event = AuditEvent(f"customer#{customer_id}", "customer.contact_suppressed", ACTOR, now,
                               feedback.ses_message_id, {"addresses": hits, "kind": feedback.kind,
                                                         "detail": feedback.detail})
            try:
                self.customers.update_customer(stored, updated, [event], now)
                return [h for h in hits if h]
            except VersionConflict:
                continue
        raise AssertionError("unreachable: conflict_retries raises when it runs out")
