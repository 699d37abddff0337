"""Personal portal links (issue 13 item 1): every reminder, receipt and SMS carries a link that opens the customer's
own portal, scoped to one customer and one contact.

Security design:

* A token is 32 random bytes, urlsafe base64 (256 bits). Only its SHA-256 is stored (`LinkRecord.token_hash`): the
  store alone opens nothing. Tokens are never logged, never audited, never put in an exception message; the link
  id (random, public) names a link everywhere else.
* A link expires `days` after it was minted (setting PORTAL_LINK_DAYS, default 45). Its record is kept
  RESEND_GRACE longer (DynamoDB TTL) so the expired-link page can still offer a fresh one to its address.
* Opening never uses a link up: mail scanners (Safe Links, Mimecast) open every link before the person does.
* Revocation is a per-customer generation counter. A link carries the generation it was minted under (in its
  `link_id`, "<generation>.<random>", so a portal session holding only the grant's fields can be checked); staff's
  DELETE bumps the generation, which ends every link of the customer *and every portal session opened from one*
  (`still_valid` reads the counter: one GetItem). A link minted concurrently with a revocation carries the old
  generation and is dead on arrival: revocation fails closed.
* The expired-link page (`resend`) answers the same whether or not an address or token is known, and sends only
  to addresses that are a contact of the customer at that moment (never to an address typed in that is not on
  file). Rate limits: per client and overall (TooManyRequests, which says nothing about any address), per address
  at most one mail per RESEND_EVERY (silently), and staff's POST per customer.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain.customer import Contact, Customer
from chalicelib.domain.errors import DomainError, Kind, NotFound
from chalicelib.services.ports import (
    CLAIM_LEASE,
    AuditEvent,
    Claim,
    Claims,
    LinkRecord,
    Metrics,
    OutgoingEmail,
    RenderedEmail,
    Sender,
    StoredCustomer,
    address_key,
)
from chalicelib.services.send_once import Delivered, Outcome, SendOnce

log = logging.getLogger(__name__)

DEFAULT_DAYS = 45
TOKEN_BYTES = 32
RESEND_GRACE = timedelta(days=30)  # an expired link's record is kept this long for the expired-link page
RESEND_EVERY = timedelta(hours=1)  # at most one fresh link per address (and customer) per hour from that page
OPEN_PATH = "/portal/open/"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class RateLimits:
    """Requests allowed per window. The per-client and overall limits of `resend` raise TooManyRequests; opening
    links is limited per client (`may_open`); staff's POST per customer."""

    window: timedelta = timedelta(hours=1)
    resend_per_client: int = 5
    resend_overall: int = 200
    send_fresh_per_customer: int = 10
    open_per_client: int = 120  # link opens per client per window (guessing 256-bit tokens is hopeless anyway)


class TooManyRequests(DomainError):
    """Asked too often: answered 429 with Retry-After (seconds)."""

    code = "too_many_requests"
    kind = Kind.TOO_MANY

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class PortalGrant:
    """What an opened link grants: one customer's portal, as one contact. `link_id` is public (no secret)."""

    customer_id: str
    contact_email: str
    link_id: str
    issued_at: datetime
    expires_at: datetime


class LinkStore(Protocol):
    def put(self, record: LinkRecord, keep_until: datetime) -> None:
        """Store a new link, its row under the customer (for counting) and the address -> customer row (for the
        expired-link page); all removed by the store's TTL after `keep_until`."""
    def get(self, token_hash: str) -> LinkRecord | None:
        """The link (strongly consistent), also when expired (until its TTL) or revoked."""
    def generation(self, customer_id: str) -> int:
        """The customer's revocation generation now (strongly consistent; 0 before any revocation)."""
    def revoke(self, customer_id: str, actor: str, now: datetime) -> int:
        """Bump the generation (atomically); returns the new one."""
    def live_links(self, customer_id: str, generation: int, now: datetime) -> int:
        """How many links of this generation have not expired at `now` (a Query, never a Scan)."""
    def customers_of(self, email: str) -> list[str]:
        """Customers a link was ever minted for at this address (lower-cased), while their rows last."""


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window: timedelta, now: datetime) -> int | None:
        """Count one request under `key` in the current window; None when allowed, else seconds to wait."""


class EventLog(Protocol):
    def append(self, event: AuditEvent) -> None: ...


class CustomerReader(Protocol):
    def get_customers(self, customer_ids: Iterable[str]) -> dict[str, StoredCustomer]: ...




# render(language, customer name, contact name, url, expires_at, seller) -> the email
RenderLinkEmail = Callable[[str | None, str, str | None, str, datetime, object], RenderedEmail]


def new_token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _client_key(client: str) -> str:
    """A client (its IP address) as a rate-limit key: hashed, no address stored."""
    return hashlib.sha256(f"portal-client:{client}".encode()).hexdigest()[:24]


