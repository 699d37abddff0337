"""PortalActions and PlanRequests with in-memory ports: the customer's actions go through the staff use cases with
the actor `portal:<email>`, never touch another customer's invoice, and a plan request becomes a plan (or not) with
the customer told once."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.collections import DisputeStatus
from chalicelib.domain.customer import Contact
from chalicelib.domain.dunning.policy import DEFAULT_POLICY
from chalicelib.domain.errors import CurrencyMismatch, InvalidDocument, InvalidMoney, NotAllowed, NotFound
from chalicelib.domain.money import Money
from chalicelib.domain.plan_requests import PlanRequestDecided, PlanRequestStatus
from chalicelib.formats.messages import Seller
from chalicelib.formats.plan_request_mail import PlanRequestMailRenderer
from chalicelib.services.collections import CollectionsService
from chalicelib.services.plan_requests import PlanRequests, plan_id_for
from chalicelib.services.plans import PlanService
from chalicelib.services.portal_actions import PortalActions
from chalicelib.services.ports import VersionConflict
from tests.unit.dunning.factories import customer, invoice
from tests.unit.services import sending_fakes as fakes
from tests.unit.services.fakes import Ledger

TODAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ADA = "ada@example.com"
SELLER = Seller("Dunwell Demo GmbH", "billing@example.com", None, "DE89370400440532013000", "COBADEFFXXX",
                ("Hauptstr. 1", "10115 Berlin"))


class Disputes:
    def __init__(self, ledger):
        self.ledger, self.disputes = ledger, {}

    def get(self, dispute_id):
        return self.disputes.get(dispute_id)

    def save(self, dispute, invoice, events, now):
        current = self.disputes.get(dispute.dispute_id)
        if (current.version if current else 0) != dispute.version:
            raise VersionConflict(dispute.dispute_id)
        saved_invoice = self.ledger.save_invoice(invoice, events, now)
        saved = replace(dispute, version=dispute.version + 1)
        self.disputes[dispute.dispute_id] = saved
        return saved, saved_invoice

    def list(self, status, limit, cursor):
        return [d for d in self.disputes.values() if d.status.value == status][:limit], None


class Requests:
    """PlanRequestStore: new only when none exists under the id, else at the version read."""

    def __init__(self):
        self.items, self.events = {}, []

    def get(self, request_id):
        return self.items.get(request_id)

    def save(self, request, events, now):
        current = self.items.get(request.request_id)
        if (current.version if current else 0) != request.version:
            raise VersionConflict(request.request_id)
        saved = replace(request, version=request.version + 1)
        self.items[request.request_id] = saved
        self.events.extend(events)
        return saved

    def by_status(self, status, limit, cursor):
        return [r for r in self.items.values() if r.status.value == status][:limit], None

    def for_customer(self, customer_id, limit, cursor):
        return [r for r in self.items.values() if r.customer_id == customer_id][:limit], None


def world(*, contact_language=None, contacts=None):
    ledger = Ledger(invoice(number="INV-1", total="900.00", due=date(2026, 11, 1), version=1),
                    invoice(number="INV-2", total="300.00", due=date(2026, 11, 15), version=1),
                    replace(invoice(number="OTHER-1", total="50.00", due=date(2026, 11, 1), version=1),
                            customer_id="globex"))
    acme = customer()
    if contact_language or contacts:
        acme = replace(acme, contacts=contacts or (Contact(name="Ada", email=ADA, language=contact_language),))
    customers = fakes.Customers(acme)
    plans_store = fakes.Plans(ledger)
    w = {"ledger": ledger, "plans": plans_store, "sender": fakes.Sender(), "tasks": fakes.Tasks(),
         "requests": Requests(), "customers": customers}
    w["claims"] = fakes.Claims(ledger, plans_store)
    w["collections"] = CollectionsService(ledger, Disputes(ledger), write_off_collector_limit=Decimal("100"),
                                          clock=lambda: NOW, new_id=lambda: "dsp_" + "1" * 24)
    w["plan_service"] = PlanService(plans_store, ledger, customers, lambda _p: DEFAULT_POLICY, w["claims"],
                                    w["sender"], fakes.Renderer(), w["tasks"], fakes.Recorded(), clock=lambda: NOW)
    w["desk"] = PlanRequests(w["requests"], ledger, customers, w["plan_service"], w["tasks"], w["claims"],
                             w["sender"], PlanRequestMailRenderer(SELLER), clock=lambda: NOW)
    w["portal"] = PortalActions(ledger, w["collections"], lambda: w["desk"])
    return w


# ---- disputes and promises ---------------------------------------------------------------------------

def test_a_dispute_from_the_portal_is_the_staff_dispute_with_the_portal_actor():
    w = world()
    dispute = w["portal"].dispute("acme", ADA, "INV-1", "damaged", Money.of("100.00", "EUR"), " two crates broken ")
    assert dispute.opened_by == f"portal:{ADA}" and dispute.note == "two crates broken"
    assert dispute.amount == Money.of("100.00", "EUR") and dispute.status is DisputeStatus.OPEN
    [event] = [e for e in w["ledger"].events if e.type == "invoice.disputed"]
    assert event.actor == f"portal:{ADA}" and event.entity == "invoice#INV-1" and event.data["reason"] == "damaged"
    assert w["ledger"].invoices["INV-1"].dispute_id == dispute.dispute_id


@pytest.mark.parametrize("action", ["dispute", "promise", "plan"])
@pytest.mark.parametrize("invoice_id", ["OTHER-1", "NOPE-9"])
def test_another_customers_invoice_is_not_found_like_an_unknown_one(action, invoice_id):
    w = world()
    with pytest.raises(NotFound) as caught:
        if action == "dispute":
            w["portal"].dispute("acme", ADA, invoice_id, "other", None, "")
        elif action == "promise":
            w["portal"].promise("acme", ADA, ["INV-1", invoice_id], TODAY + timedelta(days=5), None, TODAY)
        else:
            w["portal"].request_plan("acme", ADA, [invoice_id], 3, TODAY + timedelta(days=7), TODAY)
    assert str(caught.value) == f"invoice {invoice_id} not found"
    assert w["ledger"].events == [] and w["requests"].items == {} and w["tasks"].tasks == {}


def test_a_dispute_amount_in_another_currency_is_refused():
    with pytest.raises(CurrencyMismatch):
        world()["portal"].dispute("acme", ADA, "INV-1", "pricing", Money.of("10.00", "USD"), "")


def test_a_promise_without_an_amount_promises_each_open_balance():
    w = world()
    until = TODAY + timedelta(days=14)
    promised = w["portal"].promise("acme", ADA, ["INV-1", "INV-2"], until, None, TODAY)
    assert [(i.invoice_id, i.promised_until) for i in promised] == [("INV-1", until), ("INV-2", until)]
    events = [e for e in w["ledger"].events if e.type == "invoice.promised"]
    assert [e.data["amount"] for e in events] == ["900.00", "300.00"]
    assert {e.actor for e in events} == {f"portal:{ADA}"}


def test_a_promised_amount_is_spread_over_the_invoices_in_order():
    w = world()
    promised = w["portal"].promise("acme", ADA, ["INV-2", "INV-1"], TODAY + timedelta(days=3),
                                   Money.of("500.00", "EUR"), TODAY)
    assert [i.invoice_id for i in promised] == ["INV-2", "INV-1"]
    assert [e.data["amount"] for e in w["ledger"].events if e.type == "invoice.promised"] == ["300.00", "200.00"]


@pytest.mark.parametrize(("until", "amount", "error"), [
    (TODAY + timedelta(days=91), None, InvalidDocument),
    (TODAY - timedelta(days=1), None, InvalidDocument),
    (TODAY + timedelta(days=5), Money.of("1200.01", "EUR"), InvalidMoney),
    (TODAY + timedelta(days=5), Money.of("0.00", "EUR"), InvalidMoney),
    (TODAY + timedelta(days=5), Money.of("10.00", "USD"), CurrencyMismatch),
])
def test_a_promise_is_refused_beyond_90_days_in_the_past_or_above_what_is_open(until, amount, error):
    w = world()
    with pytest.raises(error):
        w["portal"].promise("acme", ADA, ["INV-1", "INV-2"], until, amount, TODAY)
    assert w["ledger"].events == []


def test_a_promise_90_days_ahead_is_accepted():
    w = world()
    [promised] = w["portal"].promise("acme", ADA, ["INV-1"], TODAY + timedelta(days=90), None, TODAY)
    assert promised.promised_until == TODAY + timedelta(days=90)


# ---- plan requests ---------------------------------------------------------------------------------

def request(w, instalments=3, first=TODAY + timedelta(days=7), ids=("INV-1", "INV-2")):
    return w["portal"].request_plan("acme", ADA, list(ids), instalments, first, TODAY)


def test_a_plan_request_is_stored_with_its_proposal_and_opens_one_collector_task():
    w = world()
    made = request(w)
    again = request(w)  # the form sent twice
    assert again.request_id == made.request_id and len(w["requests"].items) == 1
    assert made.status is PlanRequestStatus.PENDING and made.requested_by == f"portal:{ADA}"
    assert made.total == Money.of("1200.00", "EUR")
    assert [(i.due_date, i.amount.to_api()) for i in made.proposal] == [
        (date(2026, 12, 14), "400.00"), (date(2027, 1, 14), "400.00"), (date(2027, 2, 14), "400.00")]
    [task] = w["tasks"].tasks.values()
    assert task.kind == "plan_request" and task.task_id == f"plan_request:{made.request_id}"
    assert task.detail["proposal"][0] == {"number": 1, "due_date": "2026-12-14", "amount": "400.00"}
    assert "Acme GmbH" in task.title and "3 instalments" in task.title
    types = [e.type for e in w["requests"].events]
    assert types == ["plan.requested", "invoice.plan_requested", "invoice.plan_requested"]
    assert w["plans"].plans == {}  # nothing is planned until a collector accepts
    assert not w["ledger"].invoices["INV-1"].in_plan


@pytest.mark.parametrize(("instalments", "first"), [(0, TODAY + timedelta(days=7)), (37, TODAY + timedelta(days=7)),
                                                    (3, TODAY - timedelta(days=1))])
def test_a_plan_request_that_could_not_become_a_plan_is_refused(instalments, first):
    w = world()
    with pytest.raises(NotAllowed):
        request(w, instalments, first)
    assert w["requests"].items == {} and w["tasks"].tasks == {}


def test_a_plan_request_over_a_disputed_invoice_is_refused():
    w = world()
    w["portal"].dispute("acme", ADA, "INV-1", "other", None, "")
    with pytest.raises(NotAllowed):
        request(w)


def test_accepting_makes_the_plan_through_the_plan_use_case_closes_the_task_and_tells_the_customer_once():
    w = world()
    made = request(w)
    done = w["desk"].accept(made.request_id, "key:collector")
    again = w["desk"].accept(made.request_id, "key:collector")  # a retried click
    plan = done.plan.plan
    assert plan.plan_id == plan_id_for(made.request_id) and again.plan.plan.plan_id == plan.plan_id
    assert plan.created_by == "key:collector" and plan.total == Money.of("1200.00", "EUR")
    assert len(plan.instalments) == 3 and len(w["plans"].plans) == 1
    assert w["ledger"].invoices["INV-1"].in_plan and w["ledger"].invoices["INV-1"].plan_id == plan.plan_id
    assert done.request.status is PlanRequestStatus.ACCEPTED and done.request.plan_id == plan.plan_id
    assert w["tasks"].tasks[made.task_id].status == "done"
    [mail] = w["sender"].emails
    assert mail.to == ADA and mail.tag == "plan_request" and "agreed" in mail.subject
    assert "400.00" in mail.text and "Dec 14, 2026" in mail.text
    types = [e.type for e in w["requests"].events]
    assert types.count("plan.request_accepted") == 1 and types.count("plan.request_answer_sent") == 1
    assert "plan.created" in [e.type for e in w["plans"].events]


def test_the_collector_may_change_the_count_and_first_date_when_accepting():
    w = world()
    made = request(w)
    done = w["desk"].accept(made.request_id, "key:collector", instalments=2, first_date=TODAY + timedelta(days=30))
    assert [i.due_date for i in done.plan.plan.instalments] == [date(2027, 1, 6), date(2027, 2, 6)]
    assert "2027" in w["sender"].emails[0].text


def test_an_acceptance_retried_after_the_plan_was_made_finds_that_plan():
    w = world()
    made = request(w)
    w["plan_service"].create("acme", ["INV-1", "INV-2"], count=3, first_due_date=made.first_date,
                             actor="key:collector", plan_id=plan_id_for(made.request_id))  # then the process died
    done = w["desk"].accept(made.request_id, "key:collector")
    assert done.request.status is PlanRequestStatus.ACCEPTED and len(w["plans"].plans) == 1


def test_declining_records_the_reason_and_tells_the_customer_in_their_language():
    w = world(contact_language="de")
    made = request(w)
    declined = w["desk"].decline(made.request_id, "  Zu lange Laufzeit  ", "key:collector")
    w["desk"].decline(made.request_id, "again", "key:collector")  # a retry answers again, sends nothing twice
    assert declined.status is PlanRequestStatus.DECLINED and declined.decline_reason == "Zu lange Laufzeit"
    [mail] = w["sender"].emails
    assert mail.subject.startswith("Ihre Anfrage nach Ratenzahlung") and "Begründung: Zu lange Laufzeit" in mail.text
    assert 'lang="de"' in mail.html
    assert w["tasks"].tasks[made.task_id].status == "done" and w["plans"].plans == {}
    with pytest.raises(PlanRequestDecided):
        w["desk"].accept(made.request_id, "key:collector")


def test_an_accepted_request_cannot_be_declined():
    w = world()
    made = request(w)
    w["desk"].accept(made.request_id, "key:collector")
    with pytest.raises(PlanRequestDecided):
        w["desk"].decline(made.request_id, "changed my mind", "key:collector")


def test_the_answer_goes_to_another_contact_when_the_asker_bounced():
    w = world(contacts=(Contact(name="Ada", email=ADA, email_suppressed=True),
                        Contact(name="Bob", email="bob@example.com", language="fr")))
    made = request(w)
    w["desk"].decline(made.request_id, "Trop long", "key:collector")
    [mail] = w["sender"].emails
    assert mail.to == "bob@example.com" and mail.subject.startswith("Votre demande")


@pytest.mark.parametrize(("lang", "accepted_words"), [("en", "Instalment 1"), ("de", "Rate 1"),
                                                      ("fr", "Échéance 1"), ("es", "Plazo 1")])
def test_the_accepted_mail_lists_the_instalments_in_each_language(lang, accepted_words):
    w = world(contact_language=lang)
    made = request(w)
    w["desk"].accept(made.request_id, "key:collector")
    [mail] = w["sender"].emails
    assert accepted_words in mail.text and f'lang="{lang}"' in mail.html


def test_unknown_request_is_not_found():
    with pytest.raises(NotFound):
        world()["desk"].get("prq_" + "0" * 24)


def test_the_customer_sees_their_own_plan_requests_and_the_answer_mail_is_keyed_by_customer():
    w = world()
    made = request(w)
    w["desk"].decline(made.request_id, "too long", "key:collector")
    assert [(r.request_id, r.status) for r in w["portal"].plan_requests("acme")] == [
        (made.request_id, PlanRequestStatus.DECLINED)]
    assert w["portal"].plan_requests("globex") == []
    assert w["sender"].emails[0].message_key == f"acme#plan_request#{made.request_id}#declined"
