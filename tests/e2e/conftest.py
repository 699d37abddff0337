"""`local_stack`: one local stack for the whole e2e session (schedules fire once at start via
DUNWELL_SCHEDULES_AT_START), stopped with SIGTERM at the end. Tests needing their own use `start_stack()`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.stack import TEST_ONLY_VARIABLES, RunningStack, start_stack, wait_for


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    started = time.monotonic()
    stack = start_stack(tmp_path_factory.mktemp("dunwell-home"), DUNWELL_SCHEDULES_AT_START="1")
    stack.info["_start_seconds"] = round(time.monotonic() - started, 2)
    yield stack
    code = stack.stop()
    if code != 0:
        print(f"local stack exited with {code}\n{stack.output()}")


@pytest.fixture
def external_moto(tmp_path: Path) -> Iterator[str]:
    """A moto server in its own process, as `AWS_ENDPOINT_URL` would name one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES},
    )
    endpoint = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(endpoint + "/moto-api/data.json", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(up, 30, 0.1, "the external moto server did not start")
    yield endpoint
    process.terminate()
    process.wait(10)
    log.close()
