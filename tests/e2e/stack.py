"""Drives the local stack as a user runs it: `python -m chalicelib.local` in a subprocess, free ports
(DUNWELL_API_PORT=0, DUNWELL_AWS_PORT=0) and a temporary DUNWELL_HOME for `.dunwell/`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60

# Set by tests/conftest.py for the moto-in-process tests; the subprocess must not inherit them.
TEST_ONLY_VARIABLES = ("DUNWELL_STAGE", "DUNWELL_RESOURCE_PREFIX", "AWS_ENDPOINT_URL", "AWS_PROFILE",
                       "SELLER_NAME", "SELLER_IBAN", "SELLER_BIC")  # the stack ships its own demo seller


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    home: Path
    stdout: Path
    stderr: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.home / ".dunwell"

    @property
    def api_url(self) -> str:
        return str(self.info["api_url"])

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info['api_key']}"}

    def output(self) -> str:
        return (
            f"--- exit code: {self.process.poll()}\n"
            f"--- stderr:\n{self.stderr.read_text(errors='replace')[-20000:]}\n"
            f"--- stdout:\n{self.stdout.read_text(errors='replace')[-20000:]}"
        )

    def invocations(self) -> list[dict[str, Any]]:
        path = self.state_dir / "invocations.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def s3(self) -> Any:
        return self.client("s3")

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.info["aws_endpoint_url"],
            region_name=self.info["region"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)


def start_stack(home: Path, module: str = "chalicelib.local", **extra_env: str) -> RunningStack:
    """`module`: what `make run` runs, or a wrapper of it (bench/unpatched_stack.py)."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}
    env.update(
        DUNWELL_HOME=str(home),
        DUNWELL_API_PORT="0",
        DUNWELL_AWS_PORT="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env)
    home.mkdir(parents=True, exist_ok=True)
    stdout, stderr = home / "stack.stdout.log", home / "stack.stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", module], cwd=ROOT, env=env, stdout=out, stderr=err
        )
    stack = RunningStack(process, home, stdout, stderr)
    local_json = stack.state_dir / "local.json"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        # Ready once it has written local.json and printed the banner after it (the banner names the API's URL).
        if local_json.exists():
            stack.info = json.loads(local_json.read_text())
            if stack.info.get("api_url", "") in stdout.read_text(errors="replace"):
                return stack
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stack.stop()
    pytest.fail(f"the local stack did not write {local_json} within {START_TIMEOUT} s\n{stack.output()}")


def wait_for(predicate: Any, timeout: float, interval: float = 0.2, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s: {message}")
        time.sleep(interval)
