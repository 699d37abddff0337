"""The user's tools for e2e tests that drive a stack of their own over simulated dates and read the reminders back
from `.dunwell/outbox/` (test_collector_workflows.py, test_payment_plan_on_the_stack.py): the module's stack, the
API, the inbox (an invoice CSV dropped into S3), the outbox, and a due date D chosen from today so that every
simulated run falls on a business day.

The API runs on the real clock, only `POST /dunning/runs` takes a simulated `as_of`; a test picks D with
`first_due_date(today, run_offsets)` so that whatever day it runs, each run is on a sending day."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.domain.dunning.calendar import is_business_day
from tests.e2e.stack import RunningStack, start_stack, wait_for

HEADER = ("invoice_number,kind,customer_id,customer_name,email,phone,language,timezone,country,issue_date,"
          "due_date,terms,currency,total,amount_paid,applies_to,status,buyer_reference")
IMPORT_TIMEOUT = 30
OUTBOX_TIMEOUT = 10
SETTLE_SECONDS = 1.5  # longer than the outbox collector's 1 s interval: whatever was sent is on disk by then
COUNTRY = "DE"


def module_stack(home: str) -> Any:
    """A module-scoped `stack` fixture (assign it to a module-level name): the module's own stack in a temporary
    home named after `home`, so its outbox counts are exact; schedules keep their real cadence (the hourly sweep
    does not fire meanwhile). The stack must exit with 0."""

    @pytest.fixture(scope="module", name="stack")
    def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
        running = start_stack(tmp_path_factory.mktemp(home))
        yield running
        code = running.stop()
        assert code == 0, running.output()

    return stack


# --- the customers and their invoices ---------------------------------------------------------------------


def mail_of(customer_id: str) -> str:
    return f"ap@{customer_id}.example"


def first_due_date(today: date, run_offsets: Iterable[int]) -> date:
    """The first due date D at least 10 days after `today` on which D + each of `run_offsets` (days) is a business
    day in COUNTRY."""
    offsets = tuple(run_offsets)
    due = today + timedelta(days=10)
    while not all(is_business_day(due + timedelta(days=offset), COUNTRY) for offset in offsets):
        due += timedelta(days=1)
    return due


def invoices_csv(invoices: Iterable[tuple[str, str, date, str]], legal_form: str) -> str:
    """An import CSV with one open EUR invoice per (number, customer id, due date, total), issued 30 days before
    it is due, to "<Customer-Id> `legal_form`" at `mail_of(customer id)` (no phone), in English, in Berlin."""
    rows = [f"{number},invoice,{customer},{customer.title()} {legal_form},{mail_of(customer)},,en,Europe/Berlin,"
            f"{COUNTRY},{due - timedelta(days=30)},{due},,EUR,{total},0,,open,"
            for number, customer, due, total in invoices]
    return "\n".join([HEADER, *rows]) + "\n"


# --- the API and the inbox --------------------------------------------------------------------------------


def call(stack: RunningStack, method: str, path: str, key: str | None = None, status: int = 200,
         headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """The API as `key` (the admin's by default); asserts the status and returns the JSON body."""
    headers = {**(headers or {}), "Authorization": f"Bearer {key or stack.info['api_key']}"}
    response = requests.request(method, stack.api_url + path, headers=headers, timeout=30, **kwargs)
    assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def collector_key(stack: RunningStack, name: str) -> str:
    """A new API key with the collector role."""
    return str(call(stack, "POST", "/api-keys", status=201, json={"name": name, "role": "collector"})["api_key"])


def imported(stack: RunningStack, number: str) -> bool:
    return requests.get(f"{stack.api_url}/invoices/{number}", headers=stack.auth, timeout=10).status_code == 200


def import_invoices(stack: RunningStack, key: str, csv: str, numbers: Iterable[str]) -> None:
    """Drops `csv` into the inbox bucket as `key` and waits until the API knows each of `numbers`."""
    stack.s3().put_object(Bucket=stack.info["inbox_bucket"], Key=key, Body=csv.encode())
    for number in numbers:
        wait_for(lambda n=number: imported(stack, n), IMPORT_TIMEOUT, 0.25,
                 f"{number} was not imported\n{stack.invocations()}\n{stack.output()}")


def run_dunning(stack: RunningStack, day: date) -> dict[str, Any]:
    """`POST /dunning/runs` as of `day`; asserts the run was simulated and no invoice failed."""
    summary: dict[str, Any] = call(stack, "POST", "/dunning/runs", json={"as_of": day.isoformat()})
    assert summary["simulated"] is True and summary["failed"] == [], summary
    return summary


# --- the outbox -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


class Outbox:
    """`.dunwell/outbox/`: each mail SES "sent" as an `.eml` file, each SMS under `sms/` (written by a collector
    about once a second)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.seen: set[Path] = set()

    @classmethod
    def of(cls, stack: RunningStack) -> Outbox:
        return cls(Path(stack.info["outbox_dir"]))

    def mail_files(self) -> list[Path]:
        return sorted(p for p in self.directory.glob("*") if p.is_file())

    def counts(self) -> tuple[int, int]:
        return len(self.mail_files()), len([p for p in (self.directory / "sms").glob("*") if p.is_file()])

    def new(self, mails: int) -> list[Mail]:
        """Waits for exactly `mails` new mails (and never an SMS: the tests' customers have no phone), lets the
        collector run once more to see that nothing else arrives, and returns them parsed."""
        want = (len(self.seen) + mails, 0)
        wait_for(lambda: self.counts()[0] >= want[0], OUTBOX_TIMEOUT, 0.1,
                 f"expected {want} (mails, sms) in {self.directory}, found {self.counts()}")
        time.sleep(SETTLE_SECONDS)
        assert self.counts() == want, f"expected {want} (mails, sms), found {self.counts()}"
        new = [p for p in self.mail_files() if p not in self.seen]
        self.seen.update(new)
        return [self.parse(p) for p in new]

    @staticmethod
    def parse(path: Path) -> Mail:
        assert path.suffix == ".eml", path
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        assert body is not None, f"{path} has no text/plain part"
        return Mail(str(message["To"]), str(message["Subject"]), str(body.get_content()))
