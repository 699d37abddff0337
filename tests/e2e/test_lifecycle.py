"""Starting and stopping the local stack: signals, busy ports, and an external AWS endpoint (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.stack import ROOT, TEST_ONLY_VARIABLES, start_stack, wait_for

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sigterm_stops_everything_cleanly(tmp_path: Path):
    stack = start_stack(tmp_path)
    api, endpoint = stack.api_url, stack.info["aws_endpoint_url"]
    assert requests.get(api + "/health", timeout=5).status_code == 200
    started = time.monotonic()
    assert stack.stop() == 0, stack.output()
    assert time.monotonic() - started < 10
    assert not (stack.state_dir / "local.json").exists()  # present <=> running
    for url in (api + "/health", endpoint + "/moto-api/data.json"):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=2)


def test_a_busy_port_is_a_clear_error(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "chalicelib.local"], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**_clean_env(), "DUNWELL_HOME": str(tmp_path), "DUNWELL_API_PORT": str(port)},
            check=False,
        )
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "DUNWELL_API_PORT" in result.stderr


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}


def test_an_external_endpoint_is_used_and_a_restart_against_it_succeeds(tmp_path: Path, external_moto: str):
    first = start_stack(tmp_path / "first", AWS_ENDPOINT_URL=external_moto)
    try:
        assert first.info["aws_endpoint_url"] == external_moto
        tables = set(first.client("dynamodb").list_tables()["TableNames"])
        assert "dunwell-local-invoices" in tables
    finally:
        assert first.stop() == 0, first.output()
    assert requests.get(external_moto + "/moto-api/data.json", timeout=5).status_code == 200  # left running

    # Everything exists already: provisioning must be idempotent, and the app must work on top of it.
    second = start_stack(tmp_path / "second", AWS_ENDPOINT_URL=external_moto)
    try:
        assert requests.get(second.api_url + "/invoices", headers=second.auth, timeout=10).status_code == 200
        key = "incoming/external.csv"
        second.s3().put_object(Bucket=second.info["inbox_bucket"], Key=key, Body=b"a,b\n1,2\n")
        wait_for(lambda: [i for i in second.invocations() if key in (i["subject"] or "")], 10, 0.1,
                 f"no delivery through the external endpoint\n{second.output()}")
        # Only one rule target and one subscription: a restart does not deliver events twice.
        targets = second.client("events").list_targets_by_rule(Rule="dunwell-local-ingest_upload")["Targets"]
        assert len(targets) == 1

        # The outbox reads sent mail from /moto-api/data.json when moto runs elsewhere.
        second.client("ses").send_email(
            Source=second.info["mail_from"], Destination={"ToAddresses": ["ap@customer.example"]},
            Message={"Subject": {"Data": "external"}, "Body": {"Text": {"Data": "hello"}}},
        )
        outbox = Path(second.info["outbox_dir"])
        wait_for(lambda: [p for p in outbox.glob("*.eml") if "external" in p.read_text()], 10, 0.2,
                 f"no .eml from the external endpoint\n{second.output()}")
    finally:
        assert second.stop() == 0, second.output()
    assert f'"aws_endpoint_url": "{external_moto}"' in second.stdout.read_text()  # printed, as local.json
