"""In-memory figure sources for the dashboard and the digest, with the numbers of a plausible mid-sized seller
(about EUR 1.8M open, DSO in the 40s). Used by the unit, integration and browser tests; never by the app."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from chalicelib.services.dashboard import Dashboard, first_month
from chalicelib.services.ports import AgingFigures, DisputeAge, ForecastWeek, MonthFigures, OverdueCustomer

D = Decimal


class FakeAging:
    def __init__(self, empty: bool = False) -> None:
        self.empty = empty
        self.calls: list[tuple[date, str]] = []

    def aging(self, as_of: date, currency: str) -> AgingFigures | None:
        self.calls.append((as_of, currency))
        if self.empty:
            return None
        buckets = {"current": D("1104250.00"), "1_30": D("402310.55"), "31_60": D("151200.10"),
                   "61_90": D("64480.00"), "over_90": D("98730.35")}
        return AgingFigures(currency, buckets, sum(buckets.values(), D(0)))


class FakeMetrics:
    DSO = ("48.2", "46.9", "47.5", "45.1", "44.0", "44.8", "43.2", "42.7", "41.9", "43.5", "42.1", "40.8")
    BPDSO = ("31.0", "30.4", "31.2", "30.9", "30.1", "30.6", "29.8", "30.2", "29.5", "30.0", "29.7", "29.4")
    CEI = ("78.4", "80.1", "79.3", "82.6", "83.0", "81.7", "84.9", "85.2", "86.4", "84.1", "87.3", "88.0")

    def monthly(self, first: date, as_of: date, currency: str) -> Sequence[MonthFigures]:
        assert first == first_month(as_of)
        months = []
        year, month = first.year, first.month
        for index in range(12):
            dso, bpdso = D(self.DSO[index]), D(self.BPDSO[index])
            months.append(MonthFigures(f"{year:04d}-{month:02d}", dso, bpdso, dso - bpdso, D(self.CEI[index])))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


class FakeForecast:
    def forecast_against_actuals(self, as_of: date, currency: str, weeks: int) -> Sequence[ForecastWeek]:
        result = []
        expected = (D("212000"), D("188500"), D("240100"), D("199800"))
        actual = (D("205400.12"), D("201950.00"), D("228700.40"), D("190300.00"))
        for index in range(-4, weeks):
            start = as_of + timedelta(days=1 + 7 * index)
            value = expected[index % 4] - D(index * 3500)
            spread = value * D("0.12") * (1 + max(index, 0)) / 4
            result.append(ForecastWeek(start, start + timedelta(days=6), value, value - spread, value + spread,
                                       actual[index + 4] if index < 0 else None))
        return result


class FakeOverdue:
    def largest_overdue(self, as_of: date, currency: str, limit: int) -> Sequence[OverdueCustomer]:
        rows = [
            OverdueCustomer("globex", "Globex Corporation", D("184200.00"), D("251900.00"), "high",
                            ("paid 8 of its last 10 invoices late, 23 days on average", "2 open disputes")),
            OverdueCustomer("initech", "Initech GmbH", D("96310.55"), D("140000.00"), "medium",
                            ("paid 4 of its last 10 invoices late, 9 days on average",)),
            OverdueCustomer("acme", "ACME <Widgets> & Sons", D("42100.00"), D("80500.00"), "low",
                            ("paid 9 of its last 10 invoices on time",)),
            OverdueCustomer("umbrella", "Umbrella plc", D("18700.35"), D("18700.35"), None, ()),
        ]
        return rows[:limit]


class FakeDisputes:
    def disputes_by_age(self, as_of: date, currency: str) -> Sequence[DisputeAge]:
        return [DisputeAge("0_7", "0-7 days", 3, D("12400.00")), DisputeAge("8_30", "8-30 days", 5, D("38210.50")),
                DisputeAge("31_60", "31-60 days", 2, D("9900.00")),
                DisputeAge("over_60", "over 60 days", 1, D("45000.00"))]


def full_dashboard() -> Dashboard:
    return Dashboard(aging=FakeAging(), metrics=FakeMetrics(), forecast=FakeForecast(), overdue=FakeOverdue(),
                     disputes=FakeDisputes())
