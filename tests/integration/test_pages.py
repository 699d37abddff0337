"""The staff pages through the app (moto): sign-in with a key through the form, the session cookie and its
limits (pages only, expiry by revocation, CSRF, throttling), the dashboard with real disputes and with fakes."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlencode

import pytest

from chalicelib import bootstrap
from chalicelib.services.dashboard import NOT_CONFIGURED
from chalicelib.services.sessions import SESSION_COOKIE, SIGNIN_COOKIE
from tests.dashboard_fakes import full_dashboard
from tests.integration.conftest import issue_key
from tests.integration.helpers import drop, dunwell_csv, invoice_row

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Browser:
    """A cookie jar over chalice's test client, as a browser on the same origin would send its requests."""

    def __init__(self, client):
        self.client = client
        self.cookies: dict[str, str] = {}

    def request(self, method, path, body=b"", headers=None):
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.client.http.request(method, path, headers=sent, body=body)
        set_cookie = response.headers.get("Set-Cookie") or []
        for line in [set_cookie] if isinstance(set_cookie, str) else set_cookie:
            name, _, rest = line.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in line:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def form(self, path, fields, headers=None):
        return self.request("POST", path, urlencode(fields).encode(), {**FORM, **(headers or {})})

    def sign_in(self, key, headers=None):
        page = self.get("/signin")
        return self.form("/signin", {"api_key": key, "csrf_token": token_of(page)}, headers)


def token_of(response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', response.body.decode())
    assert found, response.body[:500]
    return found.group(1)


def set_cookies(response) -> list[str]:
    value = response.headers.get("Set-Cookie") or []
    return [value] if isinstance(value, str) else list(value)


@pytest.fixture
def browser(client):
    return Browser(client)


def assert_page_headers(response):
    headers = response.headers
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    policy = headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-") and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy and "form-action 'self'" in policy


def test_signing_in_through_the_form_sets_a_strict_session_cookie_and_opens_the_dashboard(browser, aws):
    page = browser.get("/signin")
    assert page.status_code == 200
    assert_page_headers(page)
    body = page.body.decode()
    assert '<label for="api_key">API key</label>' in body and 'type="password"' in body and 'method="post"' in body
    [pre] = set_cookies(page)
    assert pre.startswith(f"{SIGNIN_COOKIE}=") and "HttpOnly" in pre and "Secure" in pre and "SameSite=Strict" in pre

    key = issue_key("viewer")
    signed = browser.form("/signin", {"api_key": key, "csrf_token": token_of(page)})
    assert signed.status_code == 303 and signed.headers["Location"] == "/reports/dashboard"
    session_cookie = next(c for c in set_cookies(signed) if c.startswith(SESSION_COOKIE))
    assert session_cookie.endswith("; Max-Age=1800; Path=/; Secure; HttpOnly; SameSite=Strict")
    assert key not in session_cookie and key.split("_", 2)[2] not in session_cookie
    assert f"{SIGNIN_COOKIE}=; Max-Age=0" in " ".join(set_cookies(signed))

    dashboard = browser.get("/reports/dashboard?as_of=2026-12-06&currency=EUR")
    assert dashboard.status_code == 200
    assert_page_headers(dashboard)
    html = dashboard.body.decode()
    assert "Signed in as test-viewer (viewer)" in html and 'action="/signout"' in html
    # An empty ledger: every figure is wired and says it has nothing yet, with no number.
    assert NOT_CONFIGURED not in html and "No dispute in EUR was open at the end of 2026-12-06." in html
    assert key not in html
    # Signed in already: the sign-in page sends the browser on.
    again = browser.get("/signin")
    assert again.status_code == 303 and again.headers["Location"] == "/reports/dashboard"


def test_the_dashboard_without_a_session_sends_the_browser_to_sign_in(browser, aws):
    response = browser.get("/reports/dashboard")
    assert response.status_code == 303 and response.headers["Location"] == "/signin"
    browser.cookies[SESSION_COOKIE] = "v1.forged.cookie"
    assert browser.get("/reports/dashboard").status_code == 303


def test_the_session_cookie_never_opens_the_json_api(browser, aws):
    browser.sign_in(issue_key("admin"))
    assert SESSION_COOKIE in browser.cookies
    for path in ("/invoices", "/api-keys", "/dunning/settings"):
        response = browser.get(path)
        assert response.status_code == 401, path
        assert json.loads(response.body)["error"]["code"] == "unauthenticated"


def test_revoking_the_key_ends_its_session_at_once(browser, aws, admin_headers):
    key = issue_key("viewer")
    browser.sign_in(key)
    assert browser.get("/reports/dashboard").status_code == 200
    key_id = key.split("_")[1]
    assert browser.client.http.delete(f"/api-keys/{key_id}", headers=admin_headers).status_code == 200
    response = browser.get("/reports/dashboard")
    assert response.status_code == 303 and response.headers["Location"] == "/signin"


def test_a_wrong_key_shows_the_form_again_with_the_reason_and_never_echoes_or_logs_the_key(browser, aws, caplog):
    caplog.set_level(logging.DEBUG, logger="dunwell")
    wrong = "dwk_0123456789abcdef_" + "x" * 43
    response = browser.sign_in(wrong)
    assert response.status_code == 401
    assert_page_headers(response)
    body = response.body.decode()
    assert 'role="alert"' in body and "unknown or revoked" in body and 'aria-invalid="true"' in body
    assert wrong not in body and "x" * 43 not in caplog.text and SESSION_COOKIE not in browser.cookies
    assert "sign-in failed" in caplog.text


def test_signing_in_needs_the_forms_token_and_its_cookie(browser, aws):
    key = issue_key("viewer")
    page = browser.get("/signin")
    token = token_of(page)
    assert browser.form("/signin", {"api_key": key}).status_code == 403
    assert browser.form("/signin", {"api_key": key, "csrf_token": token + "x"}).status_code == 403
    stranger = Browser(browser.client)  # has the token (copied from a page) but not the cookie it is bound to
    refused = stranger.form("/signin", {"api_key": key, "csrf_token": token})
    assert refused.status_code == 403 and "expired" in refused.body.decode()
    assert SESSION_COOKIE not in stranger.cookies


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "same-site", "Origin": "null"},
                                     {"Origin": "https://dunwell.example.evil.example"}])
