"""Personal portal links (services/portal_links.py) with in-memory ports."""

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.customer import Contact, Customer
from chalicelib.domain.errors import NotFound
from chalicelib.services.portal_links import (
    PortalLinks,
    RateLimits,
    TooManyRequests,
    generation_of,
)
from tests.unit.services import portal_link_fakes as f
from tests.unit.services.fakes import Metrics
from tests.unit.services.sending_fakes import Claims, Customers, Sender

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
BASE = "https://api.example.com/api"
ACME = Customer("C-1", "Acme GmbH", (Contact("Ann", "ann@acme.example", language="de"),
                                     Contact("Bob", "bob@acme.example"),
                                     Contact("Gone", "gone@acme.example", email_suppressed=True)))
OTHER = Customer("C-2", "Other Ltd", (Contact("Ann", "ann@acme.example"),))
URL = re.compile(r"https://api\.example\.com/api/portal/open/([A-Za-z0-9_-]{43})")


def build(days=45, base=BASE, limits=None, customers=(ACME, OTHER)):
    store, sender, events = f.LinkStore(), Sender(), f.EventLog()
    links = PortalLinks(store, f.RateLimiter(), Customers(*customers), Claims(), sender, f.render, events, Metrics(),
                        base_url=base, days=days, limits=limits)
    return links, store, sender, events


def token_of(url):
    match = URL.fullmatch(url)
    assert match, url
    return match.group(1)


def test_a_link_is_random_256_bits_stored_only_as_its_sha256():
    links, store, _, _ = build()
    url = links.mint("C-1", "Ann@Acme.example", NOW)
    token = token_of(url)
    assert len(token) == 43  # 32 bytes, urlsafe base64 without padding
    [record] = store.links.values()
    assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(record) and token not in repr(store.__dict__)
    assert record.contact_email == "ann@acme.example"
    assert record.expires_at == NOW + timedelta(days=45)
    assert token_of(links.mint("C-1", "ann@acme.example", NOW)) != token


def test_opening_never_uses_a_link_up():
    links, _, _, _ = build()
    token = token_of(links.mint("C-1", "ann@acme.example", NOW))
    first = links.open(token, NOW)
    assert first is not None and first.customer_id == "C-1" and first.contact_email == "ann@acme.example"
    for minutes in (1, 2, 60 * 24):  # the mail scanner, then the person, then again the next day
        assert links.open(token, NOW + timedelta(minutes=minutes)) == first


def test_expiry_is_a_setting():
    links, _, _, _ = build(days=3)
    token = token_of(links.mint("C-1", "ann@acme.example", NOW))
    grant = links.open(token, NOW + timedelta(days=3) - timedelta(seconds=1))
    assert grant is not None and links.still_valid(grant, NOW + timedelta(days=2))
    assert links.open(token, NOW + timedelta(days=3)) is None
    assert not links.still_valid(grant, NOW + timedelta(days=3))


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * 42 + "!", "../" * 15, "A" * 44])
def test_unknown_or_malformed_tokens_open_nothing(token):
    links, _, _, _ = build()
    links.mint("C-1", "ann@acme.example", NOW)
    assert links.open(token, NOW) is None


def test_revoking_ends_every_link_and_every_session_and_says_how_many():
    links, _, _, events = build()
    tokens = [token_of(links.mint("C-1", e, NOW)) for e in ("ann@acme.example", "bob@acme.example")]
    other = token_of(links.mint("C-2", "ann@acme.example", NOW))
    grant = links.open(tokens[0], NOW)
    assert grant is not None and links.still_valid(grant, NOW)
    assert links.revoke_all("C-1", "key:staff", NOW + timedelta(minutes=1)) == 2
    assert all(links.open(t, NOW + timedelta(minutes=2)) is None for t in tokens)
    assert not links.still_valid(grant, NOW + timedelta(minutes=2))  # the session it opened ends too
    assert links.open(other, NOW + timedelta(minutes=2)) is not None  # another customer's link is untouched
    [event] = [e for e in events.events if e.type == "portal.links_revoked"]
    assert event.entity == "customer#C-1" and event.actor == "key:staff" and event.data["links"] == 2
    # A link minted after the revocation (even in the same instant) works.
    fresh = token_of(links.mint("C-1", "ann@acme.example", NOW + timedelta(minutes=1)))
    assert links.open(fresh, NOW + timedelta(minutes=1)) is not None
    assert links.revoke_all("C-1", "key:staff", NOW + timedelta(minutes=3)) == 1


