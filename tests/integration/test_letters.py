"""Letters for the post on moto: a policy step with the `letter` channel leaves one letter in the print queue
(GET /letters), its PDF readable over the API, marked posted by a collector, on the invoices' timelines and in the
agency export; the sweep again makes no second letter."""

from __future__ import annotations

import io
import json
from typing import Any

import pypdf

from chalicelib.domain.dunning.policy import Policy, Step
from tests.integration.conftest import issue_key
from tests.integration.helpers import drop, get_json, keys

HEADER = ("invoice_number,customer_id,customer_name,email,language,timezone,country,issue_date,due_date,currency,"
          "total,amount_paid,address_line1,postal_code,city,address_country\n")
ROWS = ("RE-1,kunde,Kunde AG,ap@kunde.example,de,Europe/Berlin,DE,2026-11-01,2026-12-01,EUR,1234.50,0,"
        "Industriestraße 5,80331,München,DE\n"
        "RE-2,kunde,Kunde AG,ap@kunde.example,de,Europe/Berlin,DE,2026-11-01,2026-12-01,EUR,250.00,0,"
        "Industriestraße 5,80331,München,DE\n"
        "FA-9,bolt,Bolt SARL,compta@bolt.example,fr,Europe/Paris,FR,2026-11-01,2026-12-01,EUR,480.00,0,"
        "12 rue de la Paix,75002,Paris,FR\n")
PAPER = Policy("default", "Email, then a letter", (
    Step("upcoming", -7, ("email",), "reminder_upcoming", "friendly"),
    Step("overdue_7", 7, ("email", "letter"), "reminder_overdue", "firm")))


def run(client: Any, headers: dict[str, str], as_of: str) -> dict[str, Any]:
    response = client.http.post("/dunning/runs", headers={**headers, "Content-Type": "application/json"},
                                body=json.dumps({"as_of": as_of}))
    assert response.status_code == 200, response.body
    return dict(json.loads(response.body))


def text_of(body: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(body)).pages).replace("\xa0", " ")


