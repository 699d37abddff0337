"""Personal portal links on moto: stored only hashed, revoked by staff (DELETE) at once, sent fresh by staff (POST),
expiring, rate-limited across containers, and a reminder sent through SES carries a link that opens."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import bootstrap, config
from chalicelib.adapters.models import EventModel
from chalicelib.adapters.portal_links import DynamoRateLimiter
from tests.integration.helpers import drop, dunwell_csv, get_json

BASE = "https://abc123.execute-api.eu-west-1.amazonaws.com/api"
LINK = re.compile(re.escape(BASE) + r"/portal/open/([A-Za-z0-9_-]{43})")
ROW = "{number},invoice,acme,Acme GmbH,{email},,{language},Europe/Berlin,DE,2026-11-01,{due},,EUR,1000.00,0,,open,"


def row(number: str, due: str = "2026-12-01", email_address: str = "ap@acme.example", language: str = "de") -> str:
    return ROW.format(number=number, email=email_address, language=language, due=due)


@pytest.fixture
def portal(dunning: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", BASE + "/")
    monkeypatch.setenv("PORTAL_LINK_DAYS", "30")
    bootstrap.reset()


def mails() -> list[Any]:
    backend = ses_backends[DEFAULT_ACCOUNT_ID][config.settings().region]
    return [email.message_from_string(m.raw_data, policy=email.policy.default) for m in backend.sent_messages]


def part(message: Any, kind: str) -> str:
    for p in message.walk():
        if p.get_content_type() == kind:
            return str(p.get_payload(decode=True).decode())
    raise AssertionError(f"no {kind} part")


def whole_table() -> list[dict[str, Any]]:
    """Every item of the links table, raw (a test may Scan; the code never does)."""
    client = boto3.client("dynamodb", region_name=config.settings().region)
    return client.scan(TableName=config.settings().portal_links_table)["Items"]


def post(client: Any, path: str, headers: dict[str, str], method: str = "POST") -> Any:
    return client.http.request(method, path, headers=headers, body=b"")


def test_a_reminder_carries_a_link_that_opens_and_the_token_is_stored_only_hashed(
        client: Any, s3: Any, bucket: str, portal: None, admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    response = client.http.post("/dunning/runs", headers={**admin_headers, "Content-Type": "application/json"},
                                body=json.dumps({"as_of": "2026-11-24"}))
    assert response.status_code == 200, response.body
    [message] = mails()
    text, html = part(message, "text/plain"), part(message, "text/html")
    token = LINK.search(text).group(1)
    assert f'href="{BASE}/portal/open/{token}"' in html
    assert "persönlichen Kundenkonto" in text  # in the contact's language

    grant = bootstrap.portal_links().open(token, datetime.now(UTC))
    assert grant is not None and (grant.customer_id, grant.contact_email) == ("acme", "ap@acme.example")
    assert grant.expires_at - grant.issued_at == timedelta(days=30)  # PORTAL_LINK_DAYS
    assert bootstrap.portal_links().open(token, datetime.now(UTC)) == grant  # opening used nothing up

    import hashlib
    items = json.dumps(whole_table())
    assert token not in items and hashlib.sha256(token.encode()).hexdigest() in items
    assert all(token not in json.dumps(e.attribute_values, default=str) for e in EventModel.scan())


def test_staff_send_fresh_links_and_revoke_them_all(client: Any, s3: Any, bucket: str, portal: None,
                                                    collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1"), row("INV-2", email_address="ceo@acme.example",
                                                                              language="fr")))
    response = post(client, "/customers/acme/portal-links", collector_headers)
    assert response.status_code == 200, response.body
    sent = json.loads(response.body)
    links = bootstrap.portal_links()
    now = datetime.now(UTC)
    tokens = {m["To"]: LINK.search(part(m, "text/plain")).group(1) for m in mails()}
    assert sent == {"customer_id": "acme", "sent": len(tokens)} and len(tokens) >= 1
    grants = [links.open(t, now) for t in tokens.values()]
    assert all(g is not None and g.customer_id == "acme" for g in grants)

    response = post(client, "/customers/acme/portal-links", collector_headers, "DELETE")
    assert response.status_code == 200, response.body
    assert json.loads(response.body) == {"customer_id": "acme", "revoked": len(tokens)}
    later = datetime.now(UTC)
    assert all(links.open(t, later) is None for t in tokens.values())
    assert not any(links.still_valid(g, later) for g in grants if g is not None)  # sessions end too
    fresh = links.mint("acme", "ap@acme.example", later)
    assert links.open(fresh.rsplit("/", 1)[1], later) is not None

    status, timeline = get_json(client, "/customers/acme/timeline", collector_headers)
    types = [e["type"] for e in timeline["items"]]
    assert status == 200 and "portal.link_sent" in types and "portal.links_revoked" in types
    assert not any(t in json.dumps(timeline) for t in tokens.values())


def test_routes_answer_404_for_an_unknown_customer_and_need_a_collector(
        client: Any, portal: None, collector_headers: dict[str, str]) -> None:
    assert post(client, "/customers/nobody/portal-links", collector_headers).status_code == 404
    assert post(client, "/customers/nobody/portal-links", collector_headers, "DELETE").status_code == 404
    from tests.integration.conftest import issue_key
    viewer = {"Authorization": f"Bearer {issue_key('viewer')}"}
    assert post(client, "/customers/nobody/portal-links", viewer).status_code == 403


def test_staff_sends_are_rate_limited_with_retry_after(client: Any, s3: Any, bucket: str, portal: None,
                                                       collector_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    statuses = [post(client, "/customers/acme/portal-links", collector_headers) for _ in range(11)]
    assert [r.status_code for r in statuses] == [200] * 10 + [429]
    assert int(statuses[-1].headers["Retry-After"]) > 0
    assert json.loads(statuses[-1].body)["error"]["code"] == "too_many_requests"


def test_expired_links_open_nothing_and_the_expired_link_page_mails_a_fresh_one(
        client: Any, s3: Any, bucket: str, portal: None) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    links = bootstrap.portal_links()
    long_ago = datetime.now(UTC) - timedelta(days=31)
    old = links.mint("acme", "ap@acme.example", long_ago).rsplit("/", 1)[1]
    now = datetime.now(UTC)
    assert links.open(old, long_ago + timedelta(days=29)) is not None
    assert links.open(old, now) is None
    links.resend(None, old, "203.0.113.7", now)
    links.resend("nobody@example.com", None, "203.0.113.7", now)  # the same answer, no mail
    [message] = mails()
    assert message["To"] == "ap@acme.example"
    assert links.open(LINK.search(part(message, "text/plain")).group(1), now).customer_id == "acme"
    links.resend("AP@acme.example", None, "203.0.113.8", now)  # the same address within the hour: no second mail
    assert len(mails()) == 1


def test_the_rate_limiter_counts_across_instances_per_window(aws: None) -> None:
    now = datetime(2026, 12, 7, 10, 15, tzinfo=UTC)
    first, second = DynamoRateLimiter(), DynamoRateLimiter()  # two Lambda containers
    window = timedelta(hours=1)
    assert first.hit("k", 2, window, now) is None and second.hit("k", 2, window, now) is None
    assert first.hit("k", 2, window, now) == 45 * 60
    assert second.hit("other", 2, window, now) is None
    assert first.hit("k", 2, window, now + timedelta(minutes=45)) is None  # the next window


def test_what_each_operation_costs_in_dynamodb_requests(client: Any, s3: Any, bucket: str, portal: None) -> None:
    """A portal page view checks its session with one GetItem; opening a link costs two, minting two."""
    from bench.harness import DynamoCounter

    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    links, now, counter = bootstrap.portal_links(), datetime.now(UTC), DynamoCounter()
    with counter.counting():
        token = links.mint("acme", "ap@acme.example", now).rsplit("/", 1)[1]
        minted = dict(counter.requests)
        counter.reset()
        grant = links.open(token, now)
        opened = dict(counter.requests)
        counter.reset()
        assert grant is not None and links.still_valid(grant, now)
        checked = dict(counter.requests)
        counter.reset()
        links.revoke_all("acme", "key:test", now)
        revoked = dict(counter.requests)
    assert minted == {"GetItem": 1, "BatchWriteItem": 1}
    assert opened == {"GetItem": 2}
    assert checked == {"GetItem": 1}
    assert "Scan" not in revoked and revoked.get("Query") == 1
    print(f"\nDynamoDB requests: mint {minted}, open {opened}, still_valid {checked}, revoke_all {revoked}")