def test_a_session_grant_with_a_forged_generation_is_not_valid():
    links, _, _, _ = build()
    grant = links.open(token_of(links.mint("C-1", "ann@acme.example", NOW)), NOW)
    assert grant is not None and generation_of(grant.link_id) == 0
    from dataclasses import replace
    assert not links.still_valid(replace(grant, link_id="nonsense"), NOW)


def test_revoking_an_unknown_customer_is_not_found():
    links, _, _, _ = build()
    with pytest.raises(NotFound):
        links.revoke_all("C-404", "key:staff", NOW)
    with pytest.raises(NotFound):
        links.send_fresh("C-404", "key:staff", NOW)


def test_send_fresh_mails_each_reachable_contact_a_working_link_once_per_minute():
    links, _, sender, events = build()
    assert links.send_fresh("C-1", "key:staff", NOW) == 2
    assert sorted(e.to for e in sender.emails) == ["ann@acme.example", "bob@acme.example"]
    for email in sender.emails:
        token = token_of(re.search(r"https://\S+", email.text).group(0))
        grant = links.open(token, NOW)
        assert grant is not None and grant.contact_email == email.to and email.tag == "portal_link"
    assert links.send_fresh("C-1", "key:staff", NOW + timedelta(seconds=20)) == 0  # a double click
    assert len(sender.emails) == 2
    sent = [e for e in events.events if e.type == "portal.link_sent"]
    assert len(sent) == 2 and {e.data["contact_email"] for e in sent} == {"ann@acme.example", "bob@acme.example"}
    assert all(e.actor == "key:staff" and e.data["link_id"] for e in sent)
    assert links.send_fresh("C-1", "key:staff", NOW + timedelta(minutes=1)) == 2


def test_send_fresh_is_rate_limited_per_customer():
    links, _, _, _ = build(limits=RateLimits(send_fresh_per_customer=2))
    links.send_fresh("C-1", "key:staff", NOW)
    links.send_fresh("C-1", "key:staff", NOW + timedelta(minutes=1))
    with pytest.raises(TooManyRequests) as raised:
        links.send_fresh("C-1", "key:staff", NOW + timedelta(minutes=2))
    assert 0 < raised.value.retry_after <= 3600
    assert links.send_fresh("C-2", "key:staff", NOW + timedelta(minutes=2)) == 1


def test_resend_by_expired_token_mails_the_address_on_file_a_fresh_link():
    links, _, sender, events = build(days=1)
    old = token_of(links.mint("C-1", "ann@acme.example", NOW))
    later = NOW + timedelta(days=5)
    assert links.open(old, later) is None
    assert links.resend(None, old, "203.0.113.9", later) is None
    [email] = sender.emails
    assert email.to == "ann@acme.example"
    assert links.open(token_of(re.search(r"https://\S+", email.text).group(0)), later).customer_id == "C-1"
    assert [e.actor for e in events.events if e.type == "portal.link_resent"] == ["portal:ann@acme.example"]
    links.resend(None, old, "203.0.113.9", later + timedelta(minutes=5))  # once per address and hour
    assert len(sender.emails) == 1


def test_resend_by_address_reaches_every_customer_it_is_on_file_for_and_nothing_else():
    links, _, sender, _ = build()
    links.mint("C-1", "ann@acme.example", NOW)
    links.mint("C-2", "ann@acme.example", NOW)
    links.resend("ANN@acme.example ", None, "203.0.113.9", NOW)
    assert sorted(e.to for e in sender.emails) == ["ann@acme.example", "ann@acme.example"]
    before = len(sender.emails)
    for unknown in ("mallory@evil.example", "not an address", "", None):
        assert links.resend(unknown, None, "203.0.113.10", NOW) is None
    assert len(sender.emails) == before


