"""Fuzzes the running API from its own OpenAPI document (`GET /openapi.json`) with schemathesis: every
operation gets its documented examples, the coverage phase's boundary and invalid inputs, and a few random
cases; every answer must be documented (status code and body schema) and never a 5xx.

Bounded and reproducible: at most 5 generated cases per operation in the fuzzing phase, deterministic generation
(the same inputs every run, in the same order: one worker), about a minute and a half in all. The schemathesis CLI runs
it: its pytest plugin's lazy loading (`from_fixture`) fails on pytest 9 (`request.node._nodeid` is gone).

The webhooks are left out: without a processor's signature every request is refused before any parsing, so
fuzzing them only tests the signature check (tests/integration/test_webhooks.py covers them with signed bodies).

It runs on a stack of its own, not the session's `local_stack`: the fuzzer saves policies, flips the kill
switch and records payments, which other e2e tests must not see."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chalicelib.formats.processors.registry import processors
from tests.e2e.stack import ROOT, RunningStack, start_stack, wait_for

pytestmark = pytest.mark.e2e
MAX_EXAMPLES = 5
CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance")
TIME_LIMIT = 240  # seconds; the run takes about a minute on a 2-core machine


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(tmp_path_factory.mktemp("fuzz-home"))
    try:
        _seed(stack)
        yield stack
    finally:
        code = stack.stop()
        if code != 0:
            print(f"fuzzed stack exited with {code}\n{stack.output()}")


def _seed(stack: RunningStack) -> None:
    """Some of every kind of record, so answers carry items to check against the schemas."""
    bucket = stack.info["inbox_bucket"]
    for name in ("dunwell-invoices.csv", "dunwell-with-errors.csv"):
        stack.s3().put_object(Bucket=bucket, Key=f"incoming/{name}", Body=(ROOT / "examples" / name).read_bytes())

    def imported() -> bool:
        imports = requests.get(f"{stack.api_url}/imports", headers=stack.auth, timeout=10).json()["items"]
        return len([i for i in imports if i["status"] != "in_progress"]) == 2

    wait_for(imported, 30, 0.2, f"the example files were not imported\n{stack.output()}")
    payment = requests.post(f"{stack.api_url}/payments", headers=stack.auth, timeout=10,
                            json={"amount": "10.00", "currency": "EUR", "payer_name": "Seed"})
    assert payment.status_code == 201, payment.text


CONFIG = """
[phases.coverage]
# Chalice's local HTTP server (neither the API nor API Gateway) answers TRACE and other unknown methods
# with its own 501 page: leave unexpected methods out.
unexpected-methods = []

[phases.stateful]
# Stateful runs follow links (GET /api-keys -> DELETE /api-keys/{key_id}) and would revoke the fuzzer's own key.
enabled = false
"""


def test_the_api_answers_every_generated_input_as_documented(fuzz_stack: RunningStack, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", f"{fuzz_stack.api_url}/openapi.json",
        "--header", f"Authorization: Bearer {fuzz_stack.info['api_key']}",
        "--exclude-path-regex", "^/webhooks/",
        "--checks", ",".join(CHECKS),
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
        # One worker: two generate concurrently, and CPython 3.11's ast.parse (Hypothesis describes filter lambdas
        # with it) is not thread-safe: "SystemError: AST constructor recursion depth mismatch" failed runs at random.
        "--workers", "1", "--request-timeout", "30", "--output-truncate", "false",
    ]
    started = time.monotonic()
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=TIME_LIMIT, check=False)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    summary = output[output.rfind("SUMMARY"):] if "SUMMARY" in output else output[-2000:]
    print(f"schemathesis ran {elapsed:.1f} s, exit {result.returncode}\n{summary}")
    assert result.returncode == 0, f"schemathesis found problems:\n{output[-30000:]}\n{fuzz_stack.output()[-5000:]}"
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    assert selected, output[-3000:]
    # Left out: the webhook operations (one per processor, and /webhooks/{provider}), which need signatures.
    webhooks = len(processors()) + 1
    assert int(selected.group(1)) >= 26 and int(selected.group(2)) - int(selected.group(1)) == webhooks, \
        selected.group(0)


def test_the_fuzzers_key_still_works_and_the_stack_is_up(fuzz_stack: RunningStack) -> None:
    response = requests.get(f"{fuzz_stack.api_url}/api-keys", headers=fuzz_stack.auth, timeout=10)
    assert response.status_code == 200
    assert fuzz_stack.process.poll() is None
