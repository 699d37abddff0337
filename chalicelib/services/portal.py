"""The debtor portal (issue 13 items 2, 6): portal sessions and the use cases behind its pages.

Security design (README "The customer portal"):

* A personal link (services/portal_links.py) opened at `/portal/open/<token>` starts a *portal session*:
  a cookie `v1.<payload>.<tag>`, the payload JSON {customer, contact email, link id, the link's issue and expiry,
  session start, last seen, a random nonce}, the tag HMAC-SHA256 (16 bytes) under a key derived from the API's
  signing secret with the portal's own label (a staff session tag or a cursor tag is never a portal tag). The
  token itself is never in the cookie, a URL after the redirect, a page or a log.
* Idle timeout IDLE (30 minutes, sliding: every page re-issues the cookie) and an absolute cap MAX_SESSION; the
  link's own expiry ends the session too. Every request checks the link is still valid (staff's
  `DELETE /customers/{id}/portal-links` ends every session at once): `SessionGate.customer_if_valid`, which also
  reads the customer the page needs (adapters/portal.py does both in one BatchGetItem).
* Everything is scoped by the session's customer: an invoice of another customer is NotFound, worded as an unknown
  id (the walk test in tests/integration/test_portal_walk.py tries every route with another customer's ids).
* CSRF: every form carries a token, HMAC of the session nonce (forms without a session: of a short-lived form
  cookie, double submit, both HMAC'd); the cookie is SameSite=Lax (the link is opened from a mail client, a
  cross-site navigation), so the token is what guards the POSTs.
* Rate limits (RateLimiter: per container in memory, or the shared DynamoDB counters of adapters/portal_links.py):
  opening links per client, actions per customer and per client, checkout per customer. On AWS put a WAF rate rule
  in front too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain.customer import Customer
from chalicelib.domain.errors import DomainError, Kind, NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.services.portal_links import PortalGrant, RateLimiter, TooManyRequests, generation_of
from chalicelib.services.ports import AuditEvent, StoredCustomer
from chalicelib.services.sessions import FORM_TTL, IDLE, b64url, unb64url
from chalicelib.services.statement import Statement, StatementLine, Statements, build_line

MAX_SESSION = timedelta(hours=12)  # a session ends this long after it started, whatever
MAX_COOKIE_CHARS = 1200
_TAG_BYTES = 16
_VERSION = "v1"
MAX_SIGNED_CHARS = 1100

# What the invoice page lists as "what was sent": the audit events of a message or document that went out.
SENT_EVENTS = frozenset({"invoice.delivered", "reminder.sent", "plan.reminder_sent", "letter.queued",
                         "letter.posted", "receipt.sent", "statement.sent"})


# ---------------------------------------------------------------------------------------------- ports

class Grant(Protocol):
    """What an opened link grants (services/portal_links.py PortalGrant)."""

    @property
    def customer_id(self) -> str: ...
    @property
    def contact_email(self) -> str: ...
    @property
    def link_id(self) -> str: ...
    @property
    def issued_at(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime: ...


class LinkOpener(Protocol):
    """services/portal_links.py PortalLinks, as far as the portal pages use it."""

    def open(self, token: str, now: datetime) -> Grant | None: ...
    def resend(self, email: str | None, token: str | None, client: str, now: datetime) -> None: ...


class SessionGate(Protocol):
    def customer_if_valid(self, session: PortalSession, now: datetime) -> Customer | None:
        """The session's customer, when the link it came from is still valid (not revoked since, not expired);
        None otherwise (or when the customer is gone)."""


class LinkCheck(Protocol):
    def still_valid(self, grant: PortalGrant, now: datetime) -> bool: ...


class CustomerReader(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...


class LinksGate:
    """SessionGate through PortalLinks' `still_valid` and the customer store: two reads (the deployed gate,
    adapters/portal.py DynamoSessionGate, does both in one BatchGetItem)."""

    def __init__(self, links: LinkCheck, customers: CustomerReader) -> None:
        self.links = links
        self.customers = customers

    def customer_if_valid(self, session: PortalSession, now: datetime) -> Customer | None:
        grant = PortalGrant(session.customer_id, session.contact_email, session.link_id, session.issued_at,
                            session.expires_at)
        if not self.links.still_valid(grant, now):
            return None
        stored = self.customers.get_customers([session.customer_id]).get(session.customer_id)
        return stored.customer if stored is not None else None


class PortalReads(Protocol):
    def customer_and_generation(self, customer_id: str) -> tuple[Customer | None, int]:
        """The customer (None when gone) and its portal links' revocation generation now (strongly consistent)."""


