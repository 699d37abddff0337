"""The customer portal in headless Chromium on the local stack (issue 13 items 7, 8).

End to end: a reminder from a dunning run lands in `.dunwell/outbox/` with a personal link; the link opens the
portal in the browser (a session cookie, a clean URL); the customer disputes one invoice, promises to pay another
and asks for a payment plan for a third, each through the form's confirm step by keyboard and clicks; a signed
Stripe `checkout.session.completed` (what the processor sends once the customer has paid) pays a fourth; the staff
API and the timelines show each with the actor `portal:<email>`. axe-core finds no WCAG 2.2 A/AA violation on any
portal page: the statement, an invoice, each form, its error state and its review step, the pay page, the
expired-link page and its answer, an error page, in English and in German."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.conftest import describe, run_axe, wait_for_url
from tests.browser.png import not_blank
from tests.e2e.stack import RunningStack, wait_for
from tests.e2e.user_tools import first_due_date

pytestmark = pytest.mark.browser

CUSTOMER, MAIL = "portalco", "ap@portalco.example"
NUMBERS = ("PT-101", "PT-102", "PT-103", "PT-104")
HEADER = ("invoice_number,kind,customer_id,customer_name,email,phone,language,timezone,country,issue_date,"
          "due_date,terms,currency,total,amount_paid,applies_to,status,buyer_reference")
AXE_FINDINGS: dict[str, int] = {}


def staff(stack: RunningStack, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
    response = requests.request(method, stack.api_url + path, headers=stack.auth, timeout=30, **kwargs)
    assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def accessible(driver: Any, name: str) -> None:
    violations = run_axe(driver)
    AXE_FINDINGS[name] = len(violations)
    assert not violations, f"{name}:\n{describe(violations)}"


def portal_mail(stack: RunningStack, since: set[Path]) -> str:
    """The link in the newest mail to MAIL that was not in `since`."""
    outbox = Path(stack.info["outbox_dir"])
    found: list[str] = []

    def arrived() -> bool:
        for path in sorted(p for p in outbox.glob("*.eml") if p not in since):
            text = path.read_bytes().decode("utf-8", "replace")
            if MAIL in text:
                found.extend(re.findall(r"https?://[^\s\"<>]+/portal/open/[A-Za-z0-9_-]{43}", text))
        return bool(found)

    wait_for(arrived, 20, 0.2, f"no portal link mailed to {MAIL}\n{stack.output()}")
    return found[-1]


@pytest.fixture(scope="module")
def portal_ledger(stack: RunningStack) -> dict[str, str]:
    """Four open invoices of one customer (German), due soon; a reminder run sends the first mail with a link."""
    due = first_due_date(date.today(), (-7,))
    rows = [HEADER] + [f"{number},invoice,{CUSTOMER},Portal GmbH,{MAIL},,de,Europe/Berlin,DE,"
                       f"{due - timedelta(days=30)},{due},,EUR,{100 * (n + 1)}.00,0,,open,"
                       for n, number in enumerate(NUMBERS)]
    stack.s3().put_object(Bucket=stack.info["inbox_bucket"], Key="incoming/portal.csv",
                          Body=("\n".join(rows) + "\n").encode())
    wait_for(lambda: requests.get(f"{stack.api_url}/invoices/{NUMBERS[-1]}", headers=stack.auth,
                                  timeout=10).status_code == 200, 60, 0.5, f"not imported\n{stack.output()}")
    return {number: staff(stack, "GET", f"/invoices/{number}")["id"] for number in NUMBERS} | {
        "due": due.isoformat()}


def open_link(driver: Any, stack: RunningStack, link: str) -> None:
    driver.delete_all_cookies()
    driver.get(stack.api_url + "/health")
    driver.delete_all_cookies()
    driver.get(link)
    wait_for_url(driver, "/portal")
    assert driver.current_url == stack.api_url + "/portal"  # a clean URL: no token


def submit(driver: Any, value: str) -> None:
    """Presses the form's button by keyboard and waits for the next page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, f"main button[value={value}]").send_keys(Keys.ENTER)
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(page))


