"""Bench plumbing: a moto server in its own process (so the bench process's memory is the app's own),
and a counter of DynamoDB requests by operation."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def moto_server(module: str = "moto.server") -> Iterator[str]:
    """`module`: moto.server, or a wrapper that patches moto first (bench/moto_server.py)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield endpoint
    finally:
        process.kill()
        process.wait(timeout=10)


def configure_env(endpoint: str, prefix: str) -> None:
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": endpoint, "DUNWELL_RESOURCE_PREFIX": prefix, "DUNWELL_STAGE": "bench",
        "POWERTOOLS_LOG_LEVEL": "WARNING", "LOG_LEVEL": "WARNING",
        # A stage without a way to pay sends no reminder: the bench's seller has the documentation example account.
        "SELLER_NAME": "Bench Seller GmbH (fictional)", "SELLER_IBAN": "DE89370400440532013000",
    })


def provision() -> None:
    from chalicelib import bootstrap, config
    from chalicelib.adapters.models import ALL_MODELS

    bootstrap.reset()
    settings = config.settings()
    bootstrap.bind_tables(settings)
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    s3 = boto3.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region)
    s3.create_bucket(Bucket=settings.inbox_bucket, CreateBucketConfiguration={"LocationConstraint": settings.region})


class DynamoCounter:
    """Counts every DynamoDB call PynamoDB makes, by operation, and the items BatchGet/Query return."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items_read: Counter[str] = Counter()
        self.items_written: Counter[str] = Counter()

    @contextmanager
    def counting(self) -> Iterator[DynamoCounter]:
        from pynamodb.connection.base import Connection

        original = Connection._make_api_call
        counter = self

        def counted(conn: Any, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
            counter.requests[operation_name] += 1
            if operation_name == "TransactWriteItems":
                counter.items_written[operation_name] += len(operation_kwargs.get("TransactItems", []))
            elif operation_name == "BatchWriteItem":
                requests = operation_kwargs.get("RequestItems", {}).values()
                counter.items_written[operation_name] += sum(len(v) for v in requests)
            result = original(conn, operation_name, operation_kwargs)
            if operation_name == "BatchGetItem":
                counter.items_read[operation_name] += sum(len(v) for v in result.get("Responses", {}).values())
            elif operation_name in ("Query", "Scan"):
                counter.items_read[operation_name] += len(result.get("Items", []))
            elif operation_name == "GetItem":
                counter.items_read[operation_name] += 1 if result.get("Item") else 0
            return result

        Connection._make_api_call = counted  # type: ignore[method-assign]
        try:
            yield self
        finally:
            Connection._make_api_call = original  # type: ignore[method-assign]

    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        self.requests.clear()
        self.items_read.clear()
        self.items_written.clear()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
