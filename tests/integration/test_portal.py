"""The customer portal on moto through the Chalice test client: a personal link opens a session (cookie, 303 to a
clean URL), the statement and invoice pages, the PDF, the actions with their confirm step landing on the staff API
and timeline, CSRF, the idle timeout, revocation, the expired-link page, security headers, and the walk test: every
portal route with another customer's ids finds nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib import bootstrap
from chalicelib.bootstrap import Container
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://portal.example/api")
    monkeypatch.setenv("DUNWELL_ALLOW_SIMULATED_CLOCK", "true")
    bootstrap.reset()
    clock = Clock()
    bootstrap.use(Container(clock=clock))
    yield clock


@pytest.fixture
def ledger(client: Any, s3: Any, bucket: str, clock: Clock) -> None:
    rows = [invoice_row("INV-P1", "1200.00", due="2026-11-01"), invoice_row("INV-P2", "300.00", due="2026-12-20"),
            invoice_row("INV-G1", "999.00", customer="globex", email="ap@globex.example")]
    drop(client, s3, bucket, "incoming/portal.csv", dunwell_csv(*rows))


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def open_session(client: Any, customer: str = "acme", email: str = "ap@acme.example", clock: Clock | None = None
                 ) -> str:
    url = bootstrap.portal_links().mint(customer, email, clock.now if clock else NOW)
    response = client.http.get(f"/portal/open/{token_of(url)}")
    assert response.status_code == 303, response.body
    assert response.headers["Location"] == "/portal"
    cookie = cookies(response)["__Host-dunwell_portal"]
    return cookie


def cookies(response: Any) -> dict[str, str]:
    raw = response.headers.get("Set-Cookie") or response.headers.get("set-cookie") or ""
    values = raw if isinstance(raw, list) else [raw]
    found = {}
    for value in values:
        for part in re.split(r",(?=\s*__Host-)", value):
            name, _, rest = part.strip().partition("=")
            found[name] = rest.split(";")[0]
    return found


def get(client: Any, path: str, session: str) -> Any:
    """As a browser asks: any type (a PDF download too)."""
    return client.http.get(path, headers={"Cookie": f"__Host-dunwell_portal={session}",
                                          "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})


def post(client: Any, path: str, session: str, fields: list[tuple[str, str]]) -> Any:
    return client.http.post(path, headers={**FORM, "Cookie": f"__Host-dunwell_portal={session}"},
                            body=urlencode(fields).encode())


def csrf(body: bytes | str) -> str:
    text = body.decode() if isinstance(body, bytes) else body
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, text[:500]
    return match.group(1)


def invoice_id(client: Any, number: str, headers: dict[str, str]) -> str:
    status, body = get_json(client, f"/invoices/{number}", headers)
    assert status == 200, body
    return str(body["id"])


def test_a_link_opens_the_statement_with_safe_headers_and_a_session_cookie(client, ledger, clock):
    url = bootstrap.portal_links().mint("acme", "ap@acme.example", NOW)
    response = client.http.get(f"/portal/open/{token_of(url)}")
    assert response.status_code == 303 and response.headers["Location"] == "/portal"
    set_cookie = response.headers["Set-Cookie"]
    text = " ".join(set_cookie) if isinstance(set_cookie, list) else set_cookie
    assert "HttpOnly" in text and "Secure" in text and "SameSite=Lax" in text and "Max-Age=1800" in text
    assert token_of(url) not in text
    session = cookies(response)["__Host-dunwell_portal"]

    page = get(client, "/portal", session)
    assert page.status_code == 200
    body = page.body.decode()
    assert "INV-P1" in body and "INV-P2" in body and "INV-G1" not in body
    assert '<html lang="en">' in body and "Acme Ltd" in body
    assert "€1,500.00" in body  # the total due, formatted by Babel
    headers = page.headers
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Robots-Tag"].startswith("noindex")
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp and "http" not in csp
    assert "default-src 'none'" in csp
    assert "__Host-dunwell_portal=" in str(headers["Set-Cookie"])  # the idle timeout starts again
    assert "signs you out after 30 minutes" in body

    # Opening the link again (a mail scanner first, then the person) still works: never used up.
    assert client.http.get(f"/portal/open/{token_of(url)}").status_code == 303
    # The SMS form of the link goes on to it.
    short = client.http.get(f"/p/{token_of(url)}")
    assert short.status_code == 303 and short.headers["Location"] == f"/portal/open/{token_of(url)}"


def test_an_unknown_link_and_no_session_show_the_expired_page(client, ledger, clock):
    response = client.http.get("/portal/open/" + "A" * 43)
    assert response.status_code == 404
    body = response.body.decode()
    assert "This link has expired" in body and 'name="email"' in body
    assert client.http.get("/portal").headers["Location"] == "/portal/expired"
    german = client.http.get("/portal/expired", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert '<html lang="de">' in german.body.decode()


def test_the_resend_form_answers_the_same_for_known_and_unknown_addresses(client, ledger, clock):
    answers = []
    for email in ("ap@acme.example", "nobody@nowhere.example"):
        page = client.http.get("/portal/expired")
        form_cookie = cookies(page)["__Host-dunwell_portal_form"]
        response = client.http.post(
            "/portal/resend", headers={**FORM, "Cookie": f"__Host-dunwell_portal_form={form_cookie}"},
            body=urlencode({"csrf_token": csrf(page.body), "token": "", "email": email}).encode())
        answers.append((response.status_code, re.sub(r'value="[^"]*"', "", response.body.decode())))
    assert answers[0] == answers[1] and answers[0][0] == 200
    # Without the form's cookie the token is worth nothing.
    page = client.http.get("/portal/expired")
    refused = client.http.post("/portal/resend", headers=FORM, body=urlencode(
        {"csrf_token": csrf(page.body), "token": "", "email": "ap@acme.example"}).encode())
    assert refused.status_code == 403


def test_invoice_page_pdf_and_what_was_sent(client, ledger, clock, admin_headers):
    session = open_session(client)
    inv = invoice_id(client, "INV-P1", admin_headers)
    page = get(client, f"/portal/invoices/{inv}", session)
    assert page.status_code == 200
    body = page.body.decode()
    assert "Invoice INV-P1" in body and "36" in body  # days overdue
    assert "We have not sent you anything about this invoice yet." in body
    pdf = get(client, f"/portal/invoices/{inv}/pdf", session)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf", pdf.body[:3000]
    assert pdf.body[:4] == b"%PDF" and "INV-P1" in pdf.headers["Content-Disposition"]


def test_a_dispute_is_reviewed_then_confirmed_and_reaches_the_staff_api(client, ledger, clock, admin_headers):
    session = open_session(client)
    inv = invoice_id(client, "INV-P1", admin_headers)
    form = get(client, f"/portal/invoices/{inv}/dispute", session)
    token = csrf(form.body)
    # A missing reason: the form again, the error linked to its field.
    wrong = post(client, f"/portal/invoices/{inv}/dispute", session,
                 [("csrf_token", token), ("step", "review"), ("reason", ""), ("amount", "abc"), ("comment", "")])
    assert wrong.status_code == 400
    text = wrong.body.decode()
    assert 'href="#reason"' in text and 'aria-invalid="true"' in text
    assert 'aria-describedby="amount-hint amount-error"' in text
    review = post(client, f"/portal/invoices/{inv}/dispute", session,
                  [("csrf_token", token), ("step", "review"), ("reason", "pricing"), ("amount", "200.00"),
                   ("comment", "Price <b>was</b> agreed lower")])
    assert review.status_code == 200
    text = review.body.decode()
    assert "Please check and confirm" in text and "&lt;b&gt;was&lt;/b&gt;" in text and "<b>was" not in text
    # Nothing has happened yet.
    assert get_json(client, f"/invoices/{inv}", admin_headers)[1]["status"] == "open"
    # A confirm without the CSRF token is refused.
    forged = post(client, f"/portal/invoices/{inv}/dispute", session,
                  [("csrf_token", "forged"), ("step", "confirm"), ("reason", "pricing"), ("amount", "200.00"),
                   ("comment", "")])
    assert forged.status_code == 403
    done = post(client, f"/portal/invoices/{inv}/dispute", session,
                [("csrf_token", token), ("step", "confirm"), ("reason", "pricing"), ("amount", "200.00"),
                 ("comment", "Price was agreed lower")])
    assert done.status_code == 303 and done.headers["Location"] == f"/portal/invoices/{inv}?done=dispute"
    status, timeline = get_json(client, f"/invoices/{inv}/timeline", admin_headers)
    assert status == 200
    assert any(e["actor"] == "portal:ap@acme.example" for e in timeline["items"]), timeline["items"]


def test_a_promise_and_a_plan_request_with_their_confirm_steps(client, ledger, clock, admin_headers):
    session = open_session(client)
    p1, p2 = invoice_id(client, "INV-P1", admin_headers), invoice_id(client, "INV-P2", admin_headers)
    token = csrf(get(client, "/portal/promise", session).body)
    too_far = post(client, "/portal/promise", session, [("csrf_token", token), ("step", "review"), ("invoice", p1),
                                                       ("date", "2027-06-01"), ("amount", "")])
    assert too_far.status_code == 400 and 'href="#date"' in too_far.body.decode()
    fields = [("csrf_token", token), ("invoice", p1), ("date", "2026-12-20"), ("amount", "")]
    reviewed = post(client, "/portal/promise", session, [*fields, ("step", "review")])
    assert reviewed.status_code == 200, re.findall(r"field-error[^<]*<", reviewed.body.decode())
    done = post(client, "/portal/promise", session, [*fields, ("step", "confirm")])
    assert done.status_code == 303 and done.headers["Location"] == "/portal?done=promise"
    invoice = get_json(client, f"/invoices/{p1}", admin_headers)[1]
    assert invoice["promised_until"] == "2026-12-20"

    token = csrf(get(client, "/portal/plan", session).body)
    too_long = post(client, "/portal/plan", session, [("csrf_token", token), ("step", "review"), ("invoice", p2),
                                                     ("instalments", "36"), ("first_date", "2027-11-15")])
    assert too_long.status_code == 400 and 'href="#instalments"' in too_long.body.decode()
    assert "more than three years away" in too_long.body.decode()
    fields = [("csrf_token", token), ("invoice", p2), ("instalments", "3"), ("first_date", "2027-01-15")]
    assert post(client, "/portal/plan", session, [*fields, ("step", "review")]).status_code == 200
    done = post(client, "/portal/plan", session, [*fields, ("step", "confirm")])
    assert done.status_code == 303 and done.headers["Location"] == "/portal?done=plan"
    status, requests = get_json(client, "/plan-requests?status=pending", admin_headers)
    assert status == 200 and len(requests["items"]) == 1
    notice = get(client, "/portal?done=plan", session).body.decode()
    assert "Your proposal has been sent" in notice


def test_the_pay_page_shows_bank_details_and_references(client, ledger, clock):
    session = open_session(client)
    page = get(client, "/portal/pay", session)
    assert page.status_code == 200
    body = page.body.decode()
    assert "INV-P1" in body and "INV-P2" in body and "RF" in body


def test_the_session_ends_when_idle_and_when_staff_revoke_the_links(client, ledger, clock, admin_headers):
    session = open_session(client)
    clock.now = NOW + timedelta(minutes=29)
    response = get(client, "/portal", session)
    assert response.status_code == 200
    session = cookies(response)["__Host-dunwell_portal"]  # renewed
    clock.now = NOW + timedelta(minutes=58)
    assert get(client, "/portal", session).status_code == 200
    clock.now = NOW + timedelta(minutes=100)
    assert get(client, "/portal", session).headers["Location"] == "/portal/expired"

    session = open_session(client, clock=clock)
    assert get(client, "/portal", session).status_code == 200
    revoked = client.http.delete("/customers/acme/portal-links", headers=admin_headers)
    assert revoked.status_code == 200, revoked.body
    assert get(client, "/portal", session).headers["Location"] == "/portal/expired"


def test_a_tampered_cookie_is_no_session(client, ledger, clock):
    session = open_session(client)
    version, payload, tag = session.split(".")
    forged = ".".join((version, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), tag))
    assert get(client, "/portal", forged).headers["Location"] == "/portal/expired"


def test_walking_every_portal_route_with_another_customers_ids_finds_nothing(client, ledger, clock, admin_headers):
    """Whatever id a session is given, it sees its own customer's data only: another customer's invoice is 404 on
    every route (the same answer as an id that does not exist)."""
    from app import app

    session = open_session(client)
    theirs = invoice_id(client, "INV-G1", admin_headers)
    mine = invoice_id(client, "INV-P1", admin_headers)
    token = csrf(get(client, "/portal", session).body)
    checked = []
    for path, methods in sorted(app.routes.items()):
        if not path.startswith("/portal"):
            continue
        for method in methods:
            for victim in (theirs, "no-such-invoice"):
                url = path.replace("{invoice_id}", victim)
                if "{token}" in path:
                    continue  # a link token names no customer data; tested above
                form = [("csrf_token", token), ("step", "confirm"), ("invoice", victim), ("reason", "pricing"),
                        ("amount", ""), ("comment", ""), ("date", "2026-12-20"), ("instalments", "3"),
                        ("first_date", "2027-01-15")]
                if method == "GET":
                    query = "" if "{invoice_id}" in path else f"?{urlencode({'invoice': victim})}"
                    response = get(client, url + (query if path == "/portal/pay" else ""), session)
                else:
                    allowed = {"/portal/promise": {"csrf_token", "step", "invoice", "date", "amount"},
                               "/portal/plan": {"csrf_token", "step", "invoice", "instalments", "first_date"},
                               "/portal/pay": {"csrf_token", "invoice"},
                               "/portal/invoices/{invoice_id}/dispute": {"csrf_token", "step", "reason", "amount",
                                                                          "comment"}}.get(path)
                    if allowed is None:
                        continue  # signout, resend: no ids
                    response = post(client, url, session, [(k, v) for k, v in form if k in allowed])
                body = response.body.decode() if isinstance(response.body, bytes) else str(response.body)
                if "{invoice_id}" in path or (path in ("/portal/pay", "/portal/promise", "/portal/plan") and (
                        method == "POST" or path == "/portal/pay")):
                    assert response.status_code == 404, (method, url, response.status_code)
                assert "INV-G1" not in body and "Globex" not in body, (method, url)
                checked.append((method, path))
    assert len({p for _, p in checked}) >= 8
    # And nothing happened to the other customer's invoice.
    assert get_json(client, f"/invoices/{theirs}", admin_headers)[1]["status"] == "open"
    assert get(client, f"/portal/invoices/{mine}", session).status_code == 200


class FakeCard:
    """Stripe Checkout as the portal sees it (the adapter's own tests stub the stripe library's HTTP client)."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def available(self) -> bool:
        return True

    def create_session(self, request: Any) -> str:
        self.requests.append(request)
        return "https://checkout.stripe.example/c/pay/cs_test_1"


