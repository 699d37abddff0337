"""The debtor portal's pages: data in, HTML out (server-rendered, no JavaScript).

Pure: no AWS, no clock. Templates in `templates/portal/` rendered by an environment that autoescapes every
`.html.j2` template; the wording of each language lives once in `templates/portal/<lang>/strings.j2` (a dict `t`;
every language has the keys of `en`, a test compares them), amounts and dates are formatted by Babel in the
language the wording came from (formats/messages.py `message_locale`), and `<html lang>` says which. The one
stylesheet is inline, allowed by its SHA-256 in the Content-Security-Policy: no style attribute, no script, no
external asset; the EPC QR code is inline SVG.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.money import Money
from chalicelib.formats.messages import format_day, format_money, message_locale, templates_dir

LANGUAGES = ("en", "de", "fr", "es")


@cache
def _env() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(templates_dir()),
                      autoescape=select_autoescape(enabled_extensions=("html.j2", "strings.j2"), default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env


@cache
def stylesheet() -> str:
    return (templates_dir() / "portal" / "page.css").read_text(encoding="utf-8")


@cache
def style_hash() -> str:
    digest = hashlib.sha256(stylesheet().encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy() -> str:
    """Nothing from anywhere else, nothing runs, nothing frames the portal; forms post only here."""
    return (f"default-src 'none'; style-src {style_hash()}; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")


@cache
def strings(language: str) -> Mapping[str, str]:
    module = _env().get_template(f"portal/{language}/strings.j2").module
    return dict(module.t)


def available() -> frozenset[str]:
    return frozenset(p.parent.name for p in (templates_dir() / "portal").glob("*/strings.j2"))


@dataclass(frozen=True)
class Locale:
    language: str  # the folder the wording comes from
    lang: str  # <html lang>
    formatting: Any  # the Babel locale
    timezone: str


def locale_for(tag: str | None, timezone: str | None = None) -> Locale:
    chosen = message_locale(tag, available())
    zone = timezone or "UTC"
    try:
        ZoneInfo(zone)
    except (ValueError, KeyError):
        zone = "UTC"
    return Locale(chosen.templates, chosen.lang, chosen.formatting, zone)


def negotiate(accept_language: str | None) -> str | None:
    """The first language of an Accept-Language header the portal speaks (the expired-link page has no customer)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


@dataclass(frozen=True)
class FormState:
    """A form as shown again: the values typed, the errors by field (in order), whether it is the confirm step."""

    values: Mapping[str, Any] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    review: bool = False


class Page:
    """Renders one portal page in one language."""

    def __init__(self, locale: Locale, base: str) -> None:
        self.locale = locale
        self.base = base
        self.t = strings(locale.language)

    def money(self, amount: Money | None) -> str:
        return "" if amount is None else format_money(amount.amount, amount.currency, self.locale.formatting)

    def day(self, day: date | None, style: str = "medium") -> str:
        return "" if day is None else format_day(day, self.locale.formatting, style)

    def moment(self, at: datetime) -> str:
        from babel.dates import format_datetime

        local = at.astimezone(ZoneInfo(self.locale.timezone))
        return str(format_datetime(local, format="medium", locale=self.locale.formatting))

    def clock(self, at: datetime) -> str:
        from babel.dates import format_time

        local = at.astimezone(ZoneInfo(self.locale.timezone))
        return str(format_time(local, format="short", locale=self.locale.formatting))

    def render(self, template: str, **context: Any) -> str:
        return str(_env().get_template(f"portal/{template}.html.j2").render(
            t=self.t, lang=self.locale.lang, base=self.base, css=stylesheet(), money=self.money, day=self.day,
            moment=self.moment, clock=self.clock, fmt=fmt, **context))


def fmt(text: str, **values: Any) -> str:
    """A sentence of the strings with its {placeholders} filled (escaped afterwards like any text)."""
    return text.format(**{k: "" if v is None else v for k, v in values.items()})


def totals_rows(*columns: Mapping[str, Money]) -> list[tuple[str, list[Money | None]]]:
    """Per currency (sorted), one figure per column (None where a column has none in it)."""
    currencies = sorted({c for column in columns for c in column})
    return [(c, [column.get(c) for column in columns]) for c in currencies]


def error_list(errors: Mapping[str, str]) -> Sequence[tuple[str, str]]:
    return list(errors.items())
