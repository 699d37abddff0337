"""Cold start: what importing app.py costs (every Lambda pays it) against a bare `import boto3`."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PROBE = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"


def _median_ms(module: str, runs: int = 7) -> float:
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-1"}
    times = [float(subprocess.run([sys.executable, "-c", _PROBE.format(module=module)], cwd=ROOT, env=env,
                                  capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
             for _ in range(runs)]
    return statistics.median(times)


def run() -> None:
    boto3_ms, app_ms = _median_ms("boto3"), _median_ms("app")
    print(f"cold import (median of 7): import boto3 {boto3_ms:.0f} ms, import app {app_ms:.0f} ms "
          f"= {app_ms / boto3_ms:.2f}x (budget 1.5x; AWS SDK, PynamoDB, parsers and templates load on first use)")
