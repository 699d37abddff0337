"""Ingest a generated 100,000-row CSV through the real service against a moto server, then drop it
again. Prints rows/s, DynamoDB requests per 1,000 rows by operation, and peak memory.

Each ingest runs as the Lambda would: in a fresh process (bench/ingest_lambda.py) that imports app.py,
builds `bootstrap.ingest_service()` and ingests one file, so its peak memory is the Lambda's, not this
process's (which has provisioned tables, written the CSV and uploaded it by then)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from typing import Any

import boto3

from bench.harness import ROOT, configure_env, moto_server, peak_rss_mb, provision

HEADER = ("invoice_number,kind,customer_id,customer_name,email,phone,language,timezone,country,issue_date,"
          "due_date,terms,currency,total,amount_paid,applies_to,status,buyer_reference\n")


def write_csv(path: str, rows: int, customers: int) -> None:
    rng = random.Random(42)
    start = date(2026, 9, 1)
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        for n in range(rows):
            c = rng.randrange(customers)
            issued = start + timedelta(days=rng.randrange(80))
            due = issued + timedelta(days=rng.choice((14, 30, 45, 60)))
            total = f"{rng.randrange(1000, 5_000_000) / 100:.2f}"
            out.write(f"INV-{n:07d},invoice,C{c:05d},Customer {c:05d} GmbH,ap{c}@customer{c}.example,,de,"
                      f"Europe/Berlin,DE,{issued},{due},,EUR,{total},0,,open,PO-{n}\n")


def invoke_lambda(bucket: str, key: str, tmp: str) -> dict[str, Any]:
    """One ingest invocation in a fresh process, against the moto server this process's environment names."""
    result_path = os.path.join(tmp, "result.json")
    subprocess.run([sys.executable, "-m", "bench.ingest_lambda", bucket, key, result_path], cwd=ROOT, check=True)
    with open(result_path, encoding="utf-8") as result:
        data: dict[str, Any] = json.load(result)
    os.remove(result_path)
    return data


def run(rows: int = 100_000, customers: int = 1_000) -> dict[str, float]:
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        configure_env(endpoint, "dunwell-bench")
        provision()
        from chalicelib import config

        path = os.path.join(tmp, "invoices.csv")
        write_csv(path, rows, customers)
        size_mb = os.path.getsize(path) / 1e6
        bucket = config.settings().inbox_bucket
        s3 = boto3.client("s3")
        s3.upload_file(path, bucket, "incoming/bench/invoices.csv")
        first = invoke_lambda(bucket, "incoming/bench/invoices.csv", tmp)
        assert first["status"] == "processed", first["summary"]
        elapsed, cpu, requests = first["elapsed_s"], first["cpu_s"], first["requests"]
        total = sum(requests.values())
        print(f"ingest: {rows:,} rows ({size_mb:.1f} MB CSV, {customers:,} customers) in {elapsed:.1f} s "
              f"= {rows / elapsed:,.0f} rows/s wall clock")
        print(f"  Dunwell's own CPU time: {cpu:.1f} s = {rows / cpu:,.0f} rows/s (the rest is the moto server, "
              "a Python emulator on the same 2 cores, far slower than DynamoDB)")
        print(f"  outcome counts: {first['counts']}")
        print(f"  DynamoDB requests: {total:,} = {total * 1000 / rows:.1f} per 1,000 rows")
        for op, n in sorted(requests.items()):
            print(f"    {op:<20} {n:>7,}  ({n * 1000 / rows:.1f} per 1,000 rows)")
        print(f"  items written: {first['items_written']}; items read: {first['items_read']} "
              "(all rows are new, so the existence checks find nothing)")
        print(f"  peak RSS of the ingest process: {first['rss_peak_mb']:.0f} MB, of which "
              f"{first['rss_after_imports_mb']:.0f} MB after imports (app.py + ingest_service(), the Lambda's "
              f"baseline); {first['rss_end_mb']:.0f} MB at the end. A fresh process like a Lambda's; the bench "
              f"process itself: {peak_rss_mb():.0f} MB; moto runs in a third process)")

        s3.upload_file(path, bucket, "incoming/bench/invoices-again.csv")
        again = invoke_lambda(bucket, "incoming/bench/invoices-again.csv", tmp)
        requests = again["requests"]
        writes = sum(n for op, n in requests.items() if "Write" in op or op in ("PutItem", "UpdateItem"))
        print(f"re-drop of the identical file: status={again['status']}, DynamoDB requests={sum(requests.values())} "
              f"{requests}, writes={writes}, {again['elapsed_s']:.2f} s (hashing {size_mb:.1f} MB from S3), "
              f"peak RSS {again['rss_peak_mb']:.0f} MB")
        return {"rows_per_s": rows / elapsed, "requests_per_1000": total * 1000 / rows,
                "peak_rss_mb": first["rss_peak_mb"], "rss_after_imports_mb": first["rss_after_imports_mb"]}
