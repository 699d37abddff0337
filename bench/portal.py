"""The customer portal's statement page (issue 13 item 8): a customer with 200 open invoices (in a ledger where
other customers have thousands more, and this customer has paid ones too), viewed through the whole HTTP path
(chalice.test.Client, moto in memory): DynamoDB requests per page view (budget 4) and time. Also the cost of
opening a link and of an invoice page."""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.harness import DynamoCounter

OPEN_INVOICES = 200
OTHER_INVOICES = 5_000
VIEWS = 30


def _views(client: Any, path: str, cookie: str, counter: DynamoCounter, views: int) -> tuple[list[int], list[float],
                                                                                                dict[str, int]]:
    requests, seconds = [], []
    by_operation: dict[str, int] = {}
    for _ in range(views):
        counter.reset()
        started = time.perf_counter()
        response = client.http.get(path, headers={"Cookie": f"__Host-dunwell_portal={cookie}", "Accept": "*/*"})
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
        requests.append(counter.total())
        by_operation = dict(counter.requests)
    return requests, seconds, by_operation


def run(open_invoices: int = OPEN_INVOICES, other_invoices: int = OTHER_INVOICES, views: int = VIEWS) -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "eu-west-1", "DUNWELL_RESOURCE_PREFIX": "dunwell-bench-portal",
                       "POWERTOOLS_LOG_LEVEL": "WARNING", "PUBLIC_BASE_URL": "https://portal.bench.example/api",
                       "SELLER_NAME": "Bench Seller GmbH (fictional)", "SELLER_IBAN": "DE89370400440532013000"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    from chalicelib.local.moto_dynamodb import install

    install()
    with mock_aws():
        import boto3
        from chalice.test import Client

        from app import app
        from chalicelib import bootstrap, config
        from chalicelib.adapters.models import ALL_MODELS
        from chalicelib.domain.customer import Contact, Customer
        from chalicelib.domain.invoice import Document, DocumentKind, Invoice
        from chalicelib.domain.money import Money
        from chalicelib.domain.terms import PaymentTerms

        bootstrap.reset()
        settings = config.settings()
        bootstrap.bind_tables(settings)
        for model in ALL_MODELS:
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=False)
        boto3.client("s3").create_bucket(Bucket=settings.inbox_bucket,
                                         CreateBucketConfiguration={"LocationConstraint": settings.region})
        now = datetime.now(UTC)
        today = now.date()
        customers = [Customer("bench-acme", "Bench Acme GmbH", (Contact("AP", "ap@acme.bench.example"),),
                              language="de", timezone="Europe/Berlin",
                              payment_terms=PaymentTerms.parse("2/10 net 30"))]
        customers += [Customer(f"bench-other-{n}", f"Other {n}") for n in range(50)]
        bootstrap.customers().insert_customers(customers, [], now)
        invoices = []
        for n in range(open_invoices):
            issued = today - timedelta(days=n % 90)
            invoices.append(Invoice.from_document(Document(
                DocumentKind.INVOICE, f"RE-{n:05d}", "bench-acme", issued, issued + timedelta(days=30),
                Money.from_minor(10_000 + 37 * n, "EUR"), Money.zero("EUR"))))
        for n in range(50):  # paid ones: not on the statement, and not read (the open index is sparse)
            invoices.append(Invoice.from_document(Document(
                DocumentKind.INVOICE, f"RE-P{n:04d}", "bench-acme", date(2026, 1, 1), date(2026, 2, 1),
                Money.from_minor(5_000, "EUR"), Money.from_minor(5_000, "EUR"))))
        for n in range(other_invoices):
            invoices.append(Invoice.from_document(Document(
                DocumentKind.INVOICE, f"OT-{n:06d}", f"bench-other-{n % 50}", today - timedelta(days=20),
                today + timedelta(days=10), Money.from_minor(20_000, "EUR"), Money.zero("EUR"))))
        ledger = bootstrap.ledger()
        for start in range(0, len(invoices), 1000):
            ledger.insert_invoices(invoices[start:start + 1000], "imp_bench_portal", now)

        counter = DynamoCounter()
        with Client(app) as client, counter.counting():
            url = bootstrap.portal_links().mint("bench-acme", "ap@acme.bench.example", now)
            counter.reset()
            opened = client.http.get("/portal/open/" + url.rsplit("/", 1)[1])
            open_cost = dict(counter.requests)
            assert opened.status_code == 303, opened.status_code
            raw = opened.headers["Set-Cookie"]
            cookie = (raw[0] if isinstance(raw, list) else raw).split(";")[0].split("=", 1)[1]
            requests, seconds, by_operation = _views(client, "/portal", cookie, counter, views)
            body = client.http.get("/portal", headers={"Cookie": f"__Host-dunwell_portal={cookie}"}).body
            shown = body.decode().count('href="/portal/invoices/')
            invoice_requests, invoice_seconds, invoice_ops = _views(
                client, f"/portal/invoices/{invoices[0].invoice_id}", cookie, counter, 10)

        own = _own_work(customers[0], invoices[:open_invoices], today)
        print(f"statement page, customer with {open_invoices} open invoices (+50 paid; {other_invoices:,} invoices of "
              f"50 other customers in the ledger), {views} views through the HTTP path:")
        print(f"  DynamoDB requests per page view: {max(requests)} (min {min(requests)}; by operation "
              f"{by_operation}); budget 4")
        print(f"  time per page view: median {statistics.median(seconds) * 1000:.1f} ms, "
              f"p95 {sorted(seconds)[int(len(seconds) * 0.95) - 1] * 1000:.1f} ms (moto in memory, render included); "
              f"invoice rows on the page: {shown}")
        print(f"  of which Dunwell's own work (statement built and page rendered, no I/O): median {own * 1000:.1f} ms; "
              "the rest is moto's emulation of the index Query and the HTTP path")
        print(f"  opening the link: {sum(open_cost.values())} requests {open_cost}; invoice page: "
              f"{max(invoice_requests)} requests {invoice_ops}, median "
              f"{statistics.median(invoice_seconds) * 1000:.1f} ms")


def _own_work(customer: Any, invoices: list[Any], today: date) -> float:
    from chalicelib.formats.portal import Page, locale_for, totals_rows
    from chalicelib.services.statement import build_statement

    times = []
    for _ in range(10):
        started = time.perf_counter()
        statement = build_statement(customer, today, invoices, [], [])
        Page(locale_for(customer.language, customer.timezone), "").render(
            "statement", page_title="x", seller="S", customer_name=customer.name, csrf_token="t",
            session_until=datetime.now(UTC), idle_minutes=30, statement=statement,
            totals=totals_rows(statement.open_totals, statement.overdue_totals, {}, statement.totals), notice=None,
            can_act=True, can_pay=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)
