"""A bank statement against a ledger on `make run`'s stack (issue 10, item 9): the stack is started as the e2e
tests start it (`python -m chalicelib.local` in a subprocess, free ports, its own DUNWELL_HOME), a ledger CSV
is dropped under incoming/, then a statement CSV under bank/ whose every line pays one invoice by its number
in the remittance text. Measured: from the statement's drop until its import is processed (polling the API),
the payments applied (the import's counts, and the paid invoices the API lists), and the stack process's peak
resident memory (VmHWM).

`--statement-unpatched` runs the same stack on moto's own DynamoDB transactions (bench/unpatched_stack.py),
for the before numbers: give it a small --statement-lines, it costs O(table) per transaction."""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.stack import RunningStack, start_stack

HEADER = ("invoice_number,kind,customer_id,customer_name,email,phone,language,timezone,country,issue_date,"
          "due_date,terms,currency,total,amount_paid,applies_to,status,buyer_reference")
CUSTOMERS = 250
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Ledger:
    csv: bytes
    statement: bytes
    lines: int


def make_files(invoices: int, lines: int, seed: int = 11) -> Ledger:
    """`invoices` open EUR invoices over CUSTOMERS customers; the statement pays the first `lines` of them, each
    in full, naming the invoice in the remittance text as a payer would."""
    rng = random.Random(seed)
    tag = uuid.uuid4().hex[:4].upper()
    rows, payments = [HEADER], ["date,amount,currency,payer_name,reference,bank_ref"]
    issued = date(2026, 10, 1)
    for n in range(invoices):
        customer = n % CUSTOMERS
        number = f"BS{tag}-{n:05d}"
        total = f"{rng.randrange(5_000, 900_000) / 100:.2f}"
        due = issued + timedelta(days=30 + n % 60)
        rows.append(f"{number},invoice,BC-{customer:04d},Bench Customer {customer} GmbH,ap{customer}@bench.example,,"
                    f"de,Europe/Berlin,DE,{issued.isoformat()},{due.isoformat()},Net 30,EUR,{total},0,,open,")
        if n < lines:
            payments.append(f"2026-11-{1 + n % 28:02d},{total},EUR,Bench Customer {customer} GmbH,"
                            f"Rechnung {number},BSREF{tag}{n:06d}")
    return Ledger(("\n".join(rows) + "\n").encode(), ("\n".join(payments) + "\n").encode(), min(lines, invoices))


def _import_of(stack: RunningStack, source_key: str) -> dict[str, Any] | None:
    response = requests.get(f"{stack.api_url}/imports", headers=stack.auth, params={"limit": "50"}, timeout=60)
    response.raise_for_status()
    for record in response.json()["items"]:
        if record["source_key"] == source_key and record["status"] != "in_progress":
            return dict(record)
    return None


def _wait_for_import(stack: RunningStack, source_key: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise RuntimeError(f"the local stack exited\n{stack.output()}")
        record = _import_of(stack, source_key)
        if record is not None:
            return record
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{source_key} was not processed within {timeout:.0f} s")


def _paid_invoices(stack: RunningStack) -> int:
    paid, cursor = 0, None
    while True:
        params = {"status": "paid", "limit": "200", **({"cursor": cursor} if cursor else {})}
        response = requests.get(f"{stack.api_url}/invoices", headers=stack.auth, params=params, timeout=120)
        response.raise_for_status()
        body = response.json()
        paid += len(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            return paid


def _memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(value.split()[0])
    return fields


def _start(home: Path, unpatched: bool) -> RunningStack:
    module = "bench.unpatched_stack" if unpatched else "chalicelib.local"
    try:
        return start_stack(home, module=module)
    except pytest.fail.Exception as failure:  # start_stack reports for pytest; the bench reports on its own
        raise RuntimeError(str(failure)) from None


def run(invoices: int = 2_500, lines: int = 2_000, unpatched: bool = False, timeout: float = 3_600) -> None:
    files = make_files(invoices, lines)
    with tempfile.TemporaryDirectory(prefix="dunwell-bench-statement-") as home:
        started = time.monotonic()
        stack = _start(Path(home), unpatched)
        try:
            print(f"  local stack up in {time.monotonic() - started:.1f} s (pid {stack.process.pid}"
                  f"{', moto unpatched' if unpatched else ''})")
            s3, bucket = stack.s3(), stack.info["inbox_bucket"]
            ledger_key = f"incoming/bench-ledger-{uuid.uuid4().hex[:8]}.csv"
            started = time.monotonic()
            s3.put_object(Bucket=bucket, Key=ledger_key, Body=files.csv)
            ledger = _wait_for_import(stack, ledger_key, timeout)
            print(f"  ledger: {ledger['counts'].get('invoices_created', 0):,} invoices imported in "
                  f"{time.monotonic() - started:.1f} s ({ledger['status']}); stack RSS "
                  f"{_memory_kb(stack.process.pid)['VmRSS'] / 1024:.0f} MB")

            statement_key = f"bank/bench-statement-{uuid.uuid4().hex[:8]}.csv"
            started = time.monotonic()
            s3.put_object(Bucket=bucket, Key=statement_key, Body=files.statement)
            statement = _wait_for_import(stack, statement_key, timeout)
            elapsed = time.monotonic() - started
            memory = _memory_kb(stack.process.pid)
            counts = {name: count for name, count in statement["counts"].items() if count}
            applied = int(counts.get("payments_applied", 0))
            paid = _paid_invoices(stack)
            print(f"  statement: {files.lines:,} lines against {invoices:,} invoices, {statement['status']} in "
                  f"{elapsed:.1f} s (budget 300 s): {elapsed / max(files.lines, 1) * 1000:.0f} ms a line")
            print(f"    payments applied {applied:,} of {files.lines:,}; invoices the API lists as paid {paid:,}; "
                  f"counts {counts}")
            print(f"    stack process peak RSS (VmHWM) {memory['VmHWM'] / 1024:.0f} MB (budget < 1,024 MB), "
                  f"now {memory['VmRSS'] / 1024:.0f} MB")
            if applied != files.lines or paid != files.lines:
                raise RuntimeError(f"{files.lines} lines should pay {files.lines} invoices: applied {applied}, "
                                   f"paid {paid}")
        finally:
            code = stack.stop()
            if code != 0:
                print(f"  the local stack exited with {code}\n{stack.output()[-3000:]}")