def test_a_cross_site_sign_in_is_refused(browser, aws, headers):
    response = browser.sign_in(issue_key("viewer"), {**headers, "Host": "dunwell.example"})
    assert response.status_code == 403 and SESSION_COOKIE not in browser.cookies


@pytest.mark.parametrize("headers", [
    {"Origin": "https://dunwell.example", "Sec-Fetch-Site": "same-origin"},
    {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # what Chromium sends under Referrer-Policy: no-referrer
    {"Origin": "https://dunwell.example"}, {}])
def test_a_same_origin_sign_in_passes(browser, aws, headers):
    assert browser.sign_in(issue_key("viewer"), {**headers, "Host": "dunwell.example"}).status_code == 303


def test_failed_sign_ins_are_throttled_even_for_a_right_key_then(browser, aws):
    for _ in range(5):
        assert browser.sign_in("dwk_0123456789abcdef_nope").status_code == 401
    response = browser.sign_in(issue_key("viewer"))
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in response.body.decode()
    assert SESSION_COOKIE not in browser.cookies


def test_a_key_is_never_taken_from_a_url_nor_as_json(browser, aws):
    key = issue_key("viewer")
    response = browser.get(f"/signin?api_key={key}")
    assert response.status_code == 400 and key not in response.body.decode()
    as_json = browser.request("POST", "/signin", json.dumps({"api_key": key}).encode(),
                              {"Content-Type": "application/json"})
    assert as_json.status_code == 415 and as_json.headers["Content-Type"].startswith("text/html")
    assert SESSION_COOKIE not in browser.cookies


def test_signing_out_needs_the_pages_token_and_clears_the_cookie(browser, aws):
    browser.sign_in(issue_key("viewer"))
    dashboard = browser.get("/reports/dashboard")
    assert browser.form("/signout", {"csrf_token": "forged"}).status_code == 403
    assert browser.get("/reports/dashboard").status_code == 200
    out = browser.form("/signout", {"csrf_token": token_of(dashboard)})
    assert out.status_code == 303 and out.headers["Location"] == "/signin?signed_out=1"
    assert SESSION_COOKIE not in browser.cookies
    assert "You are signed out." in browser.get("/signin?signed_out=1").body.decode()
    assert browser.get("/reports/dashboard").status_code == 303


def test_the_dashboard_takes_a_bearer_key_and_refuses_a_bad_one(client, aws):
    ok = client.http.get("/reports/dashboard", headers={"Authorization": f"Bearer {issue_key('viewer')}"})
    assert ok.status_code == 200 and "with an API key" in ok.body.decode()
    assert 'action="/signout"' not in ok.body.decode()
    bad = client.http.get("/reports/dashboard", headers={"Authorization": "Bearer dwk_nope"})
    assert bad.status_code == 401 and bad.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(("query", "words"), [("as_of=2026-13-01", "as_of must be a date"),
                                              ("currency=XYZ", "not an ISO 4217"), ("limit=5", "no parameter")])
def test_bad_dashboard_parameters_are_answered_as_a_page(browser, aws, query, words):
    browser.sign_in(issue_key("viewer"))
    response = browser.get(f"/reports/dashboard?{query}")
    assert response.status_code == 400 and words in response.body.decode()
    assert_page_headers(response)


def test_disputes_by_age_come_from_the_disputes_table(browser, client, s3, bucket, admin_headers):
    drop(client, s3, bucket, "incoming/ledger.csv", dunwell_csv(invoice_row("INV-001", "120.00")))
    opened = client.http.post("/invoices/INV-001/disputes", headers={**admin_headers, "Content-Type":
                                                                       "application/json"},
                              body=json.dumps({"reason": "pricing", "amount": "20.00"}).encode())
    assert opened.status_code == 201, opened.body
    browser.sign_in(issue_key("viewer"))
    html = browser.get("/reports/dashboard").body.decode()
    assert 'id="chart-disputes"' in html and "Open disputes: <strong>1</strong>" in html
    assert "EUR 20.00" in html


def test_the_dashboard_with_every_figure_wired(browser, aws):
    bootstrap.container().dashboard = full_dashboard()
    browser.sign_in(issue_key("viewer"))
    html = browser.get("/reports/dashboard?as_of=2026-12-06").body.decode()
    for chart in ("chart-aging", "chart-dso", "chart-cei", "chart-forecast", "chart-disputes"):
        assert f'id="{chart}"' in html
    assert "ACME &lt;Widgets&gt; &amp; Sons" in html and NOT_CONFIGURED not in html


def test_every_page_refuses_an_unknown_query_parameter_and_a_form_an_unknown_field(browser, aws):
    for path in ("/signin", "/reports/dashboard"):
        response = browser.client.http.get(f"{path}?zz_unknown=1", headers={
            "Authorization": f"Bearer {issue_key('viewer')}"})
        assert response.status_code == 400 and "zz_unknown" in response.body.decode(), path
    page = browser.get("/signin")
    response = browser.form("/signin", {"api_key": "dwk_x", "csrf_token": token_of(page), "zz_unknown": "1"})
    assert response.status_code == 400 and "zz_unknown" in response.body.decode()