def test_resend_never_mails_an_address_no_longer_on_file_or_suppressed():
    moved = Customer("C-1", "Acme GmbH", (Contact("Bob", "bob@acme.example"),
                                          Contact("Gone", "gone@acme.example", email_suppressed=True)))
    links, _, sender, _ = build(customers=(moved,))
    tokens = [token_of(links.mint("C-1", e, NOW)) for e in ("ann@acme.example", "gone@acme.example")]
    for token in tokens:
        links.resend(None, token, "203.0.113.9", NOW)
    links.resend("ann@acme.example", None, "203.0.113.9", NOW)
    assert sender.emails == []


def test_resend_is_rate_limited_per_client_and_overall_the_same_for_known_and_unknown_addresses():
    links, _, sender, _ = build(limits=RateLimits(resend_per_client=2, resend_overall=3))
    links.mint("C-1", "ann@acme.example", NOW)
    links.resend("ann@acme.example", None, "198.51.100.1", NOW)
    links.resend("nobody@example.com", None, "198.51.100.1", NOW)
    for address in ("ann@acme.example", "nobody@example.com"):
        with pytest.raises(TooManyRequests):
            links.resend(address, None, "198.51.100.1", NOW)
    links.resend("nobody@example.com", None, "198.51.100.2", NOW)
    with pytest.raises(TooManyRequests):  # everyone's limit
        links.resend("ann@acme.example", None, "198.51.100.3", NOW)
    assert len(sender.emails) == 1
    links.resend("ann@acme.example", None, "198.51.100.3", NOW + timedelta(hours=1))
    assert len(sender.emails) == 2


def test_may_open_limits_link_opens_per_client():
    links, _, _, _ = build(limits=RateLimits(open_per_client=2))
    assert links.may_open("a", NOW) is None and links.may_open("a", NOW) is None
    assert links.may_open("a", NOW) is not None and links.may_open("b", NOW) is None


def test_without_a_public_base_url_there_are_no_links_and_resend_says_nothing():
    links, _, sender, _ = build(base=None)
    assert not links.enabled
    links.resend("ann@acme.example", None, "203.0.113.9", NOW)
    assert sender.emails == []


def test_checking_a_session_costs_one_read_and_opening_two():
    links, store, _, _ = build()
    token = token_of(links.mint("C-1", "ann@acme.example", NOW))
    store.requests = 0
    grant = links.open(token, NOW)
    assert store.requests == 2
    store.requests = 0
    assert links.still_valid(grant, NOW) and store.requests == 1



@pytest.mark.parametrize(("env", "base", "days"), [
    ({}, None, 45),
    ({"PUBLIC_BASE_URL": "https://api.example.com/api/", "PORTAL_LINK_DAYS": "30"}, "https://api.example.com/api", 30),
    ({"PUBLIC_BASE_URL": "http://127.0.0.1:8000"}, "http://127.0.0.1:8000", 45),
])
def test_settings(env, base, days):
    from chalicelib.config import Settings

    settings = Settings.from_env(env)
    assert (settings.public_base_url, settings.portal_link_days) == (base, days)


@pytest.mark.parametrize("env", [{"PUBLIC_BASE_URL": "api.example.com"}, {"PUBLIC_BASE_URL": "ftp://x.example"},
                                 {"PUBLIC_BASE_URL": "https://x.example/?a=1"}, {"PORTAL_LINK_DAYS": "0"},
                                 {"PORTAL_LINK_DAYS": "forty"}])
def test_bad_settings_name_their_variable(env):
    from chalicelib.config import ConfigError, Settings

    with pytest.raises(ConfigError, match=next(iter(env))):
        Settings.from_env(env)
