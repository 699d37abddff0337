"""`.dunwell/local.json` belongs to the stack that wrote it: a second `make run` that cannot start (its port is
taken), or any other stack stopping, never deletes the running stack's file; a dead stack's file is cleared."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.local.aws import LocalStackError
from chalicelib.local.options import LocalOptions
from chalicelib.local.stack import LocalStack


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def _stack(home: Path, api_port: int) -> LocalStack:
    return LocalStack(LocalOptions(home=home, api_port=api_port))


def _write(home: Path, **content: object) -> Path:
    path = home / ".dunwell" / "local.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    return path


def _dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    return int(finished.stdout)


def test_a_second_stack_that_cannot_start_leaves_the_running_ones_file(tmp_path: Path, taken_port: int) -> None:
    running = {"api_url": "http://127.0.0.1:8000", "pid": os.getppid(), "instance_id": "the-running-one"}
    path = _write(tmp_path, **running)
    second = _stack(tmp_path, taken_port)
    with pytest.raises(LocalStackError, match="is taken"):
        second.start()
    second.stop()  # what `make run` does after a failed start
    assert json.loads(path.read_text()) == running


def test_a_dead_stacks_file_is_cleared_at_start(tmp_path: Path, taken_port: int) -> None:
    path = _write(tmp_path, pid=_dead_pid(), instance_id="crashed")
    with pytest.raises(LocalStackError):
        _stack(tmp_path, taken_port).start()
    assert not path.exists()


def test_stop_removes_the_file_only_while_it_names_this_stack(tmp_path: Path) -> None:
    stack = _stack(tmp_path, 0)
    path = _write(tmp_path, pid=os.getpid(), instance_id=stack.instance_id)
    stack.stop()
    assert not path.exists()

    replaced = _write(tmp_path, pid=os.getppid(), instance_id="a-later-stack")
    stack.stop()
    assert replaced.exists()
