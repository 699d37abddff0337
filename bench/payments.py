"""Webhook cost and latency, in process (moto in memory, chalice.test.Client), and matching time for a
customer with 5,000 open invoices."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import statistics
import time
from datetime import date, timedelta
from typing import Any

from bench.harness import DynamoCounter

SECRET = "whsec_bench_secret"


def _signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={timestamp},v1={signature}", "Content-Type": "application/json"}


def _payment_intent(n: int, amount_minor: int, invoice_number: str | None, customer: str | None) -> bytes:
    metadata = {}
    if invoice_number:
        metadata["invoice_number"] = invoice_number
    if customer:
        metadata["dunwell_customer_id"] = customer
    return json.dumps({
        "id": f"evt_bench_{n}", "object": "event", "type": "payment_intent.succeeded", "created": int(time.time()),
        "data": {"object": {"id": f"pi_bench_{n}", "object": "payment_intent", "amount": amount_minor,
                            "amount_received": amount_minor, "currency": "eur", "metadata": metadata,
                            "status": "succeeded"}},
    }).encode()


def _checkout_pairs(client: Any, counter: DynamoCounter, ledger: Any, checkouts: int) -> tuple[float, float, int]:
    """The portal's card payments: per invoice a paid Checkout Session event, then its PaymentIntent's event (the same
    money under the same payment_ref: a duplicate). Mean DynamoDB requests of each, and the invoices paid."""
    from datetime import UTC, datetime

    from chalicelib.domain.invoice import Document, DocumentKind, Invoice
    from chalicelib.domain.money import Money

    invoices = [Invoice.from_document(Document(
        DocumentKind.INVOICE, f"INV-CS{n:05d}", f"C{n % 50:03d}", date(2026, 10, 1), date(2026, 11, 1),
        Money.from_minor(10_000 + n, "EUR"), Money.zero("EUR"))) for n in range(checkouts)]
    ledger.insert_invoices(invoices, "imp_bench_checkout", datetime.now(UTC))
    session_costs: list[int] = []
    intent_costs: list[int] = []
    for n, invoice in enumerate(invoices):
        metadata = {"invoice_numbers": invoice.number, "dunwell_customer_id": invoice.customer_id}
        session = json.dumps({
            "id": f"evt_cs_{n}", "object": "event", "type": "checkout.session.completed", "created": int(time.time()),
            "data": {"object": {"id": f"cs_bench_{n}", "object": "checkout.session", "mode": "payment",
                                "payment_status": "paid", "amount_total": invoice.total.minor, "currency": "eur",
                                "payment_intent": f"pi_cs_{n}", "client_reference_id": invoice.number,
                                "metadata": metadata}}}).encode()
        intent = json.dumps({
            "id": f"evt_pi_cs_{n}", "object": "event", "type": "payment_intent.succeeded", "created": int(time.time()),
            "data": {"object": {"id": f"pi_cs_{n}", "object": "payment_intent", "amount": invoice.total.minor,
                                "amount_received": invoice.total.minor, "currency": "eur", "metadata": metadata,
                                "status": "succeeded"}}}).encode()
        for body, costs in ((session, session_costs), (intent, intent_costs)):
            before = counter.total()
            response = client.http.post("/webhooks/stripe", headers=_signed(body), body=body)
            assert response.status_code == 200, response.body
            costs.append(counter.total() - before)
    settled = sum(1 for i in ledger.get_invoices([i.invoice_id for i in invoices]).values() if i.balance.is_zero)
    return statistics.mean(session_costs), statistics.mean(intent_costs), settled


def run(events: int = 1000) -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "eu-west-1", "DUNWELL_RESOURCE_PREFIX": "dunwell-bench-pay",
                       "STRIPE_WEBHOOK_SECRET": SECRET, "POWERTOOLS_LOG_LEVEL": "WARNING"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    from chalicelib.local.moto_dynamodb import install

    install()  # as the tests and `make run`: moto's own transactions copy every table they name
    with mock_aws():
        import boto3
        from chalice.test import Client

        from app import app
        from chalicelib import bootstrap, config
        from chalicelib.adapters.models import ALL_MODELS
        from chalicelib.domain.invoice import Document, DocumentKind, Invoice
        from chalicelib.domain.money import Money

        bootstrap.reset()
        settings = config.settings()
        bootstrap.bind_tables(settings)
        for model in ALL_MODELS:
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=False)
        boto3.client("s3").create_bucket(Bucket=settings.inbox_bucket,
                                         CreateBucketConfiguration={"LocationConstraint": settings.region})
        ledger = bootstrap.ledger()
        rng = random.Random(7)
        invoices = []
        for n in range(events):
            total = rng.randrange(1_000, 500_000)
            doc = Document(DocumentKind.INVOICE, f"INV-B{n:05d}", f"C{n % 50:03d}", date(2026, 10, 1),
                           date(2026, 11, 1), Money.from_minor(total, "EUR"), Money.zero("EUR"))
            invoices.append(Invoice.from_document(doc))
        from datetime import UTC, datetime
        ledger.insert_invoices(invoices, "imp_bench", datetime.now(UTC))

        # Time moto's transaction emulation, so the numbers separate Dunwell's cost from the emulator's.
        from moto.dynamodb.models import DynamoDBBackend

        emulator_ms: list[float] = []
        original_transact = DynamoDBBackend.transact_write_items

        def timed_transact(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return original_transact(self, *args, **kwargs)
            finally:
                emulator_ms.append((time.perf_counter() - started) * 1000)

        DynamoDBBackend.transact_write_items = timed_transact
        counter = DynamoCounter()
        latencies, per_event, latencies_in_order = [], [], []
        with Client(app) as client, counter.counting():
            for n, invoice in enumerate(invoices):
                body = _payment_intent(n, invoice.total.minor, invoice.number, None)
                before = counter.total()
                started = time.perf_counter()
                response = client.http.post("/webhooks/stripe", headers=_signed(body), body=body)
                latencies.append((time.perf_counter() - started) * 1000)
                latencies_in_order.append(latencies[-1])
                per_event.append(counter.total() - before)
                assert response.status_code == 200, response.body
            replay_before = counter.total()
            body = _payment_intent(0, invoices[0].total.minor, invoices[0].number, None)
            client.http.post("/webhooks/stripe", headers=_signed(body), body=body)
            replay = counter.total() - replay_before
            checkout_costs = _checkout_pairs(client, counter, ledger, checkouts=min(200, events))
        paid = sum(1 for m in ledger.get_invoices([i.invoice_id for i in invoices]).values() if m.balance.is_zero)
        latencies.sort()
        print(f"webhooks: {events:,} signed Stripe payment_intent.succeeded events, each naming one invoice")
        print(f"  invoices paid: {paid:,} of {events:,}")
        print(f"  DynamoDB requests per event: mean {statistics.mean(per_event):.2f}, max {max(per_event)} "
              f"(budget 5); by operation over all events: {dict(counter.requests)}")
        print(f"  a replayed event: {replay} DynamoDB request(s)")
        session_cost, intent_cost, settled = checkout_costs
        print(f"  portal checkouts: {settled:,} invoices paid by checkout.session.completed then the same money's "
              f"payment_intent.succeeded: {session_cost:.2f} DynamoDB requests per session event, "
              f"{intent_cost:.2f} per duplicate intent event (budget 5)")
        DynamoDBBackend.transact_write_items = original_transact
        own = sorted(total - moto for total, moto in zip(latencies_in_order, emulator_ms, strict=False))
        print(f"  handler latency in process (moto in memory): p50 {latencies[len(latencies) // 2]:.1f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99)]:.1f} ms")
        emulator_p50 = sorted(emulator_ms)[len(emulator_ms) // 2]
        print(f"    of which moto's TransactWriteItems emulation: p50 {emulator_p50:.1f} ms;"
              f" the rest (Dunwell + the other moto calls): p50 {own[len(own) // 2]:.1f} ms, "
              f"p99 {own[int(len(own) * 0.99)]:.1f} ms")

    from chalicelib.domain.cash_application import OpenItem, match_payment

    items = [OpenItem(f"I{n}", f"I{n}", "big", "EUR", Money.from_minor(rng.randrange(1_000, 900_000), "EUR"),
                      date(2026, 1, 1) + timedelta(days=n % 300)) for n in range(5000)]
    oldest = sorted(items, key=lambda i: i.age_key)
    cases = {"exact balance": items[4321].balance,
             "subset of the 3 oldest": oldest[0].balance + oldest[1].balance + oldest[2].balance,
             "no match": Money.of("0.03", "EUR")}
    print("matching for a customer with 5,000 open invoices (pure domain, median of 20):")
    for label, amount in cases.items():
        runs = []
        for _ in range(20):
            started = time.perf_counter()
            result = match_payment(amount, customer_id="big", customer_items=items)
            runs.append((time.perf_counter() - started) * 1000)
        print(f"  {label:<24} {statistics.median(runs):6.1f} ms -> {result.method.value}")
