"""A dunning ladder unfolding on `make run`'s stack over simulated dates, as a user drives it: invoices dropped
into the inbox, `POST /dunning/runs` with `as_of`, the reminders read back from `.dunwell/outbox/`, a Stripe
payment in the middle, and the escalation's hold, tasks and agency export at the end.

The stack is this module's own (not the session one): other e2e tests import invoices whose customers a
sweep would also remind, and these assertions count every file in the outbox exactly."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.stack import RunningStack, start_stack, wait_for

pytestmark = pytest.mark.e2e

HEADER = ("invoice_number,kind,customer_id,customer_name,email,phone,language,timezone,country,issue_date,"
          "due_date,terms,currency,total,amount_paid,applies_to,status,buyer_reference")
ACME_PAID, ACME_OPEN, BOLT = "RE-2026-101", "RE-2026-102", "FA-2026-201"
ACME_MAIL, BOLT_MAIL, BOLT_PHONE = "ap@acme.example", "compta@bolt.example", "+33612345678"
INVOICES = "\n".join([
    HEADER,
    f"{ACME_PAID},invoice,acme,Acme GmbH,{ACME_MAIL},,de,Europe/Berlin,DE,2026-11-01,2026-12-01,,EUR,1000.00,0,,open,",
    f"{ACME_OPEN},invoice,acme,Acme GmbH,{ACME_MAIL},,de,Europe/Berlin,DE,2026-11-01,2026-12-01,,EUR,250.00,0,,open,",
    f"{BOLT},invoice,bolt,Bolt SARL,{BOLT_MAIL},{BOLT_PHONE},fr,Europe/Paris,FR,2026-11-01,2026-12-01,,EUR,480.00,0,,"
    "open,",
]) + "\n"
IMPORT_TIMEOUT = 30
OUTBOX_TIMEOUT = 10
SETTLE_SECONDS = 1.5  # longer than the outbox collector's 1 s interval: whatever was sent is on disk by then
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")  # how the outbox makes a provider message id a file name


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """Schedules are left to their real cadence (the hourly sweep does not fire during the test)."""
    running = start_stack(tmp_path_factory.mktemp("dunning-ladder-home"))
    yield running
    code = running.stop()
    assert code == 0, running.output()


# --- the user's tools: the API, the inbox, the outbox ----------------------------------------------------


def api(stack: RunningStack, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(method, stack.api_url + path, headers=stack.auth, timeout=30, **kwargs)
    assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def invoice(stack: RunningStack, number: str) -> dict[str, Any] | None:
    response = requests.get(f"{stack.api_url}/invoices/{number}", headers=stack.auth, timeout=10)
    return response.json() if response.status_code == 200 else None


def reminders_sent(stack: RunningStack, number: str) -> list[str]:
    found = invoice(stack, number)
    assert found is not None, number
    return list(found["reminders_sent"])


def run_dunning(stack: RunningStack, as_of: str) -> dict[str, Any]:
    summary: dict[str, Any] = api(stack, "POST", "/dunning/runs", json={"as_of": as_of})
    assert summary["simulated"] is True and summary["failed"] == [], summary
    return summary


@dataclass(frozen=True)
class Mail:
    path: Path
    message: EmailMessage

    @property
    def provider_id(self) -> str:
        return self.path.stem.partition("-")[2]

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, f"{self.path} has no text/plain part"
        return str(part.get_content())  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Sms:
    path: Path
    to: str
    text: str

    @property
    def provider_id(self) -> str:
        return self.path.stem.partition("-")[2]


class Outbox:
    """`.dunwell/outbox/`: every mail SES "sent" as `.eml`, every SMS under `sms/` (a collector writes them
    about once a second). `new(...)` waits for exactly the messages a step should have sent."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.seen: set[Path] = set()

    def files(self) -> tuple[list[Path], list[Path]]:
        mails = sorted(p for p in self.directory.glob("*") if p.is_file())
        sms = sorted(p for p in (self.directory / "sms").glob("*") if p.is_file())
        return mails, sms

    def counts(self) -> tuple[int, int]:
        mails, sms = self.files()
        return len(mails), len(sms)

    def new(self, mails: int, sms: int = 0) -> tuple[list[Mail], list[Sms]]:
        """Waits until exactly `mails` + `sms` new files are there, lets the collector run once more and checks
        that nothing else arrived; returns them parsed."""
        seen_mails = len([p for p in self.seen if p.parent == self.directory])
        seen_sms = len(self.seen) - seen_mails
        want = (seen_mails + mails, seen_sms + sms)
        wait_for(lambda: all(have >= need for have, need in zip(self.counts(), want, strict=True)),
                 OUTBOX_TIMEOUT, 0.1,
                 f"expected {want} (mails, sms) in {self.directory}, found {self.counts()}")
        time.sleep(SETTLE_SECONDS)
        mail_files, sms_files = self.files()
        assert (len(mail_files), len(sms_files)) == want, f"more was sent than expected: {self.describe()}"
        new_mails = [p for p in mail_files if p not in self.seen]
        new_sms = [p for p in sms_files if p not in self.seen]
        self.seen.update(new_mails + new_sms)
        assert all(p.suffix == ".eml" for p in new_mails), new_mails  # raw MIME, never a bare template
        return [self.parse_mail(p) for p in new_mails], [self.parse_sms(p) for p in new_sms]

    def describe(self) -> str:
        mails, sms = self.files()
        return "\n".join([*(f"{p.name}: {self.parse_mail(p).to} {self.parse_mail(p).subject!r}" for p in mails),
                          *(f"sms/{p.name}: {p.read_text()!r}" for p in sms)])

    @staticmethod
    def parse_mail(path: Path) -> Mail:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return Mail(path, message)

    @staticmethod
    def parse_sms(path: Path) -> Sms:
        head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
        to = next(line.removeprefix("To: ") for line in head.splitlines() if line.startswith("To: "))
        return Sms(path, to, body.strip())


