"""Letters for the post with in-memory ports: queued once per send, listed, posted (audited), and a dunning step
with the `letter` channel that leaves a letter in the print queue once."""

import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pypdf
import pytest

from chalicelib.domain.customer import Address
from chalicelib.domain.dunning.policy import Policy, Step
from chalicelib.domain.errors import NotFound
from chalicelib.domain.letters import LetterStatus
from chalicelib.formats.letter_pdf import render_letter_pdf
from chalicelib.formats.messages import Seller
from chalicelib.formats.reminders import ReminderRenderer
from chalicelib.services.dunning import DunningService, DunningSettings
from chalicelib.services.letters import Letters
from chalicelib.services.ports import VersionConflict
from tests.unit.dunning.factories import customer, invoice
from tests.unit.services import sending_fakes as fakes
from tests.unit.services.fakes import Ledger

TODAY = date(2026, 11, 24)  # a Tuesday
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SELLER = Seller("Nordlicht GmbH", "ar@nordlicht.example", None, "DE89370400440532013000", None,
                ("Hauptstraße 1", "10115 Berlin"))
ACME = customer(language="de", address=Address("Industriestraße 5", None, "80331", "München", None, "DE"))
PAPER = Policy("paper", "Email, then a letter", (
    Step("overdue_7", 7, ("email",), "reminder_overdue", "firm"),
    Step("overdue_21", 21, ("email", "letter"), "reminder_overdue_second", "firm")))


class Store:
    def __init__(self):
        self.letters, self.events = {}, []

    def get(self, letter_id):
        return self.letters.get(letter_id)

    def create(self, letter, events):
        if letter.letter_id in self.letters:
            return self.letters[letter.letter_id]
        return self.save(letter, events)

    def save(self, letter, events):
        current = self.letters.get(letter.letter_id)
        if (current.version if current else 0) != letter.version:
            raise VersionConflict(letter.letter_id)
        saved = replace(letter, version=letter.version + 1)
        self.letters[letter.letter_id] = saved
        self.events.extend(events)
        return saved

    def list(self, status, limit, cursor):
        return [v for v in self.letters.values() if v.status.value == status][:limit], None


class Files:
    def __init__(self):
        self.objects = {}

    def put_bytes(self, key, body, content_type):
        self.objects[key] = body

    def head(self, key):
        return True if key in self.objects else None

    def open(self, key):
        return io.BytesIO(self.objects[key])


class EventLog:
    def __init__(self):
        self.events = {}

    def append(self, event):
        self.events[(event.entity, event.type, event.discriminator, event.at)] = event


def world(*invoices):
    ledger = Ledger(*invoices)
    store, files, log, renders = Store(), Files(), EventLog(), []

    def render(data):
        renders.append(data)
        return render_letter_pdf(data)

    letters = Letters(store, files, log, render, SELLER, clock=lambda: NOW + timedelta(days=1))
    recorded = fakes.Recorded()
    sender = fakes.Sender()
    service = DunningService(ledger, ledger, fakes.Customers(ACME), lambda _policy_id: PAPER,
                             DunningSettings, fakes.Claims(ledger), sender, ReminderRenderer(SELLER),
                             fakes.Tasks(), recorded, recorded, recorded, recorded, clock=lambda: NOW,
                             letters=letters)
    return {"ledger": ledger, "store": store, "files": files, "log": log, "letters": letters, "service": service,
            "sender": sender, "renders": renders}


def overdue(number, days, **kw):
    return invoice(number=number, due=TODAY - timedelta(days=days), first_seen_on=date(2026, 1, 5), version=1,
                   next_action_at=NOW - timedelta(hours=1), last_notice_on=TODAY - timedelta(days=14),
                   reminders_sent=frozenset({"overdue_7:email"}), **kw)


def test_a_letter_step_queues_one_letter_listing_the_invoices_and_records_it_on_each():
    w = world(overdue("RE-1", 21), overdue("RE-2", 22, total="250.00"))
    summary = w["service"].run(as_of=TODAY)
    assert summary.messages_sent["letter"] == 1 and summary.messages_sent["email"] == 1
    [letter] = w["store"].letters.values()
    assert letter.status is LetterStatus.TO_PRINT and letter.invoice_numbers == ("RE-1", "RE-2")
    assert letter.steps == ("overdue_21",) and letter.language == "de" and letter.letter_date == TODAY
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(w["files"].objects[letter.key])).pages)
    assert "Industriestraße 5" in text and "RE-1" in text and "250,00 €" in text and "Zahlungsreferenzen" in text
    for number in ("RE-1", "RE-2"):
        stored = w["ledger"].invoices[number]
        assert {"overdue_21:email", "overdue_21:letter"} <= stored.reminders_sent
    types = [(e.entity, e.type) for e in w["ledger"].events if e.type in ("letter.queued", "reminder.sent")]
    assert ("invoice#RE-1", "letter.queued") in types and ("invoice#RE-2", "letter.queued") in types
    queued = next(e for e in w["ledger"].events if e.type == "letter.queued")
    assert queued.data["letter_id"] == letter.letter_id and queued.data["key"] == f"letters/{letter.letter_id}.pdf"
    assert [e.type for e in w["store"].events] == ["letter.queued"]  # the customer's timeline


