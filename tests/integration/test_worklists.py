"""Work lists: GET /invoices sorted and searched, GET /customers with balances and sorted, both as CSV. Every
order comes from an index Query (no Scan)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.queries import IndexOpenBalances
from chalicelib.domain.money import Money
from chalicelib.services.ports import CustomerBalance
from tests.integration.helpers import drop, dunwell_csv, get_json
from tests.integration.helpers import invoice_row as base_row


def invoice_row(number, total, *, customer, due, paid="0", currency="EUR", status="open"):
    """helpers.invoice_row with an issue date a month before the due date."""
    issue = date.fromisoformat(due) - timedelta(days=30)
    return base_row(number, total, customer=customer, due=due, paid=paid, currency=currency,
                    status=status).replace(",2026-11-01,", f",{issue.isoformat()},", 1)


# Due dates far in the past are overdue and far in the future are not, whatever day the tests run.
ROWS = [
    invoice_row("A-100", "500.00", customer="acme", due="2020-01-10"),
    invoice_row("A-101", "50.00", customer="acme", due="2099-01-01"),
    invoice_row("A-102", "70.00", customer="acme", due="2020-02-01", paid="70.00"),
    invoice_row("V-1", "5.00", customer="acme", due="2020-01-05", status="void"),
    invoice_row("G-200", "900.00", customer="globex", due="2020-03-01", paid="100.00"),
    invoice_row("G-201", "30.00", customer="globex", due="2019-12-01"),
    invoice_row("I-300", "1000.00", customer="initech", due="2099-06-01", currency="USD"),
    invoice_row("AC-1", "10.00", customer="acmeco", due="2020-05-01"),
    invoice_row("ACME-7", "20.00", customer="acmeco", due="2020-06-01"),
    invoice_row("=1+2", "3.00", customer="zeta", due="2099-02-01"),
]
OPEN_BY_DUE = ["G-201", "A-100", "G-200", "AC-1", "ACME-7", "A-101", "=1+2", "I-300"]
EUR_BY_BALANCE = ["G-200", "A-100", "A-101", "G-201", "ACME-7", "AC-1", "=1+2"]


@pytest.fixture
def ledger(client, s3, bucket):
    report = drop(client, s3, bucket, "incoming/worklists.csv", dunwell_csv(*ROWS))
    assert report["counts"]["rows_imported"] == len(ROWS), report


def numbers(client, path, headers):
    status, body = get_json(client, path, headers)
    assert status == 200, body
    return [i["number"] for i in body["items"]], body["next_cursor"]


def walk(client, path, headers, limit):
    seen, cursor = [], None
    while True:
        page, cursor = numbers(client, f"{path}&limit={limit}" + (f"&cursor={cursor}" if cursor else ""), headers)
        assert len(page) <= limit
        seen += page
        if not cursor:
            return seen


def test_most_days_overdue_first_is_open_invoices_by_due_date(client, ledger, admin_headers):
    assert numbers(client, "/invoices?sort=-days_overdue", admin_headers) == (OPEN_BY_DUE, None)
    for limit in (1, 2, 3):
        assert walk(client, "/invoices?sort=-days_overdue", admin_headers, limit) == OPEN_BY_DUE


def test_most_days_overdue_with_filters(client, ledger, admin_headers):
    assert numbers(client, "/invoices?sort=-days_overdue&overdue=true", admin_headers)[0] == OPEN_BY_DUE[:5]
    assert numbers(client, "/invoices?sort=-days_overdue&due_after=2020-01-10&due_before=2099-01-01",
                   admin_headers)[0] == ["G-200", "AC-1", "ACME-7"]
    assert walk(client, "/invoices?sort=-days_overdue&customer_id=acme", admin_headers, 1) == ["A-100", "A-101"]


def test_largest_balance_first_per_currency(client, ledger, admin_headers):
    assert numbers(client, "/invoices?sort=-balance&currency=EUR", admin_headers) == (EUR_BY_BALANCE, None)
    assert numbers(client, "/invoices?sort=-balance&currency=USD", admin_headers)[0] == ["I-300"]
    assert numbers(client, "/invoices?sort=-balance&currency=GBP", admin_headers)[0] == []
    # Without a currency: currency by currency (alphabetical), each largest first.
    for limit in (1, 2, 4):
        assert walk(client, "/invoices?sort=-balance", admin_headers, limit) == [*EUR_BY_BALANCE, "I-300"]
    assert walk(client, "/invoices?sort=-balance&customer_id=globex", admin_headers, 1) == ["G-200", "G-201"]
    _, body = get_json(client, "/invoices?sort=-balance&currency=EUR&limit=1", admin_headers)
    assert body["items"][0]["balance"] == "800.00"


def test_search_by_number_prefix_however_it_is_spelled(client, ledger, admin_headers):
    assert numbers(client, "/invoices?q=g-20", admin_headers)[0] == ["G-200", "G-201"]
    assert numbers(client, "/invoices?q=G%202", admin_headers)[0] == ["G-200", "G-201"]
    assert numbers(client, "/invoices?q=i300", admin_headers)[0] == ["I-300"]
    assert numbers(client, "/invoices?q=nothing-like-it", admin_headers) == ([], None)


def test_search_by_customer_name_lists_their_invoices_once(client, ledger, admin_headers):
    # "ACME-7" matches by number first; then Acme Ltd's invoices and Acmeco Ltd's (ACME-7 not again).
    expected = ["ACME-7", "V-1", "A-100", "A-102", "A-101", "AC-1"]
    assert numbers(client, "/invoices?q=acme", admin_headers)[0] == expected
    for limit in (1, 2, 4):
        assert walk(client, "/invoices?q=Acme", admin_headers, limit) == expected
    assert numbers(client, "/invoices?q=acme&status=open", admin_headers)[0] == ["ACME-7", "A-100", "A-101", "AC-1"]
    assert numbers(client, "/invoices?q=acmeco%20", admin_headers)[0] == ["AC-1", "ACME-7"]


@pytest.mark.parametrize(("query", "field"), [
    ("sort=bogus", "sort"), ("sort=balance", "sort"), ("sort=-balance&due_before=2026-01-01", "due_before"),
    ("sort=-balance&overdue=true", "overdue"), ("currency=EUR", "currency"), ("sort=-balance&currency=eur", "currency"),
    ("sort=-balance&currency=XXY", "currency"), ("q=a&customer_id=acme", "customer_id"), ("q=a&sort=-balance", "sort"),
    ("q=a&overdue=true", "overdue"), ("q=%20", "q"), ("q=a%00b", "q"), ("q=" + "x" * 101, "q"),
    ("sort=-days_overdue&status=paid", "status"), ("format=xml", "format"), ("format=csv&limit=5", "limit"),
    ("format=csv&cursor=abc", "cursor"),
])
def test_combinations_no_index_answers_are_400_naming_the_field(client, ledger, admin_headers, query, field):
    status, body = get_json(client, f"/invoices?{query}", admin_headers)
    assert status == 400, body
    assert body["error"]["field"] == field and body["error"]["message"]


def csv_rows(response):
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_invoices_export_as_csv_in_the_list_order_safely(client, ledger, admin_headers):
    rows = csv_rows(client.http.get("/invoices?sort=-balance&currency=EUR&format=csv", headers=admin_headers))
    assert rows[0][:5] == ["number", "customer_id", "currency", "total", "balance"]
    assert [r[0] for r in rows[1:]] == [n if n != "=1+2" else "'=1+2" for n in EUR_BY_BALANCE]
    assert rows[1][4] == "800.00"
    searched = csv_rows(client.http.get("/invoices?q=acme&format=csv", headers=admin_headers))
    assert len(searched) == 1 + 6
    everything = csv_rows(client.http.get("/invoices?format=csv", headers=admin_headers))
    assert len(everything) == 1 + len(ROWS)


def test_an_export_over_the_cap_is_refused(client, ledger, admin_headers, monkeypatch):
    monkeypatch.setattr("chalicelib.api.worklists.EXPORT_CAP", 3)
    status, body = get_json(client, "/invoices?format=csv&sort=-days_overdue", admin_headers)
    assert status == 400 and body["error"]["field"] == "format"
    status, body = get_json(client, "/customers?format=csv", admin_headers)
    assert status == 400 and body["error"]["field"] == "format"


def test_paying_an_invoice_takes_it_off_the_open_lists(client, ledger, admin_headers):
    invoice = bootstrap.ledger().get_invoices(["G-201"])["G-201"]
    bootstrap.ledger().save_invoice(replace(invoice, paid_in_source=invoice.total), [], datetime.now(UTC))
    assert "G-201" not in numbers(client, "/invoices?sort=-days_overdue", admin_headers)[0]
    assert "G-201" not in numbers(client, "/invoices?sort=-balance", admin_headers)[0]
    assert numbers(client, "/invoices?q=G-201", admin_headers)[0] == ["G-201"]  # still found by number


# ---- customers -------------------------------------------------------------------------------------------

def amounts(view, name):
    return {m["currency"]: m["amount"] for m in view[name]}


def test_customers_show_their_open_and_overdue_balance(client, ledger, admin_headers):
    status, body = get_json(client, "/customers", admin_headers)
    assert status == 200
    views = {c["id"]: c for c in body["items"]}
    assert amounts(views["acme"], "balance") == {"EUR": "550.00"}
    assert amounts(views["acme"], "overdue") == {"EUR": "500.00"}
    assert amounts(views["globex"], "overdue") == {"EUR": "830.00"}
    assert amounts(views["initech"], "balance") == {"USD": "1000.00"}
    assert amounts(views["initech"], "overdue") == {"USD": "0.00"}


def test_customers_by_balance_and_by_overdue(client, ledger, admin_headers):
    def ids(path):
        seen, cursor = [], None
        while True:
            status, body = get_json(client, path + (f"&cursor={cursor}" if cursor else ""), admin_headers)
            assert status == 200, body
            seen += [(c["id"], amounts(c, "balance"), amounts(c, "overdue")) for c in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                return seen

    by_balance = ids("/customers?sort=-balance&currency=EUR&limit=1")
    assert [c for c, _, _ in by_balance] == ["globex", "acme", "acmeco", "zeta"]
    assert by_balance[0][1:] == ({"EUR": "830.00"}, {"EUR": "830.00"})
    by_overdue = ids("/customers?sort=-overdue&currency=EUR&limit=2")
    assert [c for c, _, _ in by_overdue] == ["globex", "acme", "acmeco", "zeta"]
    assert [c for c, _, _ in ids("/customers?sort=-balance&currency=USD")] == ["initech"]
    status, body = get_json(client, "/customers?sort=-balance", admin_headers)
    assert status == 400 and body["error"]["field"] == "currency" and "EUR, USD" in body["error"]["message"]


@pytest.mark.parametrize(("query", "field"), [("sort=balance", "sort"), ("currency=EUR", "currency"),
                                              ("sort=-overdue&currency=12", "currency"), ("format=pdf", "format")])
def test_customer_list_refuses_what_it_does_not_take(client, ledger, admin_headers, query, field):
    status, body = get_json(client, f"/customers?{query}", admin_headers)
    assert status == 400 and body["error"]["field"] == field


def test_customers_export_as_csv(client, ledger, admin_headers):
    rows = csv_rows(client.http.get("/customers?sort=-overdue&currency=EUR&format=csv", headers=admin_headers))
    assert rows[0] == ["id", "name", "currency", "balance", "overdue", "credit_hold", "dunning_paused"]
    assert [r[0] for r in rows[1:]] == ["globex", "acme", "acmeco", "zeta"]
    assert rows[1][2:5] == ["EUR", "830.00", "830.00"]
    by_name = csv_rows(client.http.get("/customers?format=csv", headers=admin_headers))
    assert {r[0] for r in by_name[1:]} == {"acme", "acmeco", "globex", "initech", "zeta"}


def test_sorting_by_balance_without_the_projection_stops_at_its_cap(client, ledger, admin_headers):
    bootstrap.container().open_balances = IndexOpenBalances(bootstrap.queries(), cap=3)
    status, body = get_json(client, "/customers?sort=-balance&currency=EUR", admin_headers)
    assert status == 400 and "analytics projection" in body["error"]["message"]
    assert get_json(client, "/customers", admin_headers)[0] == 200  # a page's own customers still answer


class FakeBalances:
    """The OpenBalances port as an-core's projection answers it, in memory."""

    def __init__(self, rows):
        self.rows = rows
        self.asked = []

    def customer_balances(self, as_of, currency=None):
        self.asked.append(as_of)
        return sorted((r for r in self.rows if currency in (None, r.currency)), key=lambda r: -r.balance.minor)

    def balances_of(self, customer_ids, as_of):
        return [r for r in self.rows if r.customer_id in customer_ids]