def by_recipient(mails: list[Mail]) -> dict[str, Mail]:
    found = {m.to: m for m in mails}
    assert len(found) == len(mails), f"two mails to one recipient: {[(m.to, m.subject) for m in mails]}"
    return found


def pay_by_stripe(stack: RunningStack, number: str, amount_minor: int) -> None:
    """A signed `payment_intent.succeeded`, as Stripe delivers it (see test_payments_on_the_stack.py)."""
    secret = stack.info["webhook_secrets"]["stripe"]
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "payment_intent.succeeded",
                       "created": int(time.time()),
                       "data": {"object": {"id": f"pi_{uuid.uuid4().hex}", "object": "payment_intent",
                                           "amount": amount_minor, "amount_received": amount_minor,
                                           "currency": "eur", "status": "succeeded",
                                           "metadata": {"invoice_number": number}}}}).encode()
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    response = requests.post(f"{stack.api_url}/webhooks/stripe", data=body, timeout=10,
                             headers={"Stripe-Signature": f"t={timestamp},v1={signature}",
                                      "Content-Type": "application/json"})
    assert response.status_code == 200, response.text


# --- the ladder --------------------------------------------------------------------------------------------


def test_a_ladder_unfolds_over_simulated_dates_and_stops_for_what_was_paid(stack: RunningStack):
    outbox = Outbox(Path(stack.info["outbox_dir"]))
    assert outbox.counts() == (0, 0)

    # 1. The invoices arrive the way an ERP export does: a Dunwell CSV dropped into the inbox.
    stack.s3().put_object(Bucket=stack.info["inbox_bucket"], Key="incoming/erp-export.csv", Body=INVOICES.encode())
    for number in (ACME_PAID, ACME_OPEN, BOLT):
        wait_for(lambda n=number: invoice(stack, n), IMPORT_TIMEOUT, 0.25,
                 f"{number} was not imported\n{stack.invocations()}\n{stack.output()}")

    # 2. Due - 7 (a Tuesday): one friendly statement per customer, in the customer's language.
    upcoming = run_dunning(stack, "2026-11-24")
    assert upcoming["sent"] == {"email": 2, "sms": 0}, upcoming
    assert upcoming["reminders"] == {"upcoming": 3}, upcoming
    mails, _ = outbox.new(mails=2)
    sent = by_recipient(mails)
    assert set(sent) == {ACME_MAIL, BOLT_MAIL}
    acme, bolt = sent[ACME_MAIL], sent[BOLT_MAIL]
    assert acme.subject == "Zahlungserinnerung: 2 Rechnungen in Kürze fällig"
    assert ACME_PAID in acme.text and ACME_OPEN in acme.text  # both invoices, one mail
    assert acme.message["X-Dunwell-Message-Key"] == "acme#2026-11-24#email"
    assert bolt.subject == f"Rappel : facture {BOLT} à échéance le 1 déc. 2026", bolt.subject
    assert BOLT in bolt.text and ACME_OPEN not in bolt.text

    # The same day again (a retried cron, a second click): nothing new.
    again = run_dunning(stack, "2026-11-24")
    assert again["sent"] == {"email": 0, "sms": 0} and again["reminders"] == {}, again
    outbox.new(mails=0)

    # 3. Acme pays one invoice by card; Stripe tells us.
    pay_by_stripe(stack, ACME_PAID, 100000)
    paid = invoice(stack, ACME_PAID)
    assert paid is not None and paid["status"] == "paid" and paid["balance"] == "0.00", paid

    # 4. Due + 7 (the 12-01 run was missed: catch-up to overdue_7). The dry run first: it sends nothing.
    preview = api(stack, "GET", "/dunning/preview", params={"as_of": "2026-12-08"})
    planned = {i["number"]: i for i in preview["items"] if i["action"] == "send"}
    assert {n: (i["step"], i["reason"]) for n, i in planned.items()} == {
        ACME_OPEN: ("overdue_7", "catch_up"), BOLT: ("overdue_7", "catch_up")}, preview
    assert planned[BOLT]["channels"] == ["email", "sms"] and planned[ACME_OPEN]["channels"] == ["email"]
    outbox.new(mails=0)

    overdue = run_dunning(stack, "2026-12-08")
    assert overdue["sent"] == {"email": 2, "sms": 1}, overdue
    # Two invoices reminded at overdue_7, whatever the channels (Bolt's went by email and SMS).
    assert overdue["reminders"] == {"overdue_7": 2}, overdue
    mails, [sms] = outbox.new(mails=2, sms=1)
    sent = by_recipient(mails)
    assert set(sent) == {ACME_MAIL, BOLT_MAIL}
    acme, bolt = sent[ACME_MAIL], sent[BOLT_MAIL]
    assert acme.subject == f"Mahnung: Rechnung {ACME_OPEN}", acme.subject
    assert ACME_OPEN in acme.text and ACME_PAID not in acme.text  # the paid invoice is not chased
    assert bolt.subject == f"Relance : facture {BOLT} impayée", bolt.subject
    assert sms.to == BOLT_PHONE and BOLT in sms.text
    assert reminders_sent(stack, ACME_PAID) == ["upcoming:email"]
    assert reminders_sent(stack, ACME_OPEN) == ["overdue_7:email", "upcoming:email"]
    assert reminders_sent(stack, BOLT) == ["overdue_7:email", "overdue_7:sms", "upcoming:email"]

    # 5. Due + 50, weeks of missed runs: one step a week from where the ladder was, never a burst: the second
    # reminder, then (two real notices sent) the final notice, then the escalation.
    subjects = {
        "overdue_21": (f"Mahnung: Rechnung {ACME_OPEN}", f"Relance : facture {BOLT} impayée"),
        "final_notice": (f"Letzte Mahnung: Rechnung {ACME_OPEN}",
                         f"Dernier rappel avant recouvrement : facture {BOLT}"),
        "escalation": (f"Übergabe an das Inkasso: Rechnung {ACME_OPEN}",
                       f"Transmission au recouvrement : facture {BOLT}"),
    }
    for day, step in (("2027-01-20", "overdue_21"), ("2027-01-27", "final_notice"), ("2027-02-03", "escalation")):
        late = run_dunning(stack, day)
        assert late["sent"] == {"email": 2, "sms": 0}, late
        assert late["reminders"] == {step: 2}, late
        escalated = {"collector_task": 2, "credit_hold": 2, "notify_finance": 2} if step == "escalation" else {}
        assert late["actions"] == escalated, late
        mails, _ = outbox.new(mails=2)
        sent = by_recipient(mails)
        assert (sent[ACME_MAIL].subject, sent[BOLT_MAIL].subject) == subjects[step]
        assert ACME_PAID not in sent[ACME_MAIL].text
        assert api(stack, "GET", "/customers/acme")["credit_hold"] is (step == "escalation")
    assert reminders_sent(stack, ACME_PAID) == ["upcoming:email"]
    assert "escalation:email" in reminders_sent(stack, ACME_OPEN) and "escalation:email" in reminders_sent(stack, BOLT)
    # The ladder is done: a later run sends nothing.
    assert run_dunning(stack, "2027-03-01")["sent"] == {"email": 0, "sms": 0}
    outbox.new(mails=0)
    assert outbox.counts() == (10, 1)

    # The escalation's side effects, as staff see them.
    tasks = api(stack, "GET", "/tasks")["items"]
    escalations = {t["invoice_id"]: t for t in tasks if t["kind"] == "escalation"}
    assert set(escalations) == {ACME_OPEN, BOLT}, tasks
    assert escalations[ACME_OPEN]["customer_id"] == "acme" and escalations[ACME_OPEN]["status"] == "open"
    assert api(stack, "GET", "/customers/acme")["credit_hold"] is True
    assert api(stack, "GET", "/customers/bolt")["credit_hold"] is True

    # The agency export: every notice with the provider's message id, which is the outbox file's.
    mail_ids = {Outbox.parse_mail(p).provider_id for p in outbox.files()[0]}
    sms_ids = {Outbox.parse_sms(p).provider_id for p in outbox.files()[1]}
    export = api(stack, "GET", f"/invoices/{BOLT}/agency-export")
    assert export["invoice"]["number"] == BOLT and export["invoice"]["balance"] == "480.00"
    notices = [(n["step"], n["channel"]) for n in export["notices"]]
    assert sorted(notices) == sorted([("upcoming", "email"), ("overdue_7", "email"), ("overdue_7", "sms"),
                                      ("overdue_21", "email"), ("final_notice", "email"), ("escalation", "email")]), \
        export["notices"]
    for notice in export["notices"]:
        assert notice["provider_message_id"] and notice["confirmed"] is True, notice
        ids = sms_ids if notice["channel"] == "sms" else mail_ids
        assert _UNSAFE.sub("_", notice["provider_message_id"]) in ids, (notice, ids)
    acme_export = api(stack, "GET", f"/invoices/{ACME_OPEN}/agency-export")
    assert [(n["step"], n["channel"]) for n in acme_export["notices"]] == [
        ("upcoming", "email"), ("overdue_7", "email"), ("overdue_21", "email"), ("final_notice", "email"),
        ("escalation", "email")], acme_export["notices"]
    assert all(n["provider_message_id"] for n in acme_export["notices"])
    paid_export = api(stack, "GET", f"/invoices/{ACME_PAID}/agency-export")
    assert [n["step"] for n in paid_export["notices"]] == ["upcoming"]
    assert paid_export["invoice"]["status"] == "paid"