def test_the_sweep_again_makes_no_second_letter():
    w = world(overdue("RE-1", 21))
    w["service"].run(as_of=TODAY)
    again = w["service"].run(as_of=TODAY)
    assert again.messages_sent["letter"] == 0 and len(w["store"].letters) == 1 and len(w["renders"]) == 1


def test_queueing_the_same_send_twice_stores_one_letter():
    w = world(overdue("RE-1", 21))
    w["service"].run(as_of=TODAY)
    [letter] = w["store"].letters.values()
    from chalicelib.services.letters import LetterRequest

    again = w["letters"].queue(LetterRequest(letter.message_key, ACME, [], [], "de", "x", "y", TODAY), NOW)
    assert again == letter and len(w["renders"]) == 1


def test_a_single_invoice_letter_quotes_its_rf_reference():
    w = world(overdue("RE-1", 21))
    w["service"].run(as_of=TODAY)
    [data] = w["renders"]
    assert data.invoices[0].rf is not None and data.invoices[0].rf.startswith("RF")
    assert data.invoices[0].rf in data.text  # the bank details' reference is the RF


def test_posting_marks_the_letter_and_writes_the_timelines_once():
    w = world(overdue("RE-1", 21), overdue("RE-2", 22))
    w["service"].run(as_of=TODAY)
    [letter] = w["store"].letters.values()
    posted = w["letters"].mark_posted(letter.letter_id, "key:clerk")
    assert posted.status is LetterStatus.POSTED and posted.posted_by == "key:clerk"
    again = w["letters"].mark_posted(letter.letter_id, "key:other")
    assert again.posted_by == "key:clerk" and again.posted_at == posted.posted_at
    assert [e.type for e in w["store"].events] == ["letter.queued", "letter.posted"]
    assert sorted(e.entity for e in w["log"].events.values()) == ["invoice#RE-1", "invoice#RE-2"]
    assert w["letters"].to_print("to_print", 10, None) == ([], None)
    assert w["letters"].to_print("posted", 10, None)[0] == [again]


def test_an_unknown_letter_is_not_found():
    w = world()
    with pytest.raises(NotFound):
        w["letters"].pdf("ltr-00000000000000000000")
    with pytest.raises(NotFound):
        w["letters"].mark_posted("ltr-00000000000000000000", "key:clerk")


def test_the_agency_export_lists_the_letters():
    w = world(overdue("RE-1", 21))
    w["service"].run(as_of=TODAY)
    [letter] = w["store"].letters.values()

    class History:
        def events(self, entity):
            return [e for e in w["ledger"].events if e.entity == entity]

    w["service"].history = History()
    queued = next(e for e in w["ledger"].events if e.type == "letter.queued")
    export = w["service"].agency_export("RE-1")
    assert export["letters"] == [{"letter_id": letter.letter_id, "key": letter.key,
                                  "pdf": f"/letters/{letter.letter_id}/pdf", "step": "overdue_21",
                                  "queued_at": queued.at.isoformat(), "posted_at": None, "posted_by": None}]
    assert any(n["channel"] == "letter" for n in export["notices"])


def test_a_letter_the_bucket_refuses_is_not_counted_as_sent_and_goes_with_a_later_run():
    w = world(overdue("RE-1", 21))

    def refuse(key, body, content_type):
        raise OSError("S3 unavailable")

    store_put = w["files"].put_bytes
    w["files"].put_bytes = refuse
    first = w["service"].run(as_of=TODAY)
    assert first.messages_sent["letter"] == 0 and first.failed[0]["channel"] == "letter"
    assert "overdue_21:letter" not in w["ledger"].invoices["RE-1"].reminders_sent
    assert w["store"].letters == {}
    w["files"].put_bytes = store_put
    w["ledger"].invoices["RE-1"] = replace(w["ledger"].invoices["RE-1"], next_action_at=NOW - timedelta(hours=1))
    again = w["service"].run(as_of=TODAY)
    assert again.messages_sent["letter"] == 1 and len(w["store"].letters) == 1
    assert "overdue_21:letter" in w["ledger"].invoices["RE-1"].reminders_sent


def test_the_letter_prints_the_customers_portal_link_as_the_email_would():
    w = world(overdue("RE-1", 21))
    minted = []

    def link(customer_id, contact, now):
        minted.append((customer_id, contact))
        return f"https://dunwell.example/portal/open/tok{len(minted)}"

    w["service"].portal_link = link
    w["service"].run(as_of=TODAY)
    [data] = w["renders"]
    assert ("acme", "ada@example.com") in minted
    assert any(url in data.text for url in (f"https://dunwell.example/portal/open/tok{i}" for i in
                                            range(1, len(minted) + 1)))
    [letter] = w["store"].letters.values()
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(w["files"].objects[letter.key])).pages)
    assert "https://dunwell.example/portal/open/tok" in text
