"""Use cases: the statement of account as a PDF (GET /customers/{id}/statement.pdf), and the monthly statement
by email for customers with `statement_delivery: email`.

The statement itself is the portal's (services/statement.py `Statements.statement`); this module lays it out as a
letter (formats/statement_pdf.py) and mails it.

Monthly: an hourly schedule calls `MonthlyStatements.run`. A customer's statement goes on the first business day
of the month in the customer's time zone (its own, else its first contact's, else the seller's), from 08:00 local,
dated that day; a day the schedule missed entirely is made up by the next run until the 7th (local), still dated
the first business day. Exactly once per customer and month: the send-once claim `statement#<customer>#<YYYY-MM>` (a
repeated or concurrent hour finds it and sends nothing). Cost: outside the first days of a month (UTC day 8 to
27) a run reads nothing; inside, it reads the opted-in customers from the sparse `by_statement_delivery` index
(a Query, never a Scan), and a statement (four requests) only for a customer whose day it is. Recorded on the
customer's timeline as `statement.sent` with the SES message id."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain.customer import Customer
from chalicelib.domain.dunning.calendar import InvalidTimezone, load_timezone, next_business_day
from chalicelib.domain.masking import mask
from chalicelib.formats.invoice_mail import InvoiceMail
from chalicelib.formats.letter_pdf import RenderedLetter
from chalicelib.formats.messages import Seller
from chalicelib.formats.statement_mail import StatementMailInput
from chalicelib.formats.statement_pdf import StatementPdfInput
from chalicelib.services.ports import (
    CLAIM_LEASE,
    Attachment,
    AuditEvent,
    Claim,
    Claims,
    Metrics,
    OutgoingEmail,
    Sender,
    utc_now,
)
from chalicelib.services.send_once import Attempt, Delivered, Outcome, SendOnce
from chalicelib.services.statement import Statement

log = logging.getLogger(__name__)
ACTOR = "system:statements"
SEND_FROM = time(8, 0)  # local time from which the month's statement may go
PAGE = 100  # opted-in customers read per Query page


class StatementSource(Protocol):
    def statement(self, customer_id: str, as_of: date) -> Statement: ...


class StatementRecipients(Protocol):
    def opted_in(self, limit: int, cursor: dict[str, Any] | None
                 ) -> tuple[list[Customer], dict[str, Any] | None]:
        """Customers with statement_delivery email, a page at a time."""


class EventLog(Protocol):
    def append(self, event: AuditEvent) -> None: ...


StatementPrinter = Callable[[StatementPdfInput], RenderedLetter]
StatementMailRenderer = Callable[[StatementMailInput], InvoiceMail]


@dataclass(frozen=True)
class StatementDocument:
    body: bytes
    filename: str
    pages: int
    statement: Statement


class StatementPapers:
    """The statement of account of one customer as a PDF, in the customer's language."""

    def __init__(self, statements: StatementSource, render: StatementPrinter, seller: Seller) -> None:
        self.statements = statements
        self.render = render
        self.seller = seller

    def pdf(self, customer_id: str, as_of: date) -> StatementDocument:
        """NotFound for an unknown customer (services/statement.py)."""
        statement = self.statements.statement(customer_id, as_of)
        rendered = self.render(StatementPdfInput(self.seller, statement, statement.customer.language))
        return StatementDocument(rendered.body, f"statement-{customer_id}-{as_of.isoformat()}.pdf", rendered.pages,
                                 statement)


CATCH_UP_UNTIL = 7  # the last local day of a month on which a missed statement is still sent (the month's first days)


def first_business_day(year: int, month: int, country: str | None) -> date:
    return next_business_day(date(year, month, 1), country)


def customer_zone(customer: Customer, default: str) -> ZoneInfo:
    for name in (customer.timezone, *(c.timezone for c in customer.contacts), default):
        if name:
            try:
                return load_timezone(name)
            except InvalidTimezone:
                continue
    return load_timezone("UTC")


