"""One TransactWriteItems in moto, as moto 5.2.5 ships it and with chalicelib/local/moto_dynamodb.py installed:
a 3-item transaction (a version-conditioned Update of an invoice, a Put of a new event, a Put of a new
payment) against an invoices table of N items and a stream-enabled events table (as infra/resources.yaml), in
process (mock_aws, boto3). Each variant runs in a fresh interpreter so its resident memory is its own: time per
transaction, and resident memory gained per transaction (moto's table copies are reference cycles left for the
garbage collector)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from bench.harness import ROOT

TRANSACTIONS = 100

_PROBE = """
import json, os, sys, time
os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="eu-west-1")
os.environ.pop("AWS_ENDPOINT_URL", None)
import boto3
from moto import mock_aws
patched, size, count = sys.argv[1] == "patched", int(sys.argv[2]), int(sys.argv[3])
if patched:
    from chalicelib.local import moto_dynamodb
    moto_dynamodb.install()

def rss_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])

with mock_aws():
    client = boto3.client("dynamodb")
    # As infra/resources.yaml: the events table has a stream (NEW_IMAGE), the invoices table none.
    for table, stream in (("invoices", {"StreamEnabled": False}),
                          ("events", {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})):
        client.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST", StreamSpecification=stream)
    for start in range(0, size, 25):
        client.batch_write_item(RequestItems={"invoices": [{"PutRequest": {"Item": {
            "pk": {"S": f"INV-{n:06d}"}, "version": {"N": "0"}, "customer": {"S": f"C{n % 50}"},
            "total_minor": {"N": str(1000 + n)}, "notes": {"S": "x" * 300}}}}
            for n in range(start, min(size, start + 25))]})
    before, started = rss_kb(), time.perf_counter()
    for n in range(count):
        client.transact_write_items(TransactItems=[
            {"Update": {"TableName": "invoices", "Key": {"pk": {"S": f"INV-{n:06d}"}},
                        "UpdateExpression": "SET version = version + :one", "ConditionExpression": "version = :zero",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}}}},
            {"Put": {"TableName": "events", "Item": {"pk": {"S": f"EV-{n}"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": "invoices", "Item": {"pk": {"S": f"PAY-{n}"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}}])
    elapsed = time.perf_counter() - started
    copied = moto_dynamodb.stats.items_copied if patched else None
    print(json.dumps({"ms": elapsed / count * 1000, "rss_kb_per_txn": (rss_kb() - before) / count,
                      "items_copied": copied}))
"""


def _measure(variant: str, size: int, count: int) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-c", _PROBE, variant, str(size), str(count)], cwd=ROOT,
                            capture_output=True, text=True, timeout=3600, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def run(sizes: tuple[int, ...] = (1_000, 2_500), count: int = TRANSACTIONS) -> None:
    for size in sizes:
        for variant in ("moto", "patched"):
            started = time.monotonic()
            measured = _measure(variant, size, count)
            copied = "" if measured["items_copied"] is None else \
                f", {measured['items_copied'] / count:.0f} item(s) copied per transaction"
            print(f"  {size:>6,} items, {variant:<7}: {measured['ms']:7.1f} ms per 3-item transaction, "
                  f"RSS +{measured['rss_kb_per_txn'] / 1024:.2f} MB per transaction{copied} "
                  f"({count} transactions, {time.monotonic() - started:.0f} s in all)")