def balance(customer, total, overdue, currency="EUR"):
    money = lambda text: Money.of(text, currency)  # noqa: E731
    return CustomerBalance(customer, currency, money(total), money(overdue),
                           {"current": money(total) - money(overdue), "1_30": money(overdue), "31_60": money("0"),
                            "61_90": money("0"), "over_90": money("0")})


def test_the_customer_list_answers_from_the_open_balances_port(client, ledger, admin_headers):
    fake = FakeBalances([balance("acme", "10.00", "9.00"), balance("zeta", "20.00", "1.00"),
                         balance("acme", "5", "5", "USD")])
    bootstrap.container().open_balances = fake
    _, body = get_json(client, "/customers?sort=-balance&currency=EUR", admin_headers)
    assert [(c["id"], amounts(c, "balance")) for c in body["items"]] == [("zeta", {"EUR": "20.00"}),
                                                                          ("acme", {"EUR": "10.00"})]
    _, body = get_json(client, "/customers?sort=-overdue&currency=EUR", admin_headers)
    assert [c["id"] for c in body["items"]] == ["acme", "zeta"]
    _, body = get_json(client, "/customers", admin_headers)
    views = {c["id"]: c for c in body["items"]}
    assert amounts(views["acme"], "balance") == {"EUR": "10.00", "USD": "5.00"}
    assert views["globex"]["balance"] == [] and views["globex"]["overdue"] == []
    assert fake.asked and all(isinstance(d, date) for d in fake.asked)


def test_invoices_written_before_the_indexes_get_their_keys_from_the_backfill(client, ledger, admin_headers):
    from chalicelib.adapters.dynamo import backfill_worklist_keys
    from chalicelib.adapters.models import InvoiceModel

    for invoice_id in ("A-100", "G-200"):  # as items written before the work-list keys existed
        model = InvoiceModel.get(invoice_id)
        model.update(actions=[InvoiceModel.list_shard.remove(), InvoiceModel.number_key.remove(),
                              InvoiceModel.open_shard.remove(), InvoiceModel.balance_key.remove()])
    assert numbers(client, "/invoices?sort=-days_overdue", admin_headers)[0] == [
        n for n in OPEN_BY_DUE if n not in ("A-100", "G-200")]
    assert backfill_worklist_keys() == (len(ROWS), 2)
    assert numbers(client, "/invoices?sort=-days_overdue", admin_headers)[0] == OPEN_BY_DUE
    assert numbers(client, "/invoices?q=A-1", admin_headers)[0] == ["A-100", "A-101", "A-102"]
    assert backfill_worklist_keys() == (len(ROWS), 0)
