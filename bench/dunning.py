"""The dunning sweep on two ledgers that differ only in invoices that are NOT due: the same 1,000 customers
with one invoice due each, plus 99,000 (big) or 9,000 (small) open invoices whose next action is weeks
away. The sweep reads the sparse `due_for_action` index, never the ledger, so both runs must cost the same.

Each ledger gets a fresh moto server in its own process (as ingest.py; bench/moto_server.py, which backs up
only the items a transaction touches instead of deep-copying whole tables) and is seeded directly
(BatchWriteItem of `invoice_to_model` / `customer_to_model`, not measured), then
`bootstrap.dunning_service().run(as_of=...)` runs once, measured: DynamoDB requests and items by operation,
SES calls, wall time. Sizes: `python -m bench --only dunning --dunning-big N --dunning-small M`.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3

from bench.harness import DynamoCounter, configure_env, moto_server, provision

AS_OF = date(2026, 12, 8)  # a Tuesday, no public holiday in DE: overdue_7 of invoices due on 2026-12-01
SES_MAX_SEND_RATE = 14  # SES production default, messages per second
WORKERS = (1, 4, 8, 16)
READ_OPS = ("Query", "Scan", "BatchGetItem", "GetItem")


@dataclass
class Measured:
    label: str
    invoices: int
    due: int
    customers: int
    seed_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0  # this process only (Dunwell, PynamoDB, botocore); moto runs in another
    load: float = 0.0  # 1-minute load average when the sweep started: the cores are shared
    dynamo: DynamoCounter = field(default_factory=DynamoCounter)
    calls: Counter[str] = field(default_factory=Counter)  # every AWS call, "<service>.<operation>"
    call_s: Counter[str] = field(default_factory=Counter)  # time spent waiting on each (HTTP + moto)
    scanned: Counter[str] = field(default_factory=Counter)  # ScannedCount of Query / Scan responses
    batch_gets: Counter[str] = field(default_factory=Counter)  # BatchGetItem requests naming each table
    batch_got: Counter[str] = field(default_factory=Counter)  # items BatchGetItem returned, by table
    transact_actions: Counter[str] = field(default_factory=Counter)  # Put / Update / ConditionCheck / Delete
    prefix: str = ""
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def items_read(self) -> int:
        return sum(self.dynamo.items_read[op] for op in READ_OPS)

    @property
    def customers_read(self) -> int:
        return self.summary.get("customers_considered", 0)

    @property
    def aws_s(self) -> float:
        return sum(self.call_s.values())


@contextmanager
def aws_calls(measured: Measured) -> Iterator[None]:
    """Every botocore call of this process (PynamoDB's, SES's, SNS's...) by service and operation, with the
    time spent waiting on it: catches calls DynamoCounter (PynamoDB only) cannot see."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def counted(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        key = f"{client.meta.service_model.service_name}.{operation_name}"
        started = time.perf_counter()
        try:
            result = original(client, operation_name, api_params)
        finally:
            measured.calls[key] += 1
            measured.call_s[key] += time.perf_counter() - started
        if operation_name in ("Query", "Scan"):
            measured.scanned[operation_name] += int(result.get("ScannedCount", 0))
        elif operation_name == "TransactWriteItems":
            for action in api_params.get("TransactItems", []):
                measured.transact_actions.update(action.keys())
        elif operation_name == "BatchGetItem":
            for table in api_params.get("RequestItems", {}):
                measured.batch_gets[table.removeprefix(measured.prefix)] += 1
            for table, items in result.get("Responses", {}).items():
                measured.batch_got[table.removeprefix(measured.prefix)] += len(items)
        return result

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def _at(day: date, hour: int = 8) -> datetime:
    """08:00 UTC = 09:00 in Berlin in winter: the start of the default send window."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _seed(invoices: int, customers: int, due: int, as_of: date) -> None:
    from chalicelib.adapters.dynamo import customer_to_model, invoice_to_model
    from chalicelib.adapters.models import CustomerModel, InvoiceModel
    from chalicelib.domain.customer import Contact, Customer
    from chalicelib.domain.invoice import Invoice
    from chalicelib.domain.money import Money

    now = datetime.now(UTC)
    zero = Money.zero("EUR")
    with CustomerModel.batch_write() as batch:
        for c in range(customers):
            batch.save(customer_to_model(Customer(
                f"C{c:05d}", f"Customer {c:05d} GmbH", contacts=(Contact(email=f"ap{c}@customer{c}.example"),),
                timezone="Europe/Berlin", country="DE", language="en"), now))
    with InvoiceModel.batch_write() as batch:
        for n in range(invoices):
            if n < due:  # due on as_of - 7, reminded before and on the due date: overdue_7 is due today
                due_date, sent = as_of - timedelta(days=7), frozenset({"upcoming:email", "due_today:email"})
                next_at = _at(as_of)
            else:  # due in 2 to 10 weeks: the first reminder (7 days before) is weeks away
                due_date, sent = as_of + timedelta(days=14 + n % 56), frozenset()
                next_at = _at(due_date - timedelta(days=7))
            invoice = Invoice(
                invoice_id=f"I{n:07d}", number=f"INV-{n:07d}", customer_id=f"C{n % customers:05d}",
                issue_date=due_date - timedelta(days=30), due_date=due_date,
                total=Money.from_minor(10_000 + n % 490_000, "EUR"), paid_in_source=zero, applied_payments=zero,
                credited=zero, written_off=zero, fingerprint=f"bench|{n}", reminders_sent=sent,
                next_action_at=next_at)
            model = invoice_to_model(invoice, now, "imp_bench")
            model.version = 1  # as DynamoLedger.insert_invoices: batch writes skip VersionAttribute
            batch.save(model)


def _measure(label: str, invoices: int, customers: int, due: int, as_of: date) -> Measured:
    measured = Measured(label, invoices, due, customers, prefix=f"dunwell-bench-dun-{label}-")
    with moto_server("bench.moto_server") as endpoint:
        configure_env(endpoint, measured.prefix.rstrip("-"))
        os.environ["DUNWELL_ALLOW_SIMULATED_CLOCK"] = "true"
        provision()  # bootstrap.reset() first, then the tables (and the inbox bucket)
        from chalicelib import bootstrap, config

        settings = config.settings()
        assert settings.allow_simulated_clock
        boto3.client("ses", endpoint_url=settings.endpoint_url, region_name=settings.region) \
            .verify_domain_identity(Domain="example.com")
        started = time.perf_counter()
        _seed(invoices, customers, due, as_of)
        measured.seed_s = time.perf_counter() - started
        service = bootstrap.dunning_service()
        emf = io.StringIO()  # Powertools metrics are EMF lines on stdout: keep them out of the table
        with aws_calls(measured), measured.dynamo.counting(), contextlib.redirect_stdout(emf):
            measured.load = os.getloadavg()[0]
            started, cpu_started = time.perf_counter(), time.process_time()
            summary = service.run(as_of=as_of)
            measured.wall_s = time.perf_counter() - started
            measured.cpu_s = time.process_time() - cpu_started
        measured.summary = summary.to_dict()
        bootstrap.reset()
    return measured


def _within(a: float, b: float, tolerance: float = 0.2) -> bool:
    return max(a, b) <= min(a, b) * (1 + tolerance)


def _row(name: str, values: list[str]) -> str:
    return f"  {name:<38}" + "".join(f"{v:>18}" for v in values)


def _report(runs: list[Measured]) -> None:
    print(_row("", [f"{m.label} ledger" for m in runs]))
    print(_row("invoices in the ledger", [f"{m.invoices:,}" for m in runs]))
    print(_row("invoices due / customers", [f"{m.due:,} / {m.customers:,}" for m in runs]))
    print(_row("seeding (BatchWriteItem, not measured)", [f"{m.seed_s:.0f} s" for m in runs]))
    print(_row("sweep wall time", [f"{m.wall_s:.1f} s" for m in runs]))
    print(_row("  waiting on moto (all AWS calls)", [f"{m.aws_s:.1f} s" for m in runs]))
    print(_row("  Dunwell's own (wall - AWS calls)", [f"{m.wall_s - m.aws_s:.1f} s" for m in runs]))
    print(_row("sweep CPU time of this process", [f"{m.cpu_s:.1f} s" for m in runs]))
    print(_row("load average at the start (cores: " + str(os.cpu_count()) + ")", [f"{m.load:.1f}" for m in runs]))
    ops = sorted({op for m in runs for op in m.dynamo.requests} | {"Scan"})
    print("  DynamoDB requests (items read / items written, as harness.DynamoCounter counts them)")
    for op in ops:
        def cell(m: Measured, op: str = op) -> str:
            extra = m.dynamo.items_read.get(op) if op in READ_OPS else m.dynamo.items_written.get(op)
            return f"{m.dynamo.requests[op]:,}" + (f" ({extra:,})" if extra else "")
        print(_row(f"    {op}", [cell(m) for m in runs]))
        if op == "BatchGetItem":
            for table in sorted({t for m in runs for t in m.batch_gets}):
                print(_row(f"      naming {table}",
                           [f"{m.batch_gets[table]:,} ({m.batch_got[table]:,})" for m in runs]))
        elif op == "TransactWriteItems":
            for action in sorted({a for m in runs for a in m.transact_actions}):
                print(_row(f"      {action} actions", [f"{m.transact_actions[action]:,}" for m in runs]))
    print(_row("    total requests", [f"{m.dynamo.total():,}" for m in runs]))
    print(_row("    Query ScannedCount (as reported)", [f"{m.scanned['Query']:,}" for m in runs]))
    print(_row("    Query time (moto scans the table)", [f"{m.call_s['dynamodb.Query']:.2f} s" for m in runs]))
    print(_row("  items read (Query+BatchGet+Get+Scan)", [f"{m.items_read:,}" for m in runs]))
    print(_row("  SES SendEmail calls", [f"{m.calls['sesv2.SendEmail'] + m.calls['ses.SendRawEmail']:,}"
                                         for m in runs]))
    others = sorted({k for m in runs for k in m.calls if not k.startswith("dynamodb.")} - {"sesv2.SendEmail"})
    for key in others:
        print(_row(f"  {key}", [f"{m.calls[key]:,}" for m in runs]))
    print(_row("  run summary: sent email / sms", [f"{m.summary['sent']['email']:,} / {m.summary['sent']['sms']:,}"
                                                   for m in runs]))
    print(_row("  run summary: invoices / customers", [
        f"{m.summary['invoices_considered']:,} / {m.summary['customers_considered']:,}" for m in runs]))
    for m in runs:
        print(f"  {m.label}: reminders {m.summary['reminders']}, skipped {m.summary['skipped']}, "
              f"failed {len(m.summary['failed'])}, more_due {m.summary['more_due']}")
    for m in runs:
        dynamo_calls = sum(n for k, n in m.calls.items() if k.startswith("dynamodb."))
        if dynamo_calls != m.dynamo.total():
            print(f"  note ({m.label}): {dynamo_calls - m.dynamo.total()} DynamoDB call(s) outside PynamoDB")

    print("verdict:")
    ok = True
    for m in runs:
        budget = 1.1 * m.due + m.customers_read
        passed = m.items_read <= budget
        ok &= passed
        detail = ", ".join(f"{op} {m.dynamo.items_read[op]:,}" for op in READ_OPS if m.dynamo.items_read[op])
        print(f"  [{'PASS' if passed else 'FAIL'}] {m.label}: items read {m.items_read:,} <= 1.1 x {m.due:,} due + "
              f"{m.customers_read:,} customers = {budget:,.0f}  ({detail})")
    scans = sum(m.dynamo.requests["Scan"] for m in runs)
    ok &= scans == 0
    print(f"  [{'PASS' if scans == 0 else 'FAIL'}] Scan calls: {scans}")
    if len(runs) == 2:
        big, small = runs
        within = _within(big.wall_s, small.wall_s)
        ok &= within
        print(f"  [{'PASS' if within else 'FAIL'}] run times within 20%: {big.wall_s:.1f} s vs {small.wall_s:.1f} s "
              f"= {big.wall_s / small.wall_s - 1:+.0%} (wall clock, moto included, on shared cores)")
        print(f"  [{'pass' if _within(big.cpu_s, small.cpu_s) else 'fail'}] (info) CPU time of this process: "
              f"{big.cpu_s:.1f} s vs {small.cpu_s:.1f} s = {big.cpu_s / small.cpu_s - 1:+.0%}")
        big_q, small_q = (m.wall_s - m.call_s["dynamodb.Query"] for m in runs)
        print(f"  [{'pass' if _within(big_q, small_q) else 'fail'}] (info) the same less the Query calls: "
              f"{big_q:.1f} s vs {small_q:.1f} s = {big_q / small_q - 1:+.0%}. moto answers a GSI query by "
              "reading and sorting the whole table in Python; DynamoDB reads only the key range, and the "
              "items the Query returned are the same on both ledgers (above)")
    sent = [m.summary["sent"]["email"] == min(m.due, m.customers) for m in runs]
    ok &= all(sent)
    print(f"  [{'PASS' if all(sent) else 'FAIL'}] one email per customer with a due invoice")
    print(f"  overall: {'PASS' if ok else 'FAIL'}")

    m = runs[0]
    reminders = max(1, m.summary["sent"]["email"])
    per_customer = (m.wall_s - m.aws_s) / reminders
    requests = m.dynamo.total() / reminders
    print(f"projection (arithmetic, not measured): 100,000 due reminders, one email each, SES MaxSendRate "
          f"{SES_MAX_SEND_RATE}/s")
    print(f"  SES alone: 100,000 / {SES_MAX_SEND_RATE}/s = {100_000 / SES_MAX_SEND_RATE:,.0f} s "
          f"= {100_000 / SES_MAX_SEND_RATE / 3600:.1f} h, whatever the number of workers")
    print(f"  per reminder measured here: {per_customer * 1000:.1f} ms outside AWS calls + {requests:.1f} DynamoDB "
          "requests + 1 SES call; assuming ~10 ms per AWS call in-region:")
    for workers in WORKERS:
        worker_rate = workers / (per_customer + (requests + 1) * 0.010)
        rate = min(worker_rate, SES_MAX_SEND_RATE)
        bound = "SES" if worker_rate > SES_MAX_SEND_RATE else "workers"
        print(f"    {workers:>2} worker(s): {worker_rate:6.1f} reminders/s unthrottled -> {rate:5.1f}/s "
              f"({bound}-bound) -> {100_000 / rate / 3600:.1f} h")
    print("  as deployed: the hourly sweep dispatches up to 150,000 due invoices a run to the work queue (one message "
          "per customer); 4 send_reminders workers at SES_MAX_SEND_RATE=3.5/s each pace themselves to 14/s together: "
          f"100,000 reminders -> {100_000 / SES_MAX_SEND_RATE / 3600:.1f} h (SES-bound), from one sweep")
    print("  a throttled send slows its worker down and is tried again for up to 10 s; one still refused releases "
          "its claim and the invoice is looked at again an hour later (simulated: python -m bench --only scale)")


def run(big: int = 100_000, small: int = 10_000, customers: int = 1_000, due: int = 1_000,
        as_of: date = AS_OF) -> list[Measured]:
    runs = []
    for label, size in (("big", big), ("small", small)):
        runs.append(_measure(label, size, customers, due, as_of))
        print(f"  ({label}: seeded {size:,} invoices in {runs[-1].seed_s:.0f} s, sweep {runs[-1].wall_s:.1f} s)",
              flush=True)
    _report(runs)
    return runs


if __name__ == "__main__":
    import sys

    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 10_000]
    run(*sizes)