class GenerationGate:
    """SessionGate with the links' rule (`PortalLinks.still_valid`: the generation a link was minted under is the
    customer's current one, and the link has not expired), the customer and the generation read together
    (adapters/portal.py: one BatchGetItem)."""

    def __init__(self, reads: PortalReads) -> None:
        self.reads = reads

    def customer_if_valid(self, session: PortalSession, now: datetime) -> Customer | None:
        generation = generation_of(session.link_id)
        if generation is None or now >= session.expires_at:
            return None
        customer, current = self.reads.customer_and_generation(session.customer_id)
        return customer if current == generation else None


class InvoiceReader(Protocol):
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]: ...


class EventReader(Protocol):
    def events(self, entity: str) -> list[AuditEvent]: ...


class PdfDocument(Protocol):
    @property
    def body(self) -> bytes: ...
    @property
    def filename(self) -> str: ...


class InvoicePdfs(Protocol):
    def pdf(self, invoice_id: str) -> PdfDocument: ...


class Actions(Protocol):
    """services/portal_actions.py PortalActions."""

    def dispute(self, customer_id: str, contact_email: str, invoice_id: str, reason: str, amount: Money | None,
                comment: str) -> object: ...
    def promise(self, customer_id: str, contact_email: str, invoice_ids: Sequence[str], until: date,
                amount: Money | None, today: date) -> object: ...
    def request_plan(self, customer_id: str, contact_email: str, invoice_ids: Sequence[str], instalments: int,
                     first_date: date, today: date) -> object: ...


class Payments(Protocol):
    """services/portal_payments.py PortalPayments."""

    def options(self, customer: Customer, invoices: Sequence[Invoice], today: date) -> object: ...
    def card_available(self) -> bool: ...
    def checkout(self, customer: Customer, invoices: Sequence[Invoice], today: date, success_url: str,
                 cancel_url: str) -> str: ...


# ---------------------------------------------------------------------------------------------- sessions

@dataclass(frozen=True)
class PortalSession:
    customer_id: str
    contact_email: str
    link_id: str
    issued_at: datetime  # the link's
    expires_at: datetime  # the link's
    started_at: datetime
    last_seen: datetime
    nonce: str

    @property
    def idle_until(self) -> datetime:
        return min(self.last_seen + IDLE, self.started_at + MAX_SESSION, self.expires_at)


def derive_key(secret: str) -> bytes:
    """The portal sessions' own key, from the API's signing secret (bootstrap.cursor_signing_secret)."""
    return hmac.new(secret.encode(), b"dunwell portal session signing key", hashlib.sha256).digest()


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _dt(seconds: object) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if type(seconds) is int and 0 < seconds < 2**33 else None


