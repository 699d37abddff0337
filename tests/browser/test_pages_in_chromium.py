"""The staff pages in headless Chromium on the local stack: sign in with a key through the real form (by keyboard
alone), the dashboard renders (a screenshot that is not blank), and axe-core finds no WCAG 2.2 A/AA violation on
the sign-in page, its error state, the dashboard and a dashboard with every figure wired."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import describe, run_axe, wait_for_url
from tests.browser.png import not_blank
from tests.e2e.stack import RunningStack

pytestmark = pytest.mark.browser


def fresh(driver: Any, stack: RunningStack, path: str) -> None:
    driver.delete_all_cookies()
    driver.get(stack.api_url + "/health")  # the stack's origin, so its cookies can be cleared
    driver.delete_all_cookies()
    driver.get(stack.api_url + path)


def active(driver: Any) -> Any:
    return driver.switch_to.active_element


def tab_to(driver: Any, predicate: Any, limit: int = 10) -> Any:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        element = active(driver)
        if predicate(element):
            return element
    pytest.fail("not reachable with the Tab key")


def test_the_sign_in_page_is_accessible_and_not_blank(driver, stack, tmp_path: Path):
    fresh(driver, stack, "/signin")
    assert driver.title == "Sign in to Dunwell - Dunwell"
    violations = run_axe(driver)
    assert not violations, describe(violations)
    screenshot = driver.get_screenshot_as_png()
    (tmp_path / "signin.png").write_bytes(screenshot)
    colours, share = not_blank(screenshot)
    assert colours > 20 and share > 0.02, (colours, share)  # a short form on a light page: a header, a box, text


def test_a_wrong_key_shows_an_accessible_error(driver, stack):
    from selenium.webdriver.common.by import By

    fresh(driver, stack, "/signin")
    field = driver.find_element(By.ID, "api_key")
    field.send_keys("dwk_0123456789abcdef_not-a-real-key")
    field.submit()
    alert = driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert "unknown or revoked" in alert.text
    field = driver.find_element(By.ID, "api_key")
    assert field.get_attribute("aria-invalid") == "true" and "signin-error" in field.get_attribute("aria-describedby")
    assert field.get_attribute("value") == ""  # the key is not sent back
    violations = run_axe(driver)
    assert not violations, describe(violations)


def test_signing_in_by_keyboard_alone_opens_an_accessible_dashboard(driver, stack, viewer_key, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    fresh(driver, stack, "/signin")
    driver.execute_script("document.activeElement.blur()")
    skip = tab_to(driver, lambda e: e.get_attribute("class") == "skip")
    assert skip.text == "Skip to content"
    field = tab_to(driver, lambda e: e.get_attribute("id") == "api_key")
    field.send_keys(viewer_key)
    button = tab_to(driver, lambda e: e.tag_name == "button")
    assert button.text == "Sign in"
    button.send_keys(Keys.ENTER)
    wait_for_url(driver, "/reports/dashboard")

    cookie = driver.get_cookie("__Host-dunwell_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert viewer_key not in cookie["value"]
    assert driver.execute_script("return document.cookie") == ""  # no script can read it

    body = driver.find_element(By.TAG_NAME, "body").text
    assert "Signed in as browser viewer (viewer)" in body and "Disputes by age" in body
    assert driver.find_element(By.ID, "chart-disputes").get_attribute("role") == "img"
    violations = run_axe(driver)
    assert not violations, describe(violations)
    screenshot = driver.get_screenshot_as_png()
    (tmp_path / "dashboard.png").write_bytes(screenshot)
    colours, share = not_blank(screenshot)
    assert colours > 50 and share > 0.05, (colours, share)
    # The data table of a chart is reachable by keyboard, and so is signing out.
    summary = tab_to(driver, lambda e: e.tag_name == "summary", limit=20)
    summary.send_keys(Keys.ENTER)
    assert summary.find_element(By.XPATH, "..").get_attribute("open") is not None  # its <details> opened

    # An error is a page too, and as accessible.
    driver.get(stack.api_url + "/reports/dashboard?currency=XYZ")
    assert "not an ISO 4217 currency code" in driver.find_element(By.CSS_SELECTOR, "[role=alert]").text
    violations = run_axe(driver)
    assert not violations, describe(violations)
    driver.get(stack.api_url + "/reports/dashboard")

    fresh_tab = driver.find_element(By.CSS_SELECTOR, "header form button")
    fresh_tab.send_keys(Keys.ENTER)
    wait_for_url(driver, "/signin?signed_out=1")
    assert "You are signed out." in driver.find_element(By.TAG_NAME, "body").text
    driver.get(stack.api_url + "/reports/dashboard")
    wait_for_url(driver, "/signin")


def test_the_dashboard_with_every_figure_is_accessible(driver, tmp_path: Path):
    """Every chart and table, from in-memory sources with realistic numbers (on main only disputes are wired)."""
    from chalicelib.formats.dashboard import render_dashboard
    from tests.dashboard_fakes import full_dashboard

    page = tmp_path / "dashboard.html"
    page.write_text(render_dashboard(full_dashboard().figures(date(2026, 12, 6), "EUR"), base="",
                                     signed_in_as="Ana (finance)", role="viewer", csrf_token="t",
                                     currencies=["EUR", "USD"]))
    driver.get(page.as_uri())
    violations = run_axe(driver)
    assert not violations, describe(violations)
    screenshot = driver.get_screenshot_as_png()
    (tmp_path / "dashboard-full.png").write_bytes(screenshot)
    colours, share = not_blank(screenshot)
    assert colours > 100 and share > 0.1, (colours, share)


def test_the_digest_email_is_accessible(driver, tmp_path: Path):
    from chalicelib.formats.dashboard import render_digest
    from tests.dashboard_fakes import full_dashboard

    page = tmp_path / "digest.html"
    page.write_text(render_digest(full_dashboard().figures(date(2026, 12, 6), "EUR"), seller_name="Test Seller",
                                  dashboard_url="https://dunwell.example/api/reports/dashboard").html)
    driver.get(page.as_uri())
    violations = run_axe(driver)
    assert not violations, describe(violations)
