"""The dashboard's composition: each figure from its port, or plain words for why there is none; disputes by age
from the disputes table as of a day; the page and the digest render the same figures, escaped."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from chalicelib.domain.collections import Dispute, DisputeStatus
from chalicelib.domain.money import Money
from chalicelib.formats.dashboard import content_security_policy, render_dashboard, render_digest, style_hash
from chalicelib.services.dashboard import (
    NOT_CONFIGURED,
    UNAVAILABLE,
    Dashboard,
    DisputeAges,
    aging_figures,
    first_month,
    forecast_weeks,
    month_figures,
)
from tests.dashboard_fakes import FakeAging, FakeDisputes, FakeMetrics, full_dashboard

AS_OF = date(2026, 12, 6)


def test_first_month_is_eleven_months_before_as_ofs_month():
    assert first_month(date(2026, 12, 6)) == date(2026, 1, 1)
    assert first_month(date(2026, 3, 31)) == date(2025, 4, 1)


def test_every_port_answers_its_figure():
    figures = full_dashboard().figures(AS_OF, "EUR")
    assert figures.aging.shown and figures.aging.value.total == Decimal("1820971.00")
    assert figures.months.shown and len(figures.months.value) == 12 and figures.months.value[0].month == "2026-01"
    assert figures.forecast.shown and len(figures.forecast.value) == 17
    assert figures.overdue_customers.shown and figures.overdue_customers.value[0].risk_band == "high"
    assert figures.disputes.shown and sum(a.count for a in figures.disputes.value) == 11


def test_unwired_empty_and_failing_ports_say_so_and_show_no_number():
    class Broken:
        def monthly(self, first, as_of, currency):
            raise RuntimeError("table gone")

    figures = Dashboard(aging=FakeAging(empty=True), metrics=Broken()).figures(AS_OF, "USD")
    assert figures.aging.value is None and figures.aging.missing == "No open invoices in USD at the end of 2026-12-06."
    assert figures.months.value is None and figures.months.missing == UNAVAILABLE
    assert figures.forecast.missing == figures.overdue_customers.missing == figures.disputes.missing == NOT_CONFIGURED
    page = render_dashboard(figures, base="", signed_in_as="ana", role="viewer", csrf_token="t", currencies=["EUR"])
    assert "<svg" not in page and page.count('class="missing"') == 6  # CEI repeats the metrics' reason
    assert NOT_CONFIGURED in page and UNAVAILABLE in page


def test_disputes_with_no_open_one_are_no_data_rather_than_a_chart_of_zeros():
    class NoneOpen:
        def disputes_by_age(self, as_of, currency):
            return [a.__class__(a.band, a.label, 0, Decimal(0)) for a in FakeDisputes().disputes_by_age(as_of, "EUR")]

    figures = Dashboard(disputes=NoneOpen()).figures(AS_OF, "EUR")
    assert figures.disputes.missing == "No dispute in EUR was open at the end of 2026-12-06."


def dispute(dispute_id, opened, resolved=None, amount=None, currency="EUR", balance="1000.00"):
    return Dispute(dispute_id, f"inv-{dispute_id}", f"INV-{dispute_id}", "acme", "pricing",
                   Money(Decimal(amount), currency) if amount else None, Money(Decimal(balance), currency),
                   datetime.fromisoformat(opened).replace(tzinfo=UTC), "key:test",
                   status=DisputeStatus.RESOLVED if resolved else DisputeStatus.OPEN,
                   resolved_at=datetime.fromisoformat(resolved).replace(tzinfo=UTC) if resolved else None)


class Lister:
    """The by_status index, newest first, two to a page."""

    def __init__(self, *disputes):
        self.disputes = disputes
        self.read = []

    def list(self, status, limit, cursor):
        matching = sorted((d for d in self.disputes if d.status.value == status), key=lambda d: d.opened_at,
                          reverse=True)
        start = cursor["i"] if cursor else 0
        self.read.append(status)
        page = matching[start:start + 2]
        return page, ({"i": start + 2} if start + 2 < len(matching) else None)


def test_disputes_by_age_as_of_today_reads_only_open_disputes():
    lister = Lister(dispute("a", "2026-12-01T10:00:00", amount="120.00"), dispute("b", "2026-11-20T10:00:00"),
                    dispute("c", "2026-10-01T10:00:00"), dispute("d", "2026-08-01T10:00:00"),
                    dispute("e", "2026-12-02T10:00:00", resolved="2026-12-03T10:00:00"),
                    dispute("f", "2026-12-01T10:00:00", currency="USD"))
    ages = DisputeAges(lister, today=lambda: AS_OF).disputes_by_age(AS_OF, "EUR")
    assert [(a.band, a.count, a.amount) for a in ages] == [
        ("0_7", 1, Decimal("120.00")), ("8_30", 1, Decimal("1000.00")), ("31_60", 0, Decimal(0)),
        ("over_60", 2, Decimal("2000.00"))]
    assert set(lister.read) == {"open"}


def test_disputes_by_age_for_a_past_day_counts_what_was_open_then():
    lister = Lister(dispute("a", "2026-12-01T10:00:00"), dispute("e", "2026-11-02T10:00:00",
                                                                  resolved="2026-11-25T10:00:00"),
                    dispute("g", "2026-11-10T10:00:00", resolved="2026-11-12T10:00:00"))
    ages = DisputeAges(lister, today=lambda: AS_OF).disputes_by_age(date(2026, 11, 20), "EUR")
    assert [(a.band, a.count) for a in ages] == [("0_7", 0), ("8_30", 1), ("31_60", 0), ("over_60", 0)]
    assert "resolved" in lister.read


def test_the_page_escapes_names_and_carries_charts_with_text_alternatives_and_tables():
    page = render_dashboard(full_dashboard().figures(AS_OF, "EUR"), base="/api", signed_in_as="<ana>",
                            role="viewer", csrf_token="tok&1", currencies=["EUR", "USD"])
    assert "ACME &lt;Widgets&gt; &amp; Sons" in page and "<Widgets>" not in page
    assert "Signed in as &lt;ana&gt;" in page and 'value="tok&amp;1"' in page
    assert page.count('role="img"') == 5 and page.count("<title id=") == 5 and page.count("<desc id=") == 5
    assert page.count("<table>") == 5 and 'action="/api/signout"' in page and 'action="/api/reports/dashboard"' in page
    assert "<script" not in page and "style=" not in page  # the CSP allows neither
    assert "High risk" in page and "Not scored" in page


def test_the_csp_allows_exactly_the_inline_stylesheet():
    policy = content_security_policy()
    assert f"style-src {style_hash()}" in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy and "form-action 'self'" in policy and "img-src data:" in policy


def test_the_digest_carries_the_same_figures_in_html_and_text():
    digest = render_digest(full_dashboard().figures(AS_OF, "EUR"), seller_name="Test & Co",
                           dashboard_url="https://example.com/api/reports/dashboard")
    assert digest.subject == "Test & Co: collections digest for the week to 2026-12-06 (EUR)"
    for part in (digest.text, digest.html):
        assert "EUR 1,820,971.00" in part and "40.8" in part and "88.0%" in part and "Globex Corporation" in part
        assert "over 60 days" in part
    assert "ACME <Widgets> & Sons" in digest.text and "ACME &lt;Widgets&gt; &amp; Sons" in digest.html
    assert "Test &amp; Co" in digest.html and "<svg" not in digest.html


def test_an_empty_digest_says_why_for_every_figure():
    digest = render_digest(Dashboard(metrics=FakeMetrics()).figures(AS_OF, "EUR"), seller_name="S",
                           dashboard_url=None)
    assert digest.text.count(NOT_CONFIGURED) == 4 and "DSO 40.8" in digest.text and "dashboard" not in digest.text


def test_the_report_answers_convert_to_the_dashboards_figures():
    aging = aging_figures({"as_of": "2026-12-06", "currency": "EUR", "total": "1500.00", "customers": [],
                           "buckets": {"current": "1000.00", "1_30": "300.00", "31_60": "0.00", "61_90": "0.00",
                                       "over_90": "200.00"}, "next_cursor": None})
    assert aging is not None and aging.total == Decimal("1500.00") and aging.buckets["over_90"] == Decimal("200.00")
    assert aging_figures({"currency": "EUR", "buckets": {}, "total": "0"}) is None
    months = month_figures({"months": [
        {"month": "2026-11", "dso": "41.2", "best_possible_dso": "30.0", "add": "11.2", "cei": "85.0"},
        {"month": "2026-10", "dso": None, "best_possible_dso": None, "add": None, "cei": "79.5"}]})
    assert [m.month for m in months] == ["2026-10", "2026-11"] and months[0].dso is None
    assert months[1].add == Decimal("11.2")
    weeks = forecast_weeks({"weeks": [{"start": "2026-12-07", "end": "2026-12-13", "expected": "100.00",
                                       "low": "80.00", "high": "120.00"}]},
                           {date(2026, 12, 7): Decimal("95.00")})
    assert weeks[0].expected == Decimal("100.00") and weeks[0].actual == Decimal("95.00")