def test_a_letter_step_fills_the_print_queue_once_and_a_collector_marks_it_posted(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str],
        collector_headers: dict[str, str]) -> None:
    response = client.http.put("/policies/default", headers={**admin_headers, "Content-Type": "application/json"},
                               body=json.dumps(PAPER.to_dict()))
    assert response.status_code == 200, response.body
    drop(client, s3, bucket, "incoming/a.csv", (HEADER + ROWS).encode())
    assert run(client, admin_headers, "2026-11-24")["letters_queued"] == 0  # upcoming: email only
    overdue = run(client, admin_headers, "2026-12-08")
    assert overdue["letters_queued"] == 2 and overdue["sent"]["email"] == 2, overdue
    assert run(client, admin_headers, "2026-12-08")["letters_queued"] == 0

    viewer = {"Authorization": f"Bearer {issue_key('viewer')}"}
    status, first_page = get_json(client, "/letters?status=to_print&limit=1", viewer)
    assert status == 200 and len(first_page["items"]) == 1 and first_page["next_cursor"]
    status, second_page = get_json(client, f"/letters?status=to_print&limit=1&cursor={first_page['next_cursor']}",
                                   viewer)
    assert status == 200 and len(second_page["items"]) == 1
    letters = {item["customer_id"]: item for item in first_page["items"] + second_page["items"]}
    assert letters["bolt"]["language"] == "fr" and letters["bolt"]["invoice_numbers"] == ["FA-9"]
    bolt_pdf = client.http.get(f"/letters/{letters['bolt']['id']}/pdf", headers={**viewer, "Accept": "*/*"})
    assert "12 rue de la Paix\n75002 Paris\nFRANCE" in text_of(bolt_pdf.body) and "480,00 €" in text_of(bolt_pdf.body)
    letter = letters["kunde"]
    assert letter["invoice_numbers"] == ["RE-1", "RE-2"] and letter["steps"] == ["overdue_7"]
    assert letter["status"] == "to_print" and letter["customer_id"] == "kunde" and letter["language"] == "de"
    assert f"letters/{letter['id']}.pdf" in keys(s3, bucket, "letters/")

    pdf = client.http.get(f"/letters/{letter['id']}/pdf", headers={**viewer, "Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = text_of(pdf.body)
    assert "Kunde AG\nIndustriestraße 5\n80331 München" in text
    assert "RE-1" in text and "1.234,50 €" in text and "1.484,50 €" in text and "Zahlungsreferenzen" in text

    path = f"/letters/{letter['id']}/posted"
    assert client.http.post(path, headers=viewer).status_code == 403
    posted = client.http.post(path, headers=collector_headers)
    assert posted.status_code == 200, posted.body
    assert json.loads(posted.body)["status"] == "posted"
    assert client.http.post(path, headers=collector_headers).status_code == 200  # again: as it is
    assert [i["id"] for i in get_json(client, "/letters", viewer)[1]["items"]] == [letters["bolt"]["id"]]
    assert [i["id"] for i in get_json(client, "/letters?status=posted", viewer)[1]["items"]] == [letter["id"]]

    timeline = get_json(client, "/invoices/RE-2/timeline", viewer)[1]["items"]
    types = [e["type"] for e in timeline]
    assert types.count("letter.queued") == 1 and types.count("letter.posted") == 1
    export = get_json(client, "/invoices/RE-1/agency-export", collector_headers)[1]
    [exported] = export["letters"]
    assert exported["letter_id"] == letter["id"] and exported["posted_at"] and exported["step"] == "overdue_7"
    assert any(n["channel"] == "letter" for n in export["notices"])


def test_letters_answer_unknown_ids_and_statuses(client: Any, admin_headers: dict[str, str]) -> None:
    assert get_json(client, "/letters/ltr-00000000000000000000", admin_headers)[0] == 404
    assert get_json(client, "/letters/nonsense/pdf", admin_headers)[0] == 404
    assert client.http.post("/letters/ltr-00000000000000000000/posted", headers=admin_headers).status_code == 404
    status, body = get_json(client, "/letters?status=lost", admin_headers)
    assert status == 400 and body["error"]["field"] == "status"


STATEMENT_ROWS = ("RE-1,kunde,Kunde AG,ap@kunde.example,de,Europe/Berlin,DE,2026-10-01,2026-11-01,EUR,1234.50,0,"
                  "Industriestraße 5,80331,München,DE\n"
                  "RE-2,kunde,Kunde AG,ap@kunde.example,de,Europe/Berlin,DE,2026-11-10,2026-12-10,EUR,250.00,50.00,"
                  "Industriestraße 5,80331,München,DE\n")


def test_the_statement_pdf_over_the_api(client: Any, s3: Any, bucket: str) -> None:
    drop(client, s3, bucket, "incoming/s.csv", (HEADER + STATEMENT_ROWS).encode())
    viewer = {"Authorization": f"Bearer {issue_key('viewer')}", "Accept": "application/pdf"}
    response = client.http.get("/customers/kunde/statement.pdf?as_of=2026-12-07", headers=viewer)
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "application/pdf"
    text = text_of(response.body)
    for expected in ("Kunde AG\nIndustriestraße 5\n80331 München", "Kontoauszug zum 07.12.2026", "RE-1", "RE-2",
                     "1.234,50 €", "200,00 €", "1.434,50 €", "36"):
        assert expected in text, expected
    assert client.http.get("/customers/nobody/statement.pdf", headers=viewer).status_code == 404
    assert client.http.get("/customers/kunde/statement.pdf?as_of=someday", headers=viewer).status_code == 400
    assert client.http.get("/customers/kunde/statement.pdf?month=12", headers=viewer).status_code == 400


def test_the_monthly_statement_by_email_once_on_the_first_business_day(
        client: Any, s3: Any, bucket: str, dunning: None, collector_headers: dict[str, str]) -> None:
    from datetime import UTC, datetime

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from chalicelib import bootstrap, config

    drop(client, s3, bucket, "incoming/s.csv", (HEADER + STATEMENT_ROWS).encode())
    monthly = bootstrap.monthly_statements()
    first_hour = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # 08:00 in Berlin, a Tuesday
    assert monthly.run(first_hour).considered == 0  # nobody asked for it yet
    patched = client.http.patch("/customers/kunde", headers={**collector_headers, "Content-Type": "application/json"},
                                body=json.dumps({"statement_delivery": "email"}))
    assert patched.status_code == 200, patched.body
    assert json.loads(patched.body)["statement_delivery"] == "email"
    assert monthly.run(datetime(2026, 12, 1, 6, 0, tzinfo=UTC)).sent == 0  # 07:00 local
    assert monthly.run(first_hour).sent == 1
    assert monthly.run(datetime(2026, 12, 1, 8, 0, tzinfo=UTC)).sent == 0  # the next hour: sent already
    sent = ses_backends[DEFAULT_ACCOUNT_ID][config.settings().region].sent_messages
    assert len(sent) == 1
    raw = sent[0].raw_data
    assert "Kontoauszug" in raw and "application/pdf" in raw and "statement-kunde-2026-12-01.pdf" in raw
    timeline = get_json(client, "/customers/kunde/timeline", {"Authorization": f"Bearer {issue_key('viewer')}"})[1]
    assert [e["data"]["month"] for e in timeline["items"] if e["type"] == "statement.sent"] == ["2026-12"]