def statement_day(now: datetime, customer: Customer, default_timezone: str) -> date | None:
    """The date of the customer's statement this month (the first business day of its month, local) once that day
    has come (from SEND_FROM local time), and until the CATCH_UP_UNTIL-th: an hourly run missed on the day itself
    (the schedule down) is made up by a later run that week; the month's send-once claim keeps it to one statement.
    None outside that window."""
    local = now.astimezone(customer_zone(customer, default_timezone))
    today = local.date()
    first = first_business_day(today.year, today.month, customer.country)
    if today < first or today.day > max(CATCH_UP_UNTIL, first.day) or (today == first and local.time() < SEND_FROM):
        return None
    return first


def near_month_start(now: datetime) -> bool:
    """Whether some time zone may be on the first business day of a month: never after the 8th (a long weekend
    with holidays ends by then), nor before the 28th of the month before (UTC+14 is a day ahead)."""
    return now.day <= 8 or now.day >= 28


@dataclass
class MonthlyRun:
    now: datetime
    considered: int = 0  # opted-in customers read
    sent: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "considered": self.considered, "sent": self.sent,
                "skipped": dict(sorted(self.skipped.items()))}


class MonthlyStatements:
    def __init__(self, recipients: StatementRecipients, papers: StatementPapers, render_mail: StatementMailRenderer,
                 sender: Sender, claims: Claims, events: EventLog, metrics: Metrics, *, seller_timezone: str = "UTC",
                 clock: Callable[[], datetime] | None = None) -> None:
        self.recipients = recipients
        self.papers = papers
        self.render_mail = render_mail
        self.sender = sender
        self.send_once = SendOnce(claims)
        self.events = events
        self.metrics = metrics
        self.seller_timezone = seller_timezone
        self.clock = clock or utc_now

    def run(self, now: datetime | None = None) -> MonthlyRun:
        """The hourly schedule: each opted-in customer whose first business day of the month it is gets the
        statement once. Safe to run twice, at any hour."""
        now = now or self.clock()
        summary = MonthlyRun(now)
        if not near_month_start(now):
            return summary
        cursor: dict[str, Any] | None = None
        while True:
            customers, cursor = self.recipients.opted_in(PAGE, cursor)
            for customer in customers:
                summary.considered += 1
                day = statement_day(now, customer, self.seller_timezone)
                if day is None:
                    summary.skipped["not_today"] += 1
                    continue
                try:
                    outcome = self.send(customer, day, now)
                except Exception:
                    log.exception("monthly statement failed", extra={"customer_id": customer.customer_id})
                    self.metrics.count("StatementsFailed", 1, {"channel": "email"})
                    summary.skipped["failed"] += 1
                    continue
                if outcome is Outcome.SENT:
                    summary.sent += 1
                else:
                    summary.skipped[outcome.value] += 1
            if cursor is None:
                break
        if summary.sent:
            self.metrics.count("StatementsSent", summary.sent, {"channel": "email"})
        return summary

    def send(self, customer: Customer, day: date, now: datetime) -> Outcome:
        """The statement of `day`'s month to the customer's first emailable contact, once per month."""
        contact = next((c for c in customer.contacts if c.email and not c.email_suppressed), None)
        if contact is None or contact.email is None:
            return Outcome.NO_DESTINATION
        address = contact.email
        month = day.strftime("%Y-%m")
        key = f"statement#{customer.customer_id}#{month}"
        claim = Claim(key, customer.customer_id, "email", day, uuid.uuid4().hex, [], lease_until=now + CLAIM_LEASE)

        def deliver(claim: Claim) -> Delivered:
            document = self.papers.pdf(customer.customer_id, day)
            mail = self.render_mail(StatementMailInput(contact.language or customer.language, customer.name,
                                                       contact.name, day, document.statement.totals,
                                                       self.papers.seller))
            message_id = self.sender.send_email(OutgoingEmail(
                address, mail.subject, mail.html, mail.text, claim.message_key,
                (Attachment(document.filename, "application/pdf", document.body),), tag="statement"))
            return Delivered(address, message_id)

        def record(attempts: Sequence[Attempt]) -> None:
            for attempt in attempts:
                if attempt.records:
                    self.events.append(AuditEvent(
                        f"customer#{customer.customer_id}", "statement.sent", ACTOR, now, key,
                        {"month": month, "as_of": day.isoformat(), "channel": "email",
                         "message_id": attempt.message_id or None, "to": mask(address),
                         "confirmed": attempt.confirmed}))

        [attempt] = self.send_once.send([claim], now, deliver, record, unknown_outcome=None)
        return attempt.outcome
