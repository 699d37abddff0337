"""The reports use case on an in-memory projection: what it answers, as of which day, and that a change delivered
twice is counted once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.domain.errors import InvalidDocument
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.services.ports import InvoiceChange, OpenBalances
from chalicelib.services.reports import ReportsService
from tests.unit.services.analytics_fakes import InMemoryAnalytics

TODAY = date(2026, 6, 30)


def money(minor: int, currency: str = "EUR") -> Money:
    return Money.from_minor(minor, currency)


def invoice(number: str, total: int, customer: str, issued: date, due: date, currency: str = "EUR") -> Invoice:
    zero = money(0, currency)
    return Invoice(invoice_id=number, number=number, customer_id=customer, issue_date=issued, due_date=due,
                   total=money(total, currency), paid_in_source=zero, applied_payments=zero, credited=zero,
                   written_off=zero, version=1)


class Names:
    def get_customers(self, customer_ids: Any) -> dict[str, Any]:
        class Stored:
            def __init__(self, name: str) -> None:
                self.customer = type("C", (), {"name": name})()
        return {c: Stored(c.title()) for c in customer_ids}


def ledger() -> tuple[InMemoryAnalytics, list[InvoiceChange]]:
    analytics = InMemoryAnalytics(TODAY)
    a = invoice("A", 1000_00, "acme", date(2026, 1, 1), date(2026, 1, 31))
    b = invoice("B", 2000_00, "acme", date(2026, 1, 10), date(2026, 2, 9))
    d = invoice("D", 300_00, "bolt", date(2025, 12, 1), date(2025, 12, 31))
    u = invoice("U", 50_00, "bolt", date(2026, 1, 5), date(2026, 2, 4), currency="USD")
    a_paid = replace(a, applied_payments=money(1000_00), version=2)
    changes = [InvoiceChange("1", None, a, a.issue_date), InvoiceChange("2", None, b, b.issue_date),
               InvoiceChange("3", None, d, d.issue_date), InvoiceChange("4", None, u, u.issue_date),
               InvoiceChange("5", a, a_paid, date(2026, 1, 20))]
    analytics.apply(changes)
    return analytics, changes


def service(analytics: InMemoryAnalytics) -> ReportsService:
    return ReportsService(analytics, Names(), clock=lambda: datetime(2026, 6, 30, 12, tzinfo=UTC))


def test_a_redelivered_or_duplicated_change_counts_once() -> None:
    analytics, changes = ledger()
    before = service(analytics).metrics(date(2026, 1, 1), date(2026, 1, 31), "EUR")
    analytics.apply(changes + changes[:2])
    assert service(analytics).metrics(date(2026, 1, 1), date(2026, 1, 31), "EUR") == before


def test_aging_as_of_a_past_day_pages_customers_largest_first() -> None:
    analytics, _ = ledger()
    reports = service(analytics)
    first = reports.aging(date(2026, 1, 31), "EUR", limit=1)
    assert first["total"] == "2300.00" and first["buckets"]["31_60"] == "300.00"
    assert [(c["customer_id"], c["name"], c["total"]) for c in first["customers"]] == [("acme", "Acme", "2000.00")]
    second = reports.aging(date(2026, 1, 31), "EUR", limit=1, start=first["next_page"])
    assert [c["customer_id"] for c in second["customers"]] == ["bolt"] and second["next_page"] is None


def test_aging_without_a_currency_has_one_block_per_currency_and_today_is_the_default() -> None:
    analytics, _ = ledger()
    report = service(analytics).aging(None, None)
    assert report["as_of"] == "2026-06-30"
    assert [(b["currency"], b["total"]) for b in report["currencies"]] == [("EUR", "2300.00"), ("USD", "50.00")]
    assert all("next_page" not in b for b in report["currencies"])


def test_the_future_and_an_unnamed_currency_among_several_are_refused() -> None:
    analytics, _ = ledger()
    with pytest.raises(InvalidDocument):
        service(analytics).aging(date(2026, 7, 1), "EUR")
    with pytest.raises(InvalidDocument):
        service(analytics).metrics(None, None, None)


def test_metrics_view_has_every_field_as_strings_and_nulls() -> None:
    analytics, _ = ledger()
    report = service(analytics).metrics(date(2026, 1, 1), date(2026, 1, 31), "EUR")
    assert report["sales"] == "3000.00" and report["dso"] == "23.8" and report["cei"] == "76.9"
    assert report["promise_kept_rate"] is None
    assert {"dso_countback", "best_possible_dso", "add", "bad_debt_ratio", "average_days_late", "on_time_rate",
            "days_deduction_outstanding", "months"} <= set(report)
    assert [m["month"] for m in report["months"]] == ["2026-01"]
    default = service(analytics).metrics(None, None, "EUR")
    assert (default["from"], default["to"]) == ("2025-07-01", "2026-06-30") and len(default["months"]) == 12


def test_open_balances_for_the_work_lists() -> None:
    analytics, _ = ledger()
    balances: OpenBalances = analytics
    listed = balances.customer_balances(date(2026, 1, 31), "EUR")
    assert [(b.customer_id, b.balance.to_api(), b.overdue.to_api()) for b in listed] == [
        ("acme", "2000.00", "0.00"), ("bolt", "300.00", "300.00")]
    assert [b.currency for b in balances.balances_of(["bolt"], date(2026, 1, 31))] == ["EUR", "USD"]