def _grant(record: LinkRecord) -> PortalGrant:
    return PortalGrant(record.customer_id, record.contact_email, record.link_id, record.issued_at, record.expires_at)


def generation_of(link_id: str) -> int | None:
    head, dot, _ = link_id.partition(".")
    return int(head) if dot and head.isdigit() else None


def reachable_by_email(customer: Customer) -> list[Contact]:
    """The contacts a link may be mailed to: with an address that has not bounced for good; one per address."""
    seen: set[str] = set()
    contacts = []
    for contact in customer.contacts:
        if contact.email and not contact.email_suppressed and contact.email.lower() not in seen:
            seen.add(contact.email.lower())
            contacts.append(contact)
    return contacts


class PortalLinks:
    def __init__(self, store: LinkStore, limiter: RateLimiter, customers: CustomerReader, claims: Claims,
                 sender: Sender, render: RenderLinkEmail, events: EventLog, metrics: Metrics, *,
                 base_url: str | None, seller: object = None, days: int = DEFAULT_DAYS,
                 limits: RateLimits | None = None) -> None:
        self.store = store
        self.limiter = limiter
        self.customers = customers
        self.sender = sender
        self.render = render
        self.events = events
        self.metrics = metrics
        self.base_url = base_url.rstrip("/") if base_url else None  # checked by config (PUBLIC_BASE_URL)
        self.seller = seller
        self.days = days
        self.limits = limits or RateLimits()
        # A portal-link mail is a courtesy: refused, it is not retried by a later run (the person asks again).
        self.send_once = SendOnce(claims, retry_refused=False)

    @property
    def enabled(self) -> bool:
        """Links need the public base URL (PUBLIC_BASE_URL); without it messages carry none."""
        return self.base_url is not None

    # ------------------------------------------------------------------------------------------- links

    def mint(self, customer_id: str, contact_email: str, now: datetime) -> str:
        """A fresh link for this customer and contact: the full URL (`<base>/portal/open/<token>`)."""
        return self._mint(customer_id, contact_email, now)[0]

    def _mint(self, customer_id: str, contact_email: str, now: datetime) -> tuple[str, LinkRecord]:
        if self.base_url is None:
            raise NotConfigured("PUBLIC_BASE_URL is not set: portal links cannot be made")
        generation = self.store.generation(customer_id)
        token = new_token()
        record = LinkRecord(token_hash(token), customer_id, contact_email.strip().lower(),
                            f"{generation}.{secrets.token_hex(8)}", generation, now, now + timedelta(days=self.days))
        self.store.put(record, record.expires_at + RESEND_GRACE)
        self.metrics.count("PortalLinksMinted", 1, {})
        return f"{self.base_url}{OPEN_PATH}{token}", record

    def for_message(self, customer_id: str, contact: str, now: datetime) -> str | None:
        """A fresh link for a reminder, receipt or SMS to `contact` (its address, or its phone where it has none);
        None without PUBLIC_BASE_URL, or when the store fails (logged and counted): a message never waits for one.
        """
        if self.base_url is None:
            return None
        try:
            return self.mint(customer_id, contact, now)
        except Exception:
            log.exception("no portal link for a message: it goes without one", extra={"customer_id": customer_id})
            self.metrics.count("PortalLinksFailed", 1, {})
            return None

    def open(self, token: str, now: datetime) -> PortalGrant | None:
        """The grant of a link that is known, not expired and not revoked; None otherwise (say no more)."""
        record = self._record(token)
        if record is None or now >= record.expires_at:
            return None
        if record.generation != self.store.generation(record.customer_id):
            return None
        return _grant(record)

    def still_valid(self, grant: PortalGrant, now: datetime) -> bool:
        """A session opened from `grant`: not revoked since (one GetItem) and the link not expired."""
        generation = generation_of(grant.link_id)
        if generation is None or now >= grant.expires_at:
            return False
        return generation == self.store.generation(grant.customer_id)

    def may_open(self, client: str, now: datetime) -> int | None:
        """Rate limit of link opens per client (None: go ahead; else seconds to wait). For /portal/open."""
        return self.limiter.hit(f"open#{_client_key(client)}", self.limits.open_per_client, self.limits.window, now)

    def revoke_all(self, customer_id: str, actor: str, now: datetime) -> int:
        """End every link of the customer and every portal session opened from one; how many links were live."""
        self._customer(customer_id)
        live = self.store.live_links(customer_id, self.store.generation(customer_id), now)
        generation = self.store.revoke(customer_id, actor, now)
        self.events.append(AuditEvent(f"customer#{customer_id}", "portal.links_revoked", actor, now,
                                      f"portal-revoke-{generation}", {"links": live, "generation": generation}))
        self.metrics.count("PortalLinksRevoked", live, {})
        return live

    # ------------------------------------------------------------------------------------------- mails

    def send_fresh(self, customer_id: str, actor: str, now: datetime) -> int:
        """Staff: mail a fresh link to each of the customer's contacts with an address; how many went out.
        Twice within the same minute sends once (a double click)."""
        customer = self._customer(customer_id)
        wait = self.limiter.hit(f"send#{customer_id}", self.limits.send_fresh_per_customer, self.limits.window, now)
        if wait is not None:
            raise TooManyRequests(f"fresh links for customer {customer_id} were sent too often; try again later",
                                  wait)
        if self.base_url is None:
            raise NotConfigured("PUBLIC_BASE_URL is not set: portal links cannot be made")
        sent = 0
        for contact in reachable_by_email(customer):
            key = f"portal-link#{customer_id}#{address_key(contact.email or '')[:16]}#{now:%Y-%m-%dT%H:%M}"
            if self._mail(customer, contact, key, actor, now, "portal.link_sent"):
                sent += 1
        return sent

    def resend(self, email: str | None, token: str | None, client: str, now: datetime) -> None:
        """The expired-link page's "email me a fresh link": by the address typed in, or by the (expired, revoked
        or unknown) token of the link that was opened. Answers the same (None) whatever is known; raises
        TooManyRequests only for this client's or everyone's rate, which says nothing about an address."""
        for key, limit in ((f"resend-client#{_client_key(client)}", self.limits.resend_per_client),
                           ("resend-all", self.limits.resend_overall)):
            wait = self.limiter.hit(key, limit, self.limits.window, now)
            if wait is not None:
                raise TooManyRequests("too many requests for fresh links; try again later", wait)
        if self.base_url is None:
            return
        wanted: list[tuple[str, str]] = []  # (customer id, address)
        if token:
            record = self._record(token)
            if record is not None:
                wanted.append((record.customer_id, record.contact_email))
        if email and "@" in email and len(email) <= 320:
            address = email.strip().lower()
            wanted.extend((customer_id, address) for customer_id in self.store.customers_of(address))
        wanted = list(dict.fromkeys(wanted))[:5]
        if not wanted:
            self.metrics.count("PortalResendUnknown", 1, {})
            return
        found = self.customers.get_customers({customer_id for customer_id, _ in wanted})
        for customer_id, address in wanted:
            stored = found.get(customer_id)
            if stored is None:
                continue
            contact = next((c for c in reachable_by_email(stored.customer) if (c.email or "").lower() == address),
                           None)
            if contact is None:  # no longer on file (or bounced): nothing goes to an address not on file
                continue
            window = int(now.timestamp() // RESEND_EVERY.total_seconds())
            key = f"portal-resend#{customer_id}#{address_key(address)[:16]}#{window}"
            self._mail(stored.customer, contact, key, f"portal:{address}", now, "portal.link_resent")

    # ------------------------------------------------------------------------------------------- helpers

    def _record(self, token: str) -> LinkRecord | None:
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            return None
        return self.store.get(token_hash(token))

    def _customer(self, customer_id: str) -> Customer:
        stored = self.customers.get_customers([customer_id]).get(customer_id)
        if stored is None:
            raise NotFound("customer", customer_id, field="customer_id")
        return stored.customer

    def _mail(self, customer: Customer, contact: Contact, key: str, actor: str, now: datetime,
              event_type: str) -> bool:
        email = contact.email or ""
        claim = Claim(key, customer.customer_id, "email", now.date(), uuid.uuid4().hex, [],
                      lease_until=now + CLAIM_LEASE)
        minted: list[LinkRecord] = []

        def deliver(claim: Claim) -> Delivered:
            url, record = self._mint(customer.customer_id, email, now)
            minted.append(record)
            rendered = self.render(contact.language or customer.language, customer.name, contact.name, url,
                                   record.expires_at, self.seller)
            message_id = self.sender.send_email(OutgoingEmail(email, rendered.subject, rendered.html, rendered.text,
                                                              claim.message_key, tag="portal_link"))
            return Delivered(email, message_id)

        [attempt] = self.send_once.send([claim], now, deliver, lambda _attempts: None, unknown_outcome=None)
        if attempt.outcome is not Outcome.SENT:
            if attempt.outcome is Outcome.REFUSED:
                log.warning("portal link mail not sent", extra={"customer_id": customer.customer_id})
                self.metrics.count("PortalLinkMailsFailed", 1, {})
            return False
        self.events.append(AuditEvent(f"customer#{customer.customer_id}", event_type, actor, now,
                                      f"{event_type}-{attempt.message_id or claim.message_key}",
                                      {"contact_email": email, "message_id": attempt.message_id,
                                       "link_id": minted[0].link_id if minted else None,
                                       "expires_at": minted[0].expires_at.isoformat() if minted else None}))
        self.metrics.count("PortalLinkMailsSent", 1, {})
        return True


class NotConfigured(DomainError):
    """The deployment lacks a setting this needs (PUBLIC_BASE_URL)."""

    code = "not_configured"
    kind = Kind.FORBIDDEN

