"""Letters for the post on `make run`'s stack, as a user drives it: a policy with a letter step, an invoice with a
billing address dropped into the inbox, a simulated sweep, then the print queue over HTTP (the PDF through the local
gateway's binary path), marked posted; and the statement PDF. The stack is this module's own: its sweep would
remind other modules' customers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pypdf
import pytest
import requests

from tests.e2e.stack import RunningStack, start_stack, wait_for

pytestmark = pytest.mark.e2e

HEADER = ("invoice_number,customer_id,customer_name,email,language,timezone,country,issue_date,due_date,currency,"
          "total,amount_paid,address_line1,postal_code,city,address_country\n")
ROW = ("RE-2026-55,papier,Papier AG,ap@papier.example,de,Europe/Berlin,DE,2026-11-01,2026-12-01,EUR,1234.50,0,"
       "Industriestraße 5,80331,München,DE\n")
POLICY = {"policy_id": "default", "name": "Email, then a letter", "steps": [
    {"name": "upcoming", "offset_days": -7, "channels": ["email"], "template": "reminder_upcoming",
     "tone": "friendly"},
    {"name": "overdue_7", "offset_days": 7, "channels": ["email", "letter"], "template": "reminder_overdue",
     "tone": "firm"}]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("letters-home"))
    yield running
    code = running.stop()
    assert code == 0, running.output()


def call(stack: RunningStack, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, stack.api_url + path, headers=stack.auth, timeout=30, **kwargs)


def text_of(body: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(body)).pages).replace("\xa0", " ")


def test_a_letter_step_leaves_a_letter_in_the_print_queue(stack: RunningStack) -> None:
    assert call(stack, "PUT", "/policies/default", json=POLICY).status_code == 200
    stack.s3().put_object(Bucket=stack.info["inbox_bucket"], Key="incoming/papier.csv", Body=(HEADER + ROW).encode())
    wait_for(lambda: call(stack, "GET", "/invoices/RE-2026-55").status_code == 200, 30, 0.25, "not imported")
    for as_of in ("2026-11-24", "2026-12-08"):
        run = call(stack, "POST", "/dunning/runs", json={"as_of": as_of})
        assert run.status_code == 200 and run.json()["failed"] == [], run.text
    assert run.json()["letters_queued"] == 1

    [letter] = call(stack, "GET", "/letters", params={"status": "to_print"}).json()["items"]
    assert letter["invoice_numbers"] == ["RE-2026-55"] and letter["steps"] == ["overdue_7"]
    pdf = call(stack, "GET", f"/letters/{letter['id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = text_of(pdf.content)
    assert "Papier AG\nIndustriestraße 5\n80331 München" in text and "1.234,50 €" in text and "RF" in text
    posted = call(stack, "POST", f"/letters/{letter['id']}/posted")
    assert posted.status_code == 200 and posted.json()["status"] == "posted"
    assert call(stack, "GET", "/letters").json()["items"] == []

    statement = call(stack, "GET", "/customers/papier/statement.pdf", params={"as_of": "2026-12-08"})
    assert statement.status_code == 200, statement.text[:300]
    assert "Kontoauszug zum 08.12.2026" in text_of(statement.content)