def test_a_reminder_link_opens_the_portal_and_every_action_reaches_the_staff_side(driver, stack, portal_ledger,
                                                                                   tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    before = set(Path(stack.info["outbox_dir"]).glob("*.eml"))
    due = date.fromisoformat(portal_ledger["due"])
    summary = staff(stack, "POST", "/dunning/runs", json={"as_of": (due - timedelta(days=7)).isoformat()})
    assert summary["failed"] == [], summary
    link = portal_mail(stack, before)
    assert link.startswith(stack.api_url + "/portal/open/")

    open_link(driver, stack, link)
    cookie = driver.get_cookie("__Host-dunwell_portal")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert link.rsplit("/", 1)[1] not in cookie["value"]
    assert driver.execute_script("return document.cookie") == ""
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "Ihr Kontoauszug" in body and all(number in body for number in NUMBERS)
    accessible(driver, "statement (de)")
    colours, share = not_blank(driver.get_screenshot_as_png())
    assert colours > 20 and share > 0.02, (colours, share)

    # 1. Dispute PT-101 in part: the form, a wrong amount (errors linked to their fields), the review, confirm.
    driver.find_element(By.LINK_TEXT, "PT-101").click()
    accessible(driver, "invoice (de)")
    driver.find_element(By.PARTIAL_LINK_TEXT, "beanstanden").click()
    accessible(driver, "dispute form (de)")
    driver.find_element(By.ID, "amount").send_keys("abc")
    submit(driver, "review")
    summary_box = driver.find_element(By.ID, "error-summary")
    assert summary_box.get_attribute("role") == "alert"
    assert driver.find_element(By.ID, "reason").get_attribute("aria-invalid") == "true"
    accessible(driver, "dispute form with errors (de)")
    Select(driver.find_element(By.ID, "reason")).select_by_value("pricing")
    amount = driver.find_element(By.ID, "amount")
    amount.clear()
    amount.send_keys("40,00")
    driver.find_element(By.ID, "comment").send_keys("Rabatt vereinbart")
    submit(driver, "review")
    assert "Bitte prüfen und bestätigen" in driver.find_element(By.TAG_NAME, "body").text
    accessible(driver, "dispute review (de)")
    submit(driver, "confirm")
    wait_for_url(driver, "?done=dispute")
    assert "Beanstandung wurde gesendet" in driver.find_element(By.TAG_NAME, "body").text

    # 2. Promise to pay PT-102 within the week.
    driver.get(stack.api_url + "/portal/promise")
    accessible(driver, "promise form (de)")
    driver.find_element(By.CSS_SELECTOR, f"input[value='{portal_ledger['PT-102']}']").click()
    until = date.today() + timedelta(days=7)
    driver.execute_script("arguments[0].value = arguments[1]", driver.find_element(By.ID, "date"), until.isoformat())
    submit(driver, "review")
    accessible(driver, "promise review (de)")
    submit(driver, "confirm")
    wait_for_url(driver, "?done=promise")

    # 3. Ask for a plan for PT-103.
    driver.get(stack.api_url + "/portal/plan")
    accessible(driver, "plan form (de)")
    driver.find_element(By.CSS_SELECTOR, f"input[value='{portal_ledger['PT-103']}']").click()
    driver.find_element(By.ID, "instalments").send_keys("3")
    first = date.today() + timedelta(days=14)
    driver.execute_script("arguments[0].value = arguments[1]", driver.find_element(By.ID, "first_date"),
                          first.isoformat())
    submit(driver, "review")
    accessible(driver, "plan review (de)")
    submit(driver, "confirm")
    wait_for_url(driver, "?done=plan")

    # 4. The pay page (bank transfer, RF references, EPC QR codes), then Stripe reports PT-104 paid.
    driver.get(stack.api_url + "/portal/pay")
    assert "RF" in driver.find_element(By.TAG_NAME, "body").text
    assert driver.find_elements(By.CSS_SELECTOR, "td.qr svg")
    accessible(driver, "pay page (de)")
    secret = stack.info["webhook_secrets"]["stripe"]
    intent = f"pi_{uuid.uuid4().hex}"
    event = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "checkout.session.completed",
                        "created": int(time.time()),
                        "data": {"object": {"id": f"cs_{uuid.uuid4().hex}", "object": "checkout.session",
                                            "mode": "payment", "payment_status": "paid", "status": "complete",
                                            "amount_total": 40000, "currency": "eur", "payment_intent": intent,
                                            "client_reference_id": "PT-104",
                                            "metadata": {"invoice_numbers": "PT-104",
                                                         "dunwell_customer_id": CUSTOMER}}}}).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + event, hashlib.sha256).hexdigest()
    answer = requests.post(f"{stack.api_url}/webhooks/stripe", data=event, timeout=10, headers={
        "Stripe-Signature": f"t={stamp},v1={signature}", "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text

    # The staff side sees all of it, done by the customer's contact.
    actor = f"portal:{MAIL}"
    assert staff(stack, "GET", f"/invoices/{portal_ledger['PT-101']}")["status"] == "open"  # a deduction of 40
    timeline = staff(stack, "GET", f"/invoices/{portal_ledger['PT-101']}/timeline")["items"]
    assert any(e["actor"] == actor and e["type"] == "invoice.disputed" for e in timeline), timeline
    assert staff(stack, "GET", f"/invoices/{portal_ledger['PT-102']}")["promised_until"] == until.isoformat()
    timeline = staff(stack, "GET", f"/invoices/{portal_ledger['PT-102']}/timeline")["items"]
    assert any(e["actor"] == actor for e in timeline), timeline
    requests_open = staff(stack, "GET", "/plan-requests?status=pending")["items"]
    assert any(r["customer_id"] == CUSTOMER for r in requests_open), requests_open
    wait_for(lambda: staff(stack, "GET", f"/invoices/{portal_ledger['PT-104']}")["status"] == "paid", 20, 0.3,
             "PT-104 was not paid by the webhook")
    driver.get(stack.api_url + "/portal")
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "PT-104" in body.split("Letzte Zahlungen")[1]  # in the recent payments now
    accessible(driver, "statement after the actions (de)")

    # Signing out ends the session; the expired-link page offers a fresh link, and says the same for anyone.
    driver.find_element(By.CSS_SELECTOR, "header form button").click()
    wait_for_url(driver, "/portal/expired?signed_out=1")
    accessible(driver, "signed out (de)")
    driver.get(stack.api_url + "/portal")
    wait_for_url(driver, "/portal/expired")


def test_the_expired_link_page_and_errors_are_accessible(driver, stack, portal_ledger):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(stack.api_url + "/portal/open/" + "x" * 43)
    assert "This link has expired" in driver.find_element(By.TAG_NAME, "h1").text
    accessible(driver, "expired link (en)")
    field = driver.find_element(By.ID, "email")
    field.send_keys("not an address")
    page = driver.find_element(By.TAG_NAME, "html")
    field.send_keys(Keys.ENTER)
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(page))
    assert driver.find_element(By.ID, "email").get_attribute("aria-invalid") == "true"
    accessible(driver, "expired link with an error (en)")
    field = driver.find_element(By.ID, "email")
    field.clear()
    field.send_keys("someone@unknown.example")
    page = driver.find_element(By.TAG_NAME, "html")
    field.send_keys(Keys.ENTER)
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(page))
    assert "a fresh link is on its way" in driver.find_element(By.TAG_NAME, "body").text
    accessible(driver, "fresh link requested (en)")