class PortalSessions:
    """Signs and reads the portal's cookies; pure but for the signing key."""

    def __init__(self, signing_key: Callable[[], bytes]) -> None:
        self.signing_key = signing_key

    def start(self, grant: Grant, now: datetime) -> PortalSession:
        return PortalSession(grant.customer_id, grant.contact_email, grant.link_id,
                             _dt(_ts(grant.issued_at)) or now, _dt(_ts(grant.expires_at)) or now,
                             _dt(_ts(now)) or now, _dt(_ts(now)) or now, b64url(secrets.token_bytes(16)))

    def cookie_value(self, session: PortalSession) -> str:
        payload = json.dumps({"c": session.customer_id, "m": session.contact_email, "l": session.link_id,
                              "i": _ts(session.issued_at), "x": _ts(session.expires_at),
                              "s": _ts(session.started_at), "t": _ts(session.last_seen), "n": session.nonce},
                             sort_keys=True, separators=(",", ":")).encode()
        return f"{_VERSION}.{b64url(payload)}.{b64url(self._tag(b'session', payload))}"

    def read(self, cookie_value: str | None, now: datetime) -> PortalSession | None:
        """The session a cookie carries: signed by us, not idle too long, not past its caps. (Whether its link
        is still valid is the gate's to say.)"""
        if not cookie_value or len(cookie_value) > MAX_COOKIE_CHARS or cookie_value.count(".") != 2:
            return None
        version, payload_text, tag_text = cookie_value.split(".")
        payload, tag = unb64url(payload_text, MAX_SIGNED_CHARS), unb64url(tag_text, MAX_SIGNED_CHARS)
        if version != _VERSION or payload is None or tag is None or len(tag) != _TAG_BYTES:
            return None
        if not hmac.compare_digest(tag, self._tag(b"session", payload)):
            return None
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(data, dict) or set(data) != {"c", "m", "l", "i", "x", "s", "t", "n"}:
            return None
        if not all(isinstance(data[k], str) and data[k] for k in ("c", "m", "l", "n")):
            return None
        moments = [_dt(data[k]) for k in ("i", "x", "s", "t")]
        issued, expires, started, seen = moments
        if issued is None or expires is None or started is None or seen is None:
            return None
        session = PortalSession(data["c"], data["m"], data["l"], issued, expires, started, seen, data["n"])
        if now >= session.idle_until or seen > now + timedelta(minutes=1):
            return None
        return session

    def touch(self, session: PortalSession, now: datetime) -> PortalSession:
        """The same session, seen now (its idle timeout starts again)."""
        return replace(session, last_seen=_dt(_ts(now)) or now)

    def csrf_token(self, session: PortalSession) -> str:
        return b64url(self._tag(b"csrf", session.nonce.encode()))

    def check_csrf(self, session: PortalSession, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token).encode(), self.csrf_token(session).encode())

    # Forms without a session (the expired-link page): a form cookie and its token (double submit, HMAC'd).
    def form_nonce(self, now: datetime) -> str:
        return f"{b64url(secrets.token_bytes(16))}~{_ts(now + FORM_TTL)}"

    def form_token(self, nonce: str) -> str:
        return b64url(self._tag(b"form", nonce.encode()))

    def check_form_token(self, nonce: str | None, token: str | None, now: datetime) -> bool:
        if not nonce or not token or len(nonce) > 100:
            return False
        _, _, expires = nonce.partition("~")
        if not expires.isdigit() or int(expires) <= _ts(now):
            return False
        return hmac.compare_digest(str(token).encode(), self.form_token(nonce).encode())

    def _tag(self, label: bytes, payload: bytes) -> bytes:
        message = b"\n".join((b"dunwell-portal-v1", label, payload))
        return hmac.new(self.signing_key(), message, hashlib.sha256).digest()[:_TAG_BYTES]


# ---------------------------------------------------------------------------------------------- rate limits

@dataclass(frozen=True)
class PortalLimits:
    window: timedelta = timedelta(hours=1)
    open_per_client: int = 120  # link opens per client address
    actions_per_customer: int = 30  # disputes, promises, plan requests (confirmed) per customer
    actions_per_client: int = 60
    checkout_per_customer: int = 30
    pdf_per_customer: int = 300


