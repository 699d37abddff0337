"""The staff pages (sign-in, the dashboard) and the weekly digest email: DashboardFigures in, HTML and text out.

Pure: no AWS, no clock. Templates in `templates/staff/` (English: finance staff, not debtors), rendered by an
environment that autoescapes every `.html.j2` template; charts come from chalicelib/formats/charts.py as SVG
text built with every value escaped. The pages' one stylesheet is inline, allowed by its SHA-256 in the
Content-Security-Policy (`STYLE_HASH`): no style attribute, no script, no external asset anywhere.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.formats import charts
from chalicelib.formats.messages import templates_dir

if TYPE_CHECKING:
    from chalicelib.services.ports import DashboardFigures, Figure

AGING_LABELS = {"current": "Current", "1_30": "1-30 days", "31_60": "31-60 days", "61_90": "61-90 days",
                "over_90": "Over 90 days"}
RISK_LABELS = {"low": "Low risk", "medium": "Medium risk", "high": "High risk"}


@dataclass(frozen=True)
class DigestEmail:
    subject: str
    html: str
    text: str


@cache
def _env() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(loader=FileSystemLoader(templates_dir()),
                       autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@cache
def stylesheet() -> str:
    return (templates_dir() / "staff" / "page.css").read_text(encoding="utf-8")


@cache
def style_hash() -> str:
    """The CSP source that allows exactly the inline stylesheet: 'sha256-<base64>'."""
    digest = hashlib.sha256(stylesheet().encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy() -> str:
    return (f"default-src 'none'; style-src {style_hash()}; img-src data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")


# ------------------------------------------------------------------------------------------- formatting

def money(amount: Decimal, currency: str) -> str:
    """1234.5, EUR -> "EUR 1,234.50" (the currency's own decimals)."""
    from chalicelib.domain.currencies import MINOR_UNITS

    places = MINOR_UNITS.get(currency, 2)
    quantum = Decimal(1).scaleb(-places)
    return f"{currency} {amount.quantize(quantum):,.{places}f}"


def compact(value: Decimal) -> str:
    """An axis label: 1250000 -> "1.25M", 12500 -> "12.5k", 12 -> "12"."""
    magnitude = abs(value)
    for limit, suffix in ((Decimal(10) ** 9, "bn"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k")):
        if magnitude >= limit:
            scaled = (value / limit).quantize(Decimal("0.01")).normalize()
            return f"{scaled:f}{suffix}"
    return f"{value.quantize(Decimal('0.1')).normalize():f}"


def days(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value.quantize(Decimal('0.1')):f}"


def percent(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value.quantize(Decimal('0.1')):f}%"


def month_label(month: str) -> str:
    """ "2026-11" -> "Nov 2026"."""
    names = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    year, _, number = month.partition("-")
    return f"{names[int(number) - 1]} {year}"


def axis_months(months: Sequence[str]) -> list[str]:
    """Axis labels: "Jan" etc., with the year on a second line under the first month and every January."""
    labels = []
    for index, month in enumerate(months):
        name, year = month_label(month).split()
        labels.append(f"{name}\n{year}" if index == 0 or name == "Jan" else name)
    return labels


def week_label(start: date) -> str:
    return start.strftime("%d %b")


# ------------------------------------------------------------------------------------------- view model

def _section(figure: Figure[Any]) -> dict[str, Any]:
    return {"shown": figure.shown, "missing": figure.missing}


def view(figures: DashboardFigures, *, charts_too: bool = True) -> dict[str, Any]:
    """Every figure as strings (and, for the page, the SVG of its chart): what the templates show."""
    currency = figures.currency
    result: dict[str, Any] = {"as_of": figures.as_of.isoformat(), "currency": currency}

    aging = _section(figures.aging)
    if figures.aging.value is not None and figures.aging.shown:
        value = figures.aging.value
        rows = [{"label": AGING_LABELS[name], "amount": money(value.buckets.get(name, Decimal(0)), currency),
                 "share": percent(value.buckets.get(name, Decimal(0)) * 100 / value.total if value.total else None)}
                for name in AGING_LABELS]
        aging.update(rows=rows, total=money(value.total, currency))
        overdue = value.total - value.buckets.get("current", Decimal(0))
        aging["overdue"] = money(overdue, currency)
        if charts_too:
            amounts = [value.buckets.get(name, Decimal(0)) for name in AGING_LABELS]
            aging["svg"] = charts.bar_chart(
                "chart-aging", f"Open receivables by age, {currency}, at the end of {figures.as_of}",
                f"Bar chart of {len(amounts)} age buckets; total {money(value.total, currency)}, of which "
                f"{money(overdue, currency)} past due. The table below gives every value.",
                list(AGING_LABELS.values()), amounts, fmt=compact, y_label=currency)
    result["aging"] = aging

    months = _section(figures.months)
    if figures.months.value is not None and figures.months.shown:
        series = figures.months.value
        labels = [month_label(m.month) for m in series]
        months["rows"] = [{"month": label, "dso": days(m.dso), "bpdso": days(m.best_possible_dso),
                           "add": days(m.add), "cei": percent(m.cei)} for label, m in zip(labels, series, strict=True)]
        if charts_too:
            months["svg"] = charts.line_chart(
                "chart-dso", f"DSO, best possible DSO and average days delinquent, {labels[0]} to {labels[-1]}",
                "Line chart, one line per measure in days: DSO solid with circles, best possible DSO dashed with "
                "squares, average days delinquent dotted with triangles. The table below gives every value.",
                axis_months([m.month for m in series]), [charts.Series("DSO", tuple(m.dso for m in series)),
                         charts.Series("Best possible DSO", tuple(m.best_possible_dso for m in series)),
                         charts.Series("Avg days delinquent", tuple(m.add for m in series))],
                fmt=compact, y_label="days")
            months["cei_svg"] = charts.bar_chart(
                "chart-cei", f"Collection effectiveness index by month, {labels[0]} to {labels[-1]}",
                "Bar chart of the CEI in percent per month (100% collects everything collectable). The table "
                "below gives every value.", axis_months([m.month for m in series]), [m.cei for m in series],
                fmt=compact, y_label="CEI %")
    result["months"] = months

    forecast = _section(figures.forecast)
    if figures.forecast.value is not None and figures.forecast.shown:
        weeks = figures.forecast.value
        labels = [week_label(w.start) for w in weeks]
        forecast["rows"] = [{"week": f"{w.start:%d %b} - {w.end:%d %b %Y}", "expected": money(w.expected, currency),
                             "range": f"{money(w.low, currency)} to {money(w.high, currency)}",
                             "actual": money(w.actual, currency) if w.actual is not None else "not over yet"}
                            for w in weeks]
        expected = sum((w.expected for w in weeks if w.start > figures.as_of), Decimal(0))
        forecast["expected_total"] = money(expected, currency)
        if charts_too:
            forecast["svg"] = charts.forecast_chart(
                "chart-forecast", f"Cash forecast by week against actual receipts, {currency}",
                f"Weekly expected receipts as a dashed line with squares inside a shaded low-high range, actual "
                f"receipts as bars for weeks that are over. Expected after {figures.as_of}: "
                f"{money(expected, currency)}. The table below gives every value.",
                labels, [w.expected for w in weeks], [w.low for w in weeks], [w.high for w in weeks],
                [w.actual for w in weeks], fmt=compact, y_label=currency)
    result["forecast"] = forecast

    customers = _section(figures.overdue_customers)
    if figures.overdue_customers.value is not None and figures.overdue_customers.shown:
        customers["rows"] = [{
            "name": c.name, "customer_id": c.customer_id, "overdue": money(c.overdue, currency),
            "total": money(c.total, currency),
            "risk": RISK_LABELS.get(c.risk_band or "", "Not scored") if c.risk_band else "Not scored",
            "band": c.risk_band or "none", "reasons": "; ".join(c.risk_reasons)}
            for c in figures.overdue_customers.value]
    result["customers"] = customers

    disputes = _section(figures.disputes)
    if figures.disputes.value is not None and figures.disputes.shown:
        ages = figures.disputes.value
        disputes["rows"] = [{"label": a.label, "count": str(a.count), "amount": money(a.amount, currency)}
                            for a in ages]
        disputes["open"] = str(sum(a.count for a in ages))
        if charts_too:
            disputes["svg"] = charts.bar_chart(
                "chart-disputes", f"Open disputes by age at the end of {figures.as_of}",
                f"Bar chart of the number of open disputes per age band; {disputes['open']} open in all. The "
                f"table below gives every count and amount.", [a.label for a in ages],
                [Decimal(a.count) for a in ages], fmt=compact, y_label="disputes", counts=True)
    result["disputes"] = disputes
    return result


# ------------------------------------------------------------------------------------------- rendering

def render_dashboard(figures: DashboardFigures, *, base: str, signed_in_as: str, role: str, csrf_token: str,
                     currencies: Sequence[str]) -> str:
    return str(_env().get_template("staff/dashboard.html.j2").render(
        page_title=f"Collections dashboard, {figures.currency}, {figures.as_of}", css=stylesheet(), base=base,
        signed_in_as=signed_in_as, role=role, csrf_token=csrf_token,
        currencies=sorted({*currencies, figures.currency}), **view(figures)))


def render_signin(*, base: str, token: str, error: str | None = None, signed_out: bool = False) -> str:
    return str(_env().get_template("staff/signin.html.j2").render(
        page_title=("Sign-in failed - " if error else "") + "Sign in to Dunwell", css=stylesheet(), base=base,
        token=token, error=error, signed_out=signed_out))


def render_error(*, base: str, title: str, message: str, signed_in: bool) -> str:
    return str(_env().get_template("staff/error.html.j2").render(
        page_title=title, css=stylesheet(), base=base, title=title, message=message, signed_in=signed_in))


def render_digest(figures: DashboardFigures, *, seller_name: str, dashboard_url: str | None) -> DigestEmail:
    context = {**view(figures, charts_too=False), "seller_name": seller_name, "dashboard_url": dashboard_url}
    env = _env()
    subject = " ".join(str(env.get_template("staff/digest.subject.j2").render(context)).split())
    text = str(env.get_template("staff/digest.txt.j2").render(context)).strip() + "\n"
    html = str(env.get_template("staff/digest.html.j2").render(context))
    return DigestEmail(subject, html, text)
