"""The cost of reports (budget: a one-year metrics report reads <= 800 items on a 100,000-invoice ledger and the same
on a 10x smaller one; aging today reads O(customers)).

A ledger of two years (issued, paid late or early, in part, credited, written off) is built through the real
projection (chalicelib/adapters/analytics.py, on moto in this process with the local stack's transaction patch),
its changes in the order a stream would deliver them, 500 to a batch. Then the reports are read through the
reports service and the items and requests they cost are counted."""

from __future__ import annotations

import os
import random
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

TODAY = date(2026, 1, 14)
START = TODAY - timedelta(days=730)
BATCH = 500


def ledger_changes(invoices: int, customers: int, seed: int = 12, first: int = 0) -> list[Any]:
    from chalicelib.domain.invoice import Invoice
    from chalicelib.domain.money import Money
    from chalicelib.services.ports import InvoiceChange

    rng = random.Random(seed * 1_000_003 + first)
    changes: list[tuple[date, int, InvoiceChange]] = []
    order = 0

    def add(before: Invoice | None, after: Invoice, on: date) -> None:
        nonlocal order
        if on <= TODAY:
            order += 1
            changes.append((on, order, InvoiceChange(str(order), before, after, on)))

    for n in range(first, first + invoices):
        issued = START + timedelta(days=rng.randrange(730))
        due = issued + timedelta(days=rng.choice((14, 30, 30, 45, 60)))
        total = rng.randrange(50_00, 20_000_00)
        zero = Money.zero("EUR")
        state = Invoice(invoice_id=f"B{n:06d}", number=f"B{n:06d}", customer_id=f"C{rng.randrange(customers):04d}",
                        issue_date=issued, due_date=due, total=Money.from_minor(total, "EUR"), paid_in_source=zero,
                        applied_payments=zero, credited=zero, written_off=zero, version=1)
        add(None, state, issued)
        fate = rng.random()
        on = due + timedelta(days=int(rng.gauss(8, 15)))
        on = max(on, issued)
        if fate < 0.05:  # credited in part, then paid
            after = replace(state, credited=Money.from_minor(total // 10, "EUR"), version=2)
            add(state, after, issued + timedelta(days=5))
            state = after
        if fate < 0.10:  # paid in two parts
            half = state.balance.minor // 2
            after = replace(state, applied_payments=Money.from_minor(half, "EUR"), version=state.version + 1)
            add(state, after, on)
            state, on = after, on + timedelta(days=rng.randrange(5, 40))
        if fate < 0.90:
            add(state, replace(state, applied_payments=state.applied_payments + state.balance,
                               version=state.version + 1), on)
        elif fate < 0.93:  # written off after four months
            add(state, replace(state, written_off=state.balance, version=state.version + 1), due + timedelta(days=120))
    changes.sort(key=lambda c: (c[0], c[1]))
    return [c[2] for c in changes]


def run(big: int = 100_000, small: int = 10_000, customers: int = 1_000, slices: int = 5) -> None:
    """The small ledger, then the big one built in `slices` slices of two years each (the later ones as history
    imported after the earlier: past dates, through the same stream handler), the reports measured after each."""
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "eu-west-1", "DUNWELL_RESOURCE_PREFIX": "dunwell-bench-reports",
                       "DUNWELL_STAGE": "bench", "POWERTOOLS_LOG_LEVEL": "WARNING", "LOG_LEVEL": "WARNING"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    from chalicelib.local.moto_dynamodb import install

    install()
    print(f"{'invoices':>9} {'changes':>8} {'build s':>8} | {'metrics: items':>14} {'requests':>8} {'ms':>6} | "
          f"{'aging today: items':>18} {'requests':>8} {'ms':>6} {'customers':>9}", flush=True)
    for size, parts in ((small, 1), (big, slices)):
        if size:
            with mock_aws():
                _one(size, customers, parts)


def _one(size: int, customers: int, parts: int) -> None:
    from chalicelib import bootstrap, config
    from chalicelib.adapters.models import ALL_MODELS

    bootstrap.reset()
    bootstrap.bind_tables(config.settings())
    for model in ALL_MODELS:
        model.create_table(billing_mode="PAY_PER_REQUEST", wait=False)
    bootstrap.use(bootstrap.Container(clock=lambda: datetime.combine(TODAY, datetime.min.time(), UTC)))
    analytics = bootstrap.analytics()
    service = bootstrap.reports()
    built, changed, per_part = 0.0, 0, size // parts
    for part in range(parts):
        changes = ledger_changes(per_part, customers, first=part * per_part)
        started = time.monotonic()
        for first in range(0, len(changes), BATCH):
            analytics.apply(changes[first:first + BATCH])
        built += time.monotonic() - started
        changed += len(changes)
        last = part == parts - 1
        _measure(analytics, service, (part + 1) * per_part, changed, built, aging_too=last)


def _measure(analytics: Any, service: Any, invoices: int, changed: int, built: float, aging_too: bool) -> None:
    analytics.reads.items = analytics.reads.requests = 0
    started = time.monotonic()
    report = service.metrics(TODAY - timedelta(days=364), TODAY, "EUR")
    metrics_ms = (time.monotonic() - started) * 1000
    metrics_items, metrics_requests = analytics.reads.items, analytics.reads.requests
    assert len(report["months"]) == 13
    aging = "(not measured: moto's index Query reads the whole table, minutes at this size)"
    if aging_too:
        analytics.reads.items = analytics.reads.requests = 0
        started = time.monotonic()
        listed, start = 0, None
        while True:
            block = service.aging(None, "EUR", limit=200, start=start)
            listed += len(block["customers"])
            start = block["next_page"]
            if start is None:
                break
        aging_ms = (time.monotonic() - started) * 1000
        aging = (f"{analytics.reads.items:>18,} {analytics.reads.requests:>8,} {aging_ms:>6.0f} {listed:>9,}")
    print(f"{invoices:>9,} {changed:>8,} {built:>8.0f} | {metrics_items:>14,} {metrics_requests:>8,} "
          f"{metrics_ms:>6.0f} | {aging}", flush=True)
    print(f"          DSO {report['dso']}, countback {report['dso_countback']}, BPDSO {report['best_possible_dso']}, "
          f"CEI {report['cei']}, average days late {report['average_days_late']}, on time {report['on_time_rate']}%",
          flush=True)
