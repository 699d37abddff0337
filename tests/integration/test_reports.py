"""Reports through the real stream handler on moto: invoices imported from a file and payments posted over the API
change the invoices table; its stream (NEW_AND_OLD_IMAGES, as deployed) goes to `project_invoices`; aging and
metrics are read over HTTP, as of any day."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib import bootstrap, config
from chalicelib.adapters.models import AnalyticsModel, InvoiceModel
from chalicelib.local.streams import _record
from chalicelib.services.dashboard import NOT_CONFIGURED, UNAVAILABLE
from tests.integration.conftest import issue_key
from tests.integration.helpers import HEADER, drop

TODAY = datetime(2026, 6, 30, 9, 0, tzinfo=UTC)


def row(number: str, total: str, customer: str, issued: str, due: str) -> str:
    return (f"{number},invoice,{customer},{customer.title()} Ltd,ap@{customer}.example,,en,Europe/Berlin,DE,{issued},"
            f"{due},,EUR,{total},0,,open,")


class Stream:
    """The invoices table's stream, read like the local stack's poller (chalicelib/local/streams.py)."""

    def __init__(self) -> None:
        region = config.settings().region
        ddb = boto3.client("dynamodb", region_name=region)
        table = InvoiceModel.Meta.table_name
        ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": True,
                                                               "StreamViewType": "NEW_AND_OLD_IMAGES"})
        self.arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        # botocore's endpoint rules give an address moto's mock does not recognise; DynamoDB Streams' classic one
        self.streams = boto3.client("dynamodbstreams", region_name=region,
                                    endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com")
        shard = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard,
                                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.delivered: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        records = []
        while True:
            response = self.streams.get_records(ShardIterator=self.iterator, Limit=100)
            self.iterator = response["NextShardIterator"]
            records += [_record(r, self.arn, "eu-west-1") for r in response["Records"]]
            if not response["Records"]:
                return records

    def deliver(self, client: Any, records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        batch = self.read() if records is None else records
        self.delivered += batch
        return dict(client.lambda_.invoke("project_invoices", {"Records": batch}).payload)


@pytest.fixture
def stream(aws: None) -> Iterator[Stream]:
    bootstrap.use(bootstrap.Container(clock=lambda: TODAY))
    yield Stream()


@pytest.fixture
def viewer() -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_key('viewer')}"}


def get(client: Any, path: str, headers: dict[str, str]) -> Any:
    response = client.http.get(path, headers=headers)
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def pay(client: Any, amount: str, number: str, received_on: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {issue_key('collector')}", "Idempotency-Key": key,
               "Content-Type": "application/json"}
    body = {"amount": amount, "currency": "EUR", "invoice_numbers": [number], "method": "wire",
            "received_on": received_on}
    response = client.http.post("/payments", headers=headers, body=json.dumps(body))
    assert response.status_code == 201, response.body
    assert json.loads(response.body)["status"] == "applied", response.body


def analytics_items() -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", region_name=config.settings().region)
    items = ddb.scan(TableName=AnalyticsModel.Meta.table_name)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def seed(client: Any, s3: Any, bucket: str, stream: Stream) -> None:
    body = "\n".join([HEADER,
                      row("INV-A", "1000.00", "acme", "2026-01-01", "2026-01-31"),
                      row("INV-B", "2000.00", "acme", "2026-01-10", "2026-02-09"),
                      row("INV-C", "600.00", "bolt", "2026-02-01", "2026-03-03"),
                      row("INV-D", "300.00", "bolt", "2025-12-01", "2025-12-31")]) + "\n"
    assert drop(client, s3, bucket, "incoming/ledger.csv", body.encode())["status"] == "processed"
    assert stream.deliver(client) == {"batchItemFailures": []}
    pay(client, "1000.00", "INV-A", "2026-01-20", "pay-a")
    pay(client, "500.00", "INV-B", "2026-02-15", "pay-b")
    assert stream.deliver(client) == {"batchItemFailures": []}


def test_aging_and_metrics_follow_the_stream_and_count_each_change_once(client: Any, s3: Any, bucket: str,
                                                                         stream: Stream,
                                                                         viewer: dict[str, str]) -> None:
    seed(client, s3, bucket, stream)
    aging = get(client, "/reports/aging?as_of=2026-01-31&currency=EUR", viewer)
    # At Jan 31: D 300 (31 days past due), B 2000 (current); A was paid Jan 20 (received_on, not when recorded).
    assert aging["buckets"] == {"current": "2000.00", "1_30": "0.00", "31_60": "300.00", "61_90": "0.00",
                                "over_90": "0.00"}
    assert aging["total"] == "2300.00"
    assert [(c["customer_id"], c["name"], c["total"]) for c in aging["customers"]] == [
        ("acme", "Acme Ltd", "2000.00"), ("bolt", "Bolt Ltd", "300.00")]
    metrics = get(client, "/reports/metrics?from=2026-01-01&to=2026-01-31&currency=EUR", viewer)
    assert (metrics["sales"], metrics["ending_ar"], metrics["dso"], metrics["cei"]) == (
        "3000.00", "2300.00", "23.8", "76.9")
    assert metrics["average_days_late"] == "-11.0" and metrics["on_time_rate"] == "100.0"

    # The stream delivers everything again, and a batch with a duplicate inside: nothing is counted twice.
    before = analytics_items()
    again = stream.delivered[:]
    assert stream.deliver(client, again) == {"batchItemFailures": []}
    assert stream.deliver(client, again[:2] + again[:2]) == {"batchItemFailures": []}
    assert analytics_items() == before

    today = get(client, "/reports/aging?currency=EUR", viewer)  # today: the open balances index
    assert today["as_of"] == "2026-06-30" and today["total"] == "2400.00"
    assert [(c["customer_id"], c["total"]) for c in today["customers"]] == [("acme", "1500.00"),
                                                                            ("bolt", "900.00")]
    assert today["customers"][0]["buckets"]["over_90"] == "1500.00"


def test_a_past_report_never_changes_when_later_facts_arrive(client: Any, s3: Any, bucket: str, stream: Stream,
                                                            viewer: dict[str, str]) -> None:
    seed(client, s3, bucket, stream)
    path = "/reports/aging?as_of=2026-02-20&currency=EUR"
    first = get(client, path, viewer)
    first_metrics = get(client, "/reports/metrics?from=2026-01-01&to=2026-02-20&currency=EUR", viewer)
    pay(client, "600.00", "INV-C", "2026-03-05", "pay-c")  # received later
    body = HEADER + "\n" + row("INV-E", "50.00", "acme", "2026-03-01", "2026-03-31") + "\n"
    drop(client, s3, bucket, "incoming/late.csv", body.encode())
    assert stream.deliver(client) == {"batchItemFailures": []}
    assert get(client, path, viewer) == first
    assert get(client, "/reports/metrics?from=2026-01-01&to=2026-02-20&currency=EUR", viewer) == first_metrics
    # History imported later with past dates lands in its own days.
    march = get(client, "/reports/aging?as_of=2026-03-10&currency=EUR", viewer)
    assert march["total"] == "1850.00"  # D 300 + B 1500 + E 50


def test_aging_pages_exports_csv_and_refuses_the_future(client: Any, s3: Any, bucket: str, stream: Stream,
                                                        viewer: dict[str, str]) -> None:
    seed(client, s3, bucket, stream)
    first = get(client, "/reports/aging?as_of=2026-02-20&currency=EUR&limit=1", viewer)
    assert [c["customer_id"] for c in first["customers"]] == ["acme"] and first["next_cursor"]
    second = get(client, f"/reports/aging?as_of=2026-02-20&currency=EUR&limit=1&cursor={first['next_cursor']}",
                 viewer)
    assert [c["customer_id"] for c in second["customers"]] == ["bolt"] and second["next_cursor"] is None
    every = get(client, "/reports/aging?as_of=2026-02-20", viewer)
    assert [b["currency"] for b in every["currencies"]] == ["EUR"]
    response = client.http.get("/reports/aging?as_of=2026-02-20&currency=EUR&format=csv", headers=viewer)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert 'filename="aging-2026-02-20-EUR.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["as_of", "currency", "customer_id", "name"] and rows[-1][3] == "Total"
    assert client.http.get("/reports/aging?as_of=2026-07-01", headers=viewer).status_code == 400
    assert client.http.get("/reports/metrics?to=2026-07-01", headers=viewer).status_code == 400
    assert client.http.get("/reports/metrics?from=2026-03-01&to=2026-02-01", headers=viewer).status_code == 400
    one = get(client, "/reports/aging?as_of=2026-02-20&currency=EUR&customer_id=bolt", viewer)
    assert one["total"] == "900.00" and [c["customer_id"] for c in one["customers"]] == ["bolt"]


def test_an_invoice_older_than_the_projection_is_counted_from_its_first_change(client: Any, s3: Any, bucket: str,
                                                                               stream: Stream,
                                                                               viewer: dict[str, str]) -> None:
    body = HEADER + "\n" + row("INV-A", "1000.00", "acme", "2026-01-01", "2026-01-31") + "\n"
    drop(client, s3, bucket, "incoming/old.csv", body.encode())
    stream.read()  # the import happened before the projection existed: its record is never delivered
    pay(client, "400.00", "INV-A", "2026-02-10", "pay-old")
    assert stream.deliver(client) == {"batchItemFailures": []}
    aging = get(client, "/reports/aging?as_of=2026-02-28&currency=EUR", viewer)
    assert aging["total"] == "600.00"
    metrics = get(client, "/reports/metrics?from=2026-01-01&to=2026-01-31&currency=EUR", viewer)
    assert metrics["sales"] == "1000.00"


def test_backfill_reprojects_every_invoice_once(client: Any, s3: Any, bucket: str, stream: Stream,
                                                viewer: dict[str, str]) -> None:
    from chalicelib.cli import main

    seed(client, s3, bucket, stream)
    before = analytics_items()
    assert main(["backfill-analytics"]) == 0  # every invoice is counted already: nothing changes
    assert analytics_items() == before
    ddb = boto3.client("dynamodb", region_name=config.settings().region)
    for item in before:
        ddb.delete_item(TableName=AnalyticsModel.Meta.table_name, Key={"pk": item["pk"], "sk": item["sk"]})
    assert main(["backfill-analytics"]) == 0
    aging = get(client, "/reports/aging?as_of=2026-06-30&currency=EUR", viewer)
    assert aging["total"] == "2400.00"
    assert main(["backfill-analytics"]) == 0
    assert get(client, "/reports/aging?as_of=2026-06-30&currency=EUR", viewer) == aging


def test_the_effective_date_is_written_with_its_change_and_never_inherited(aws: None) -> None:
    from dataclasses import replace
    from datetime import date

    from chalicelib.adapters.dynamo import invoice_to_model, model_to_invoice
    from chalicelib.domain.invoice import Invoice
    from chalicelib.domain.money import Money

    zero = Money.zero("EUR")
    invoice = Invoice("INV-1", "INV-1", "acme", date(2026, 1, 1), date(2026, 1, 31), Money.of("10", "EUR"), zero,
                      zero, zero, zero)
    paid = invoice_to_model(replace(invoice, effective_on=date(2026, 1, 20)), TODAY)
    assert paid.effective_on == "2026-01-20"
    assert model_to_invoice(paid).effective_on is None  # the next change, built from what is read, has none
    assert invoice_to_model(model_to_invoice(paid), TODAY).effective_on is None


def test_the_adapter_counts_any_redelivery_once_and_agrees_with_the_pure_ledger(aws: None) -> None:
    """Random invoice histories in stream order (interleaved across invoices, in order per invoice), in random
    batches, every batch delivered twice and some changes repeated inside a batch: the table's period sums answer
    as the pure projection does, at every day."""
    import random
    from datetime import timedelta

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    from chalicelib.adapters.analytics import DynamoAnalytics
    from chalicelib.domain.analytics.aging import aging
    from chalicelib.services.ports import InvoiceChange
    from tests.unit.domain.test_analytics import START, histories, project

    ddb = boto3.client("dynamodb", region_name=config.settings().region)

    # No shrinking: each example costs seconds of moto; a failure prints its example as drawn.
    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(histories(), st.integers(0, 2**32))
    def check(history: Any, seed: int) -> None:
        for item in analytics_items():
            ddb.delete_item(TableName=AnalyticsModel.Meta.table_name, Key={"pk": item["pk"], "sk": item["sk"]})
        rng = random.Random(seed)
        queues = [[InvoiceChange(f"{i}-{j}", states[j - 1][1] if j else None, states[j][1], states[j][0])
                   for j in range(len(states))] for i, states in enumerate(history)]
        stream = []
        while any(queues):
            stream.append(rng.choice([q for q in queues if q]).pop(0))
        analytics = DynamoAnalytics(ddb)
        position = 0
        while position < len(stream):
            size = rng.randint(1, 5)
            batch = stream[position:position + size]
            analytics.apply(batch + batch[:rng.randint(0, len(batch))])
            analytics.apply(batch)  # redelivered
            position += size
        book = project(history, [(i, j) for i, states in enumerate(history) for j in range(len(states))])
        for offset in range(0, 900, 97):
            t = START + timedelta(days=offset)
            for scope in ("cur#EUR", "cust#a#EUR"):
                stored = analytics.aggregates(scope, [t]).at(t)
                expected = book.aggregates(scope).at(t)
                assert stored.compact().flows == expected.compact().flows
                assert aging(stored.by_due, t) == aging(expected.by_due, t)
                assert stored.current(t) == expected.current(t)

    check()


def test_an_invoice_changed_too_often_for_one_transaction_is_counted_change_by_change(aws: None) -> None:
    from dataclasses import replace
    from datetime import date, timedelta

    from chalicelib.adapters.analytics import DynamoAnalytics
    from chalicelib.domain.analytics.ledger import COLLECTED
    from chalicelib.domain.invoice import Invoice
    from chalicelib.domain.money import Money
    from chalicelib.services.ports import InvoiceChange

    zero = Money.zero("EUR")
    state = Invoice("INV-1", "INV-1", "acme", date(2025, 1, 1), date(2025, 1, 31), Money.of("100", "EUR"), zero,
                    zero, zero, zero, version=1)
    changes = [InvoiceChange("0", None, state, state.issue_date)]
    for n in range(40):  # forty payments received on forty days: ~240 period items
        after = replace(state, applied_payments=state.applied_payments + Money.of("1", "EUR"), version=n + 2)
        changes.append(InvoiceChange(str(n + 1), state, after, date(2025, 2, 1) + timedelta(days=n)))
        state = after
    analytics = DynamoAnalytics(boto3.client("dynamodb", region_name=config.settings().region))
    analytics.apply(changes)
    analytics.apply(changes[10:30])  # redelivered
    day = date(2025, 3, 31)
    totals = analytics.aggregates("cur#EUR", [day]).at(day)
    assert totals.flow(COLLECTED) == 40_00 and totals.balance == 60_00


def test_the_dashboard_shows_the_reports_figures(client: Any, s3: Any, bucket: str, stream: Stream,
                                                 viewer: dict[str, str]) -> None:
    seed(client, s3, bucket, stream)
    response = client.http.get("/reports/dashboard?as_of=2026-01-31&currency=EUR", headers=viewer)
    assert response.status_code == 200
    html = response.body.decode()
    assert NOT_CONFIGURED not in html and UNAVAILABLE not in html
    aging = get(client, "/reports/aging?as_of=2026-01-31&currency=EUR", viewer)
    months = get(client, "/reports/metrics?from=2025-02-01&to=2026-01-31&currency=EUR", viewer)["months"]
    # The same figures as the JSON reports: the aging total, January's DSO, and Bolt, the one customer overdue.
    assert "2,300.00" in html and aging["total"] == "2300.00"
    assert months[-1]["month"] == "2026-01" and months[-1]["dso"] in html
    assert "Bolt Ltd" in html
