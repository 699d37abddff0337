"""Every new reminder (dunning and plan instalments, email and SMS) and receipt mints a fresh personal link for its
recipient; a failing link store never holds a message back."""

from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.dunning.policy import DEFAULT_POLICY
from chalicelib.services.dunning import DunningService, DunningSettings
from chalicelib.services.portal_links import PortalLinks
from chalicelib.services.ports import AuditEvent
from chalicelib.services.receipts import PaymentReceipts
from tests.unit.dunning.factories import customer, invoice
from tests.unit.services import portal_link_fakes as f
from tests.unit.services import sending_fakes as fakes
from tests.unit.services.fakes import Ledger, Metrics

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ACME = customer()


def links(store=None):
    return PortalLinks(store or f.LinkStore(), f.RateLimiter(), fakes.Customers(ACME), fakes.Claims(), fakes.Sender(),
                       f.render, f.EventLog(), Metrics(), base_url="https://api.example.com/api/")


def sweep(portal, *invoices, channels_policy=DEFAULT_POLICY):
    ledger = Ledger(*invoices)
    renderer, recorded = fakes.Renderer(), fakes.Recorded()
    service = DunningService(
        ledger, ledger, fakes.Customers(ACME), lambda _policy_id: channels_policy, DunningSettings,
        fakes.Claims(ledger), fakes.Sender(), renderer, fakes.Tasks(), recorded, recorded, recorded, recorded,
        clock=lambda: NOW, portal_link=portal.for_message)
    return service, renderer


def due(number, due_date):
    return invoice(number=number, due=due_date, first_seen_on=date(2026, 1, 5), version=1,
                   next_action_at=NOW - timedelta(hours=1))


def test_each_reminder_carries_a_fresh_link_that_opens_the_customers_portal():
    portal = links()
    service, renderer = sweep(portal, due("INV-1", date(2026, 12, 1)))
    service.run(as_of=TODAY)
    [url] = renderer.portal_urls
    assert url.startswith("https://api.example.com/api/portal/open/")
    grant = portal.open(url.rsplit("/", 1)[1], NOW)
    assert grant is not None and grant.customer_id == "acme" and grant.contact_email == "ada@example.com"
    service2, renderer2 = sweep(portal, due("INV-2", TODAY))
    service2.run(as_of=TODAY)
    assert renderer2.portal_urls[0] != url  # a new message, a new link


def test_a_failing_link_store_sends_the_reminder_without_a_link():
    class Broken(f.LinkStore):
        def put(self, record, keep_until):
            raise OSError("DynamoDB is down")

    service, renderer = sweep(links(Broken()), due("INV-1", date(2026, 12, 1)))
    summary = service.run(as_of=TODAY)
    assert renderer.portal_urls == [None] and summary.messages_sent["email"] == 1


def test_without_a_base_url_no_link_is_minted():
    portal = PortalLinks(f.LinkStore(), f.RateLimiter(), fakes.Customers(ACME), fakes.Claims(), fakes.Sender(),
                         f.render, f.EventLog(), Metrics(), base_url=None)
    service, renderer = sweep(portal, due("INV-1", date(2026, 12, 1)))
    service.run(as_of=TODAY)
    assert renderer.portal_urls == [None]


def test_a_receipt_carries_a_fresh_link():
    portal = links()
    stored_customer = customer(payment_receipts=True)
    seen = {}

    def render(*args, portal_url=None):
        seen["url"] = portal_url
        from chalicelib.formats.portal_links import LinkEmail
        return LinkEmail("s", "<p>h</p>", "t")

    receipts = PaymentReceipts(fakes.Customers(stored_customer), render, fakes.Sender(), Metrics(), None,
                               fakes.Claims(), clock=lambda: NOW, portal_link=portal.for_message)
    event = AuditEvent("payment#pay_1", "payment.payment_recorded", "system", NOW, "d",
                       {"customer_id": "acme", "amount": "10.00", "currency": "EUR",
                        "occurred_at": "2026-11-24T09:00:00+00:00", "allocations": []})
    assert receipts.send(event) is not None
    assert portal.open(seen["url"].rsplit("/", 1)[1], NOW).contact_email == "ada@example.com"
