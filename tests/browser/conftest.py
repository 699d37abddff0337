"""Headless Chromium (Selenium) against the local stack `make run` starts, with axe-core for accessibility.

Without Chromium, its driver or selenium the browser tests are SKIPPED LOUDLY: a line in capitals at the end of
the run says so and how to install them, never a silent pass. With DUNWELL_BROWSER_TESTS=required (`.ci/run` sets
it after installing Chromium) a missing browser fails the run instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stack import RunningStack, start_stack, wait_for

AXE = Path(__file__).resolve().parent / "axe" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # axe-core 4.14.1
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
INSTALL_HINT = ("install them with: apt-get install -y chromium chromium-driver (Debian/Ubuntu, as root), "
                "then `make test` (selenium comes with requirements-dev.txt)")
_SKIPPED: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SKIPPED:
        reason = _SKIPPED[0]
        terminalreporter.write_sep("!", "BROWSER TESTS SKIPPED", red=True, bold=True)
        terminalreporter.write_line(
            f"THE BROWSER TESTS (tests/browser: sign-in, dashboard, axe WCAG 2.2 AA) WERE SKIPPED: {reason.upper()}. "
            f"NOTHING WAS CHECKED IN A BROWSER. To run them, {INSTALL_HINT}.", red=True, bold=True)


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    if not _chromium() or not shutil.which("chromedriver"):
        return "no chromium / chromedriver on PATH"
    return None


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser_available() -> None:
    missing = _browser_missing()
    if missing is None:
        return
    if os.environ.get("DUNWELL_BROWSER_TESTS", "").lower() == "required":
        pytest.fail(f"browser tests are required here (DUNWELL_BROWSER_TESTS=required) but {missing}; {INSTALL_HINT}")
    _SKIPPED.append(missing)
    pytest.skip(f"BROWSER TESTS SKIPPED: {missing}; {INSTALL_HINT}")


@pytest.fixture(scope="session")
def driver(browser_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(_chromium())
    profile = tmp_path_factory.mktemp("chromium-profile")
    # Headless, and nothing that reaches for the network: the machine has none but loopback.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", "--window-size=1280,1600", "--hide-scrollbars",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(str(shutil.which("chromedriver"))), options=options)
    browser.set_page_load_timeout(60)
    browser.set_script_timeout(120)
    yield browser
    browser.quit()


@pytest.fixture(scope="session")
def stack(browser_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The local stack `make run` starts, with a ledger of a few invoices and one open dispute."""
    running = start_stack(tmp_path_factory.mktemp("dunwell-browser-home"))
    try:
        seed(running)
        yield running
    finally:
        code = running.stop()
        if code != 0:
            print(f"local stack exited with {code}\n{running.output()}")


def api(stack: RunningStack, method: str, path: str, body: dict[str, Any] | None = None,
        key: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(stack.api_url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {key or stack.info['api_key']}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only: the local stack
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def seed(stack: RunningStack) -> None:
    from tests.e2e.user_tools import invoices_csv

    today = date.today()  # the stack runs on the real clock; no assertion depends on the day
    rows = [("INV-B1", "acme", today - timedelta(days=40), "1200.00"),
            ("INV-B2", "globex", today - timedelta(days=5), "830.50"),
            ("INV-B3", "acme", today + timedelta(days=20), "99.90")]
    stack.s3().put_object(Bucket=stack.info["inbox_bucket"], Key="incoming/browser.csv",
                          Body=invoices_csv(rows, "Ltd").encode())
    wait_for(lambda: api(stack, "GET", "/invoices/INV-B3")[0] == 200, 60, 0.5,
             f"the seeded invoices were not imported\n{stack.output()}")
    status, body = api(stack, "POST", "/invoices/INV-B2/disputes", {"reason": "pricing", "amount": "130.50"})
    assert status == 201, body


@pytest.fixture(scope="session")
def viewer_key(stack: RunningStack) -> str:
    status, body = api(stack, "POST", "/api-keys", {"name": "browser viewer", "role": "viewer"})
    assert status == 201, body
    return str(body["api_key"])


def run_axe(driver: Any) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.0, 2.1 and 2.2 A and AA on the page now open."""
    script = AXE.read_bytes()
    assert hashlib.sha256(script).hexdigest() == AXE_SHA256, "tests/browser/axe/axe.min.js is not the vendored one"
    driver.execute_script(script.decode("utf-8"))
    options = json.dumps({"runOnly": {"type": "tag", "values": WCAG_22_AA}, "resultTypes": ["violations"]})
    result = driver.execute_async_script(
        f"const done = arguments[arguments.length - 1]; axe.run(document, {options}).then(done, "
        "e => done({error: String(e)}));")
    assert "error" not in result, result
    assert result["testEngine"]["version"] == "4.14.1"
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} -> "
                     f"{[n['target'] for n in v['nodes']][:5]}" for v in violations)


def wait_for_url(driver: Any, fragment: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while fragment not in driver.current_url:
        if time.monotonic() > deadline:
            pytest.fail(f"the browser did not reach {fragment!r}; it is at {driver.current_url}")
        time.sleep(0.1)
