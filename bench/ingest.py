"""Ingest a generated 100,000-row CSV through the real service against a moto server, then drop it
again. Prints rows/s, DynamoDB requests per 1,000 rows by operation, and peak memory."""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import date, timedelta

import boto3

from bench.harness import DynamoCounter, configure_env, moto_server, peak_rss_mb, provision

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


def run(rows: int = 100_000, customers: int = 1_000) -> dict[str, float]:
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        configure_env(endpoint, "dunwell-bench")
        provision()
        from chalicelib import bootstrap, config

        path = os.path.join(tmp, "invoices.csv")
        write_csv(path, rows, customers)
        size_mb = os.path.getsize(path) / 1e6
        bucket = config.settings().inbox_bucket
        s3 = boto3.client("s3")
        s3.upload_file(path, bucket, "incoming/bench/invoices.csv")
        service = bootstrap.ingest_service()
        counter = DynamoCounter()
        rss_before = peak_rss_mb()
        with counter.counting():
            started, cpu_started = time.perf_counter(), time.process_time()
            outcome = service.ingest(bucket, "incoming/bench/invoices.csv")
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        assert outcome.status == "processed", outcome.summary()
        rss_peak = peak_rss_mb()
        print(f"ingest: {rows:,} rows ({size_mb:.1f} MB CSV, {customers:,} customers) in {elapsed:.1f} s "
              f"= {rows / elapsed:,.0f} rows/s wall clock")
        print(f"  Dunwell's own CPU time: {cpu:.1f} s = {rows / cpu:,.0f} rows/s (the rest is the moto server, "
              "a Python emulator on the same 2 cores, far slower than DynamoDB)")
        print(f"  outcome counts: {outcome.counts}")
        print(f"  DynamoDB requests: {counter.total():,} = {counter.total() * 1000 / rows:.1f} per 1,000 rows")
        for op, n in sorted(counter.requests.items()):
            print(f"    {op:<20} {n:>7,}  ({n * 1000 / rows:.1f} per 1,000 rows)")
        print(f"  items written: {dict(counter.items_written)}; items read: {dict(counter.items_read)} "
              "(all rows are new, so the existence checks find nothing)")
        print(f"  peak RSS: {rss_peak:.0f} MB (before the ingest: {rss_before:.0f} MB; moto runs in another process)")

        s3.upload_file(path, bucket, "incoming/bench/invoices-again.csv")
        counter.reset()
        with counter.counting():
            started = time.perf_counter()
            again = service.ingest(bucket, "incoming/bench/invoices-again.csv")
            redrop = time.perf_counter() - started
        writes = sum(n for op, n in counter.requests.items() if "Write" in op or op in ("PutItem", "UpdateItem"))
        print(f"re-drop of the identical file: status={again.status}, DynamoDB requests={counter.total()} "
              f"{dict(counter.requests)}, writes={writes}, {redrop:.2f} s (hashing {size_mb:.1f} MB from S3)")
        return {"rows_per_s": rows / elapsed, "requests_per_1000": counter.total() * 1000 / rows,
                "peak_rss_mb": rss_peak}