def test_an_invoice_of_another_customer_is_not_found_in_the_browser(driver, stack, portal_ledger):
    from selenium.webdriver.common.by import By

    before = set(Path(stack.info["outbox_dir"]).glob("*.eml"))
    staff(stack, "POST", f"/customers/{CUSTOMER}/portal-links")
    open_link(driver, stack, portal_mail(stack, before))
    other = staff(stack, "GET", "/invoices/INV-B2")["id"]  # globex's, seeded by conftest
    driver.get(f"{stack.api_url}/portal/invoices/{other}")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Nicht gefunden"
    assert "Globex" not in driver.find_element(By.TAG_NAME, "body").text
    accessible(driver, "not found (de)")
    # Keyboard only: the skip link first, then the way back to the statement.
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.execute_script("document.activeElement.blur()")
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert driver.switch_to.active_element.get_attribute("class") == "skip"
    outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    left = driver.execute_script("return document.activeElement.getBoundingClientRect().left")
    assert outline != "none" or left >= 0  # the focused skip link is visible


def test_axe_summary(driver):
    """Printed for the report: pages checked and what axe found on each (all zero, or a test above failed)."""
    print(json.dumps(AXE_FINDINGS, ensure_ascii=False, indent=1))
    assert len(AXE_FINDINGS) >= 14, AXE_FINDINGS