class MemoryRateLimiter:
    """Fixed windows counted in this container (a deployment with many containers: WAF in front, or the DynamoDB
    counters of adapters/portal_links.py)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, key: str, limit: int, window: timedelta, now: datetime) -> int | None:
        seconds = int(window.total_seconds())
        slot = _ts(now) // seconds
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] == slot}
        count = self._counts.get((key, slot), 0)
        if count >= limit:
            return (slot + 1) * seconds - _ts(now)
        self._counts[(key, slot)] = count + 1
        return None


# ---------------------------------------------------------------------------------------------- pages

@dataclass(frozen=True)
class Visitor:
    """Who is looking: a valid session and its customer."""

    session: PortalSession
    customer: Customer

    @property
    def language(self) -> str | None:
        email = self.session.contact_email.lower()
        contact = next((c for c in self.customer.contacts if (c.email or "").lower() == email), None)
        return (contact.language if contact else None) or self.customer.language

    @property
    def timezone(self) -> str | None:
        email = self.session.contact_email.lower()
        contact = next((c for c in self.customer.contacts if (c.email or "").lower() == email), None)
        return (contact.timezone if contact else None) or self.customer.timezone


@dataclass(frozen=True)
class Sent:
    """One message or document that went to the customer about an invoice."""

    at: datetime
    kind: str  # the audit event type: reminder.sent, invoice.delivered, ...
    channel: str | None  # email, sms, letter
    step: str | None


@dataclass(frozen=True)
class InvoicePage:
    invoice: Invoice
    line: StatementLine | None  # None when nothing is open any more
    sent: tuple[Sent, ...]  # newest first


@dataclass
class Portal:
    """The portal's use cases; every one takes the Visitor (a checked session) and stays inside its customer."""

    sessions: PortalSessions
    links: LinkOpener
    gate: SessionGate
    statements: Statements
    invoices: InvoiceReader
    events: EventReader
    pdfs: InvoicePdfs
    actions: Actions | None = None
    payments: Payments | None = None
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    limits: PortalLimits = field(default_factory=PortalLimits)
    seller_timezone: str = "UTC"

    # ---- sessions ------------------------------------------------------------------------------------

    def open(self, token: str, client: str, now: datetime) -> PortalSession | None:
        """A session for a valid link; None for an unknown, expired or revoked one (the page says the same)."""
        self._limit(f"portal-open#{client}", self.limits.open_per_client, now)
        grant = self.links.open(token, now)
        return None if grant is None else self.sessions.start(grant, now)

    def visitor(self, cookie_value: str | None, now: datetime) -> Visitor | None:
        session = self.sessions.read(cookie_value, now)
        if session is None:
            return None
        customer = self.gate.customer_if_valid(session, now)
        if customer is None or customer.customer_id != session.customer_id:
            return None
        return Visitor(self.sessions.touch(session, now), customer)

    def resend(self, email: str | None, token: str | None, client: str, now: datetime) -> None:
        self.links.resend(email, token, client, now)

    def today(self, visitor: Visitor, now: datetime) -> date:
        """The customer's date (their time zone, else the seller's): due dates and offers are days there."""
        try:
            zone = ZoneInfo(visitor.timezone or self.seller_timezone)
        except (ValueError, KeyError):
            zone = ZoneInfo("UTC")
        return now.astimezone(zone).date()

    # ---- reading ---------------------------------------------------------------------------------------

    def statement(self, visitor: Visitor, now: datetime) -> Statement:
        return self.statements.of_customer(visitor.customer, self.today(visitor, now))

    def own_invoices(self, visitor: Visitor, invoice_ids: Sequence[str]) -> list[Invoice]:
        """The invoices, in the order given, each of the visitor's customer; NotFound (as for an unknown id)
        otherwise."""
        ids = list(dict.fromkeys(invoice_ids))
        found = self.invoices.get_invoices(ids) if ids else {}
        for invoice_id in ids:
            invoice = found.get(invoice_id)
            if invoice is None or invoice.customer_id != visitor.customer.customer_id:
                raise NotFound("invoice", invoice_id, field="invoice_id")
        return [found[i] for i in ids]

    def invoice(self, visitor: Visitor, invoice_id: str, now: datetime) -> InvoicePage:
        [invoice] = self.own_invoices(visitor, [invoice_id])
        today = self.today(visitor, now)
        line = build_line(invoice, visitor.customer, today) if invoice.balance.amount > 0 else None
        sent = [Sent(e.at, e.type, _text(e.data.get("channel")), _text(e.data.get("step")))
                for e in self.events.events(f"invoice#{invoice.invoice_id}") if e.type in SENT_EVENTS]
        sent.sort(key=lambda s: s.at, reverse=True)
        return InvoicePage(invoice, line, tuple(sent))

    def invoice_pdf(self, visitor: Visitor, invoice_id: str, now: datetime) -> PdfDocument:
        self._limit(f"portal-pdf#{visitor.customer.customer_id}", self.limits.pdf_per_customer, now)
        [invoice] = self.own_invoices(visitor, [invoice_id])
        return self.pdfs.pdf(invoice.invoice_id)

    # ---- actions (services/portal_actions.py) --------------------------------------------------------------

    def _actions(self) -> Actions:
        if self.actions is None:
            raise NotConfiguredHere("disputes, promises and plan requests are not available here")
        return self.actions

    def _act(self, visitor: Visitor, client: str, now: datetime) -> Actions:
        actions = self._actions()
        self._limit(f"portal-act#{visitor.customer.customer_id}", self.limits.actions_per_customer, now)
        self._limit(f"portal-act-client#{client}", self.limits.actions_per_client, now)
        return actions

    def dispute(self, visitor: Visitor, client: str, invoice_id: str, reason: str, amount: Money | None,
                comment: str, now: datetime) -> object:
        self.own_invoices(visitor, [invoice_id])
        return self._act(visitor, client, now).dispute(visitor.customer.customer_id, visitor.session.contact_email,
                                                       invoice_id, reason, amount, comment)

    def promise(self, visitor: Visitor, client: str, invoice_ids: Sequence[str], until: date, amount: Money | None,
                now: datetime) -> object:
        self.own_invoices(visitor, invoice_ids)
        return self._act(visitor, client, now).promise(visitor.customer.customer_id, visitor.session.contact_email,
                                                       invoice_ids, until, amount, self.today(visitor, now))

    def request_plan(self, visitor: Visitor, client: str, invoice_ids: Sequence[str], instalments: int,
                     first_date: date, now: datetime) -> object:
        self.own_invoices(visitor, invoice_ids)
        return self._act(visitor, client, now).request_plan(
            visitor.customer.customer_id, visitor.session.contact_email, invoice_ids, instalments, first_date,
            self.today(visitor, now))

    # ---- paying (services/portal_payments.py) ---------------------------------------------------------------

    def pay_options(self, visitor: Visitor, invoice_ids: Sequence[str], now: datetime) -> object | None:
        """What the pay page shows for these invoices (all open ones when none are named); None when paying
        from the portal is not set up here."""
        if self.payments is None:
            return None
        if invoice_ids:
            chosen = self.own_invoices(visitor, invoice_ids)
        else:
            chosen = sorted(self.statements.reader.open_invoices(visitor.customer.customer_id),
                            key=lambda i: (i.due_date, i.number))
        return self.payments.options(visitor.customer, chosen, self.today(visitor, now))

    def card_available(self) -> bool:
        return self.payments is not None and self.payments.card_available()

    def checkout(self, visitor: Visitor, invoice_ids: Sequence[str], success_url: str, cancel_url: str,
                 now: datetime) -> str:
        if self.payments is None:
            raise NotConfiguredHere("paying from the portal is not set up here")
        self._limit(f"portal-checkout#{visitor.customer.customer_id}", self.limits.checkout_per_customer, now)
        chosen = self.own_invoices(visitor, invoice_ids)
        return self.payments.checkout(visitor.customer, chosen, self.today(visitor, now), success_url, cancel_url)

    # ---- helpers ---------------------------------------------------------------------------------------

    def _limit(self, key: str, limit: int, now: datetime) -> None:
        wait = self.limiter.hit(key, limit, self.limits.window, now)
        if wait is not None:
            raise TooManyRequests("too many requests; try again later", wait)


class NotConfiguredHere(DomainError):
    """A part of the portal this deployment does not offer."""

    code = "not_configured"
    kind = Kind.FORBIDDEN


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
