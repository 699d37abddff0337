"""`python -m bench.ingest_lambda BUCKET KEY RESULT_JSON`: one ingest Lambda invocation in a fresh process.

bench/ingest.py runs this as a subprocess (its environment points at the bench's moto server), so the
memory measured is what the Lambda holds: app.py and what `bootstrap.ingest_service()` builds, then the
ingest of one file; not the bench's provisioning, CSV writing or boto3 uploads. DynamoDB requests are
counted here (the counter patches PynamoDB in this process) and everything is written to RESULT_JSON.

Memory is the kernel's high-water mark of this process's own address space (VmHWM). ru_maxrss is not
used: Linux carries the parent's peak into a child across fork/exec (exec records the replaced address
space's peak), so a child of a 200 MB bench would report at least 200 MB before doing anything.
"""

from __future__ import annotations

import json
import sys
import time


def vm_mb(field: str) -> float:
    """VmHWM (peak resident set) or VmRSS (now) of this process, in MB (MiB, like ru_maxrss / 1024)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def main(bucket: str, key: str, result_path: str) -> None:
    started_process = vm_mb("VmHWM")
    import app  # noqa: F401  (what the Lambda imports at cold start)
    from chalicelib import bootstrap

    bootstrap.bind_tables()  # what the app's middleware does on each invocation
    service = bootstrap.ingest_service()  # builds the adapters: boto3, PynamoDB, the parsers
    after_imports = vm_mb("VmHWM")

    from bench.harness import DynamoCounter

    counter = DynamoCounter()
    with counter.counting():
        started, cpu_started = time.perf_counter(), time.process_time()
        outcome = service.ingest(bucket, key)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    result = {
        "status": outcome.status, "summary": outcome.summary(), "counts": outcome.counts,
        "elapsed_s": elapsed, "cpu_s": cpu,
        "requests": dict(counter.requests), "items_read": dict(counter.items_read),
        "items_written": dict(counter.items_written),
        "rss_at_start_mb": started_process, "rss_after_imports_mb": after_imports,
        "rss_peak_mb": vm_mb("VmHWM"), "rss_end_mb": vm_mb("VmRSS"),
    }
    with open(result_path, "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