def test_pay_now_creates_a_checkout_for_the_ticked_invoices_and_links_to_it(client, ledger, clock, admin_headers):
    from chalicelib.services.portal_payments import PortalPayments

    card = FakeCard()
    container = bootstrap.container()
    container.portal_payments = PortalPayments("Seller GmbH", "DE89370400440532013000", None, card=card)
    session = open_session(client)
    page = get(client, "/portal/pay", session)
    body = page.body.decode()
    assert "Pay by card" in body and "<svg" in body  # the EPC QR code, inline
    p1 = invoice_id(client, "INV-P1", admin_headers)
    none = post(client, "/portal/pay", session, [("csrf_token", csrf(body))])
    assert none.status_code == 400 and 'href="#invoice"' in none.body.decode()
    answer = post(client, "/portal/pay", session, [("csrf_token", csrf(body)), ("invoice", p1)])
    assert answer.status_code == 200
    assert 'href="https://checkout.stripe.example/c/pay/cs_test_1"' in answer.body.decode()
    [request] = card.requests
    assert [line.number for line in request.lines] == ["INV-P1"] and request.customer_id == "acme"
    assert request.success_url == "https://portal.example/api/portal?done=paid"
    assert request.cancel_url == "https://portal.example/api/portal?done=cancelled"
    theirs = invoice_id(client, "INV-G1", admin_headers)
    assert post(client, "/portal/pay", session, [("csrf_token", csrf(body)), ("invoice", theirs)]).status_code == 404
    assert len(card.requests) == 1


def test_actions_are_rate_limited_per_customer(client, ledger, clock, admin_headers):
    from chalicelib.services.portal import PortalLimits

    bootstrap.container().portal.limits = PortalLimits(actions_per_customer=1)
    session = open_session(client)
    p1, p2 = invoice_id(client, "INV-P1", admin_headers), invoice_id(client, "INV-P2", admin_headers)
    token = csrf(get(client, "/portal/promise", session).body)
    first = post(client, "/portal/promise", session, [("csrf_token", token), ("step", "confirm"), ("invoice", p1),
                                                     ("date", "2026-12-20"), ("amount", "")])
    assert first.status_code == 303
    second = post(client, "/portal/promise", session, [("csrf_token", token), ("step", "confirm"), ("invoice", p2),
                                                      ("date", "2026-12-20"), ("amount", "")])
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > 0
    assert "Too many requests" in second.body.decode()
    assert get_json(client, f"/invoices/{p2}", admin_headers)[1]["promised_until"] is None
