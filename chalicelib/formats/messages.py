"""Reminder messages of the dunning ladder: one statement-style email (HTML + text) or SMS per customer and run.

Pure: data in, text out. No AWS, no clock (``today`` is an argument), no environment variables, no cwd.

* Wording lives in ``templates/<locale>/reminder.strings.j2`` (one file per language, plain-text macros shared
  by the HTML and the text part), the layouts in ``templates/layouts/``, subjects and SMS in
  ``templates/<locale>/reminder.{subject,sms}.j2``. ``templates/README.md`` describes the contract.
* One language per message (``message_locale``): the template folder is chosen first, and money and dates are
  formatted with Babel in that language. A regional variant of it formats regionally where Babel knows the region
  (``de-AT``: wording from ``de/``, amounts Austrian style); a language without templates (``ja``) gets the whole
  message in the fallback language, its dates and amounts included. Templates receive strings and flags and never
  do arithmetic.
* The HTML part is rendered by an environment that escapes everything it renders (layout *and* wording macros),
  the text part, subject and SMS by one that escapes only ``*.html.j2``. Both are built on first use and cached.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.domain.currencies import MINOR_UNITS

TONES = ("friendly", "firm", "overdue_statement", "final", "escalation", "promise_missed", "plan_instalment")
"""friendly: before due / due today; firm: overdue; overdue_statement: the first, neutral word about an invoice
already past due (claims no earlier contact); final: final notice (statutory fees and next steps);
escalation: handed to collections; promise_missed: a promise to pay was broken; plan_instalment: payment plan."""

DEFAULT_LOCALE = "en"
TEMPLATE = "reminder"
CHARGE_CODES = ("late_fee", "interest", "compensation")
"""Charge labels the wording translates; any other label is shown as given."""

# ------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class InvoiceLine:
    """One invoice at its dunning step. ``balance`` is what is still open on the invoice itself; ``charges``
    (code or label, amount) are fees and interest charged on it *in addition*, so the amount due is
    ``balance + sum(charges)``. ``days_overdue`` is negative before the due date. ``discount`` is the
    early-payment discount (amount the customer may deduct, last day) shown in pre-due reminders."""

    number: str
    issue_date: date
    due_date: date
    currency: str
    total: Decimal
    balance: Decimal
    days_overdue: int
    charges: tuple[tuple[str, Decimal], ...] = ()
    pay_url: str | None = None
    discount: tuple[Decimal, date] | None = None
    undelivered: bool = False  # the invoice was never delivered to the customer: this message attaches it


@dataclass(frozen=True)
class Seller:
    name: str
    email: str
    phone: str | None
    iban: str | None
    bic: str | None
    address_lines: tuple[str, ...]


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    locale: str
    """The language folder the wording came from (``de`` for a ``de-AT`` customer without ``de-AT/``)."""


# ------------------------------------------------------------------------------------------------- paths


@cache
def templates_dir() -> Path:
    """The project's ``templates/`` folder: the repository root locally, ``/var/task`` in Lambda (shipped through
    the ``vendor/templates`` symlink). Found by walking up from this file, never from the cwd."""
    here = Path(__file__).resolve().parent
    for folder in (here, *here.parents):
        candidate = folder / "templates"
        if (candidate / "base.html.j2").is_file():
            return candidate
    raise FileNotFoundError(f"no templates/ folder with base.html.j2 above {here}")


@cache
def available_locales() -> frozenset[str]:
    """Locale folders holding the reminder wording."""
    root = templates_dir()
    return frozenset(p.parent.name for p in root.glob(f"*/{TEMPLATE}.strings.j2"))


# ------------------------------------------------------------------------------------------------- locales

_TAG_SPLIT = re.compile(r"[-_]")


def canonical_tag(tag: str) -> str:
    """``de_at`` -> ``de-AT``, ``ZH-hant-tw`` -> ``zh-Hant-TW`` (BCP 47 casing)."""
    parts = [p for p in _TAG_SPLIT.split(tag.strip()) if p]
    out: list[str] = []
    for i, part in enumerate(parts):
        if i == 0:
            out.append(part.lower())
        elif len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def locale_chain(tag: str | None) -> list[str]:
    """Most to least specific, then the default: ``de-AT`` -> ``["de-AT", "de", "en"]``."""
    chain: list[str] = []
    if tag and tag.strip():
        parts = canonical_tag(tag).split("-")
        chain = ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]
    if DEFAULT_LOCALE not in chain:
        chain.append(DEFAULT_LOCALE)
    return chain


def resolve_locale(tag: str | None, available: Iterable[str] | None = None) -> str:
    """The first locale of ``tag``'s chain that has templates (``de-AT`` -> ``de`` -> ``en``)."""
    have = {canonical_tag(a): a for a in (available_locales() if available is None else available)}
    for candidate in locale_chain(tag):
        if candidate in have:
            return have[candidate]
    return DEFAULT_LOCALE


@dataclass(frozen=True)
class MessageLocale:
    """The one decision about a message's language, for its wording, its numbers and dates, and its markup."""

    templates: str
    """The template folder the wording comes from (``de`` for ``de-AT``, ``en`` for ``ja``)."""
    formatting: Any
    """The Babel locale amounts and dates are formatted in: always of the language of ``templates``."""
    lang: str
    """The BCP 47 tag the message declares (``<html lang>``): the language it is actually written in."""


def _parse_babel(tag: str) -> Any:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(canonical_tag(tag).replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None


def message_locale(tag: str | None, available: Iterable[str] | None = None) -> MessageLocale:
    """The customer's language tag -> the folder, the formatting locale and the declared language.

    The customer's own tag formats only when it is a variant of the language the wording is in and Babel knows it
    (``de-AT``, ``de_CH``, ``en-GB``, ``fr-CA``); otherwise the folder's language formats (``ja`` -> ``en``: an
    English sentence with a Japanese date reads as a mistake; ``de-XX`` -> ``de``)."""
    templates = resolve_locale(tag, available)
    requested = canonical_tag(tag) if tag and tag.strip() else ""
    if requested and requested.split("-")[0] == canonical_tag(templates).split("-")[0]:
        regional = _parse_babel(requested)
        if regional is not None:
            return MessageLocale(templates, regional, requested)
    folder = _parse_babel(templates) or _parse_babel(DEFAULT_LOCALE)
    return MessageLocale(templates, folder, canonical_tag(templates))


# ------------------------------------------------------------------------------------------------- formatting


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's ISO 4217 minor unit, half up (Babel would round half-even)."""
    exponent = MINOR_UNITS.get(currency, 2)
    return amount.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP)


def format_money(amount: Decimal, currency: str, locale: Any) -> str:
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__}")
    from babel.numbers import format_currency

    # Quantised here; decimal_quantization=False so Babel shows exactly these digits and rounds nothing.
    return format_currency(quantize(amount, currency), currency, locale=locale, decimal_quantization=False)


def format_day(day: date, locale: Any, style: str = "medium") -> str:
    """``style``: a Babel format (``short``/``medium``/``long``/``full``) or ``day_month`` (``7. März``, ``Mar 7``)."""
    from babel.dates import format_date, format_skeleton

    if style == "day_month":
        return format_skeleton("MMMd", day, locale=locale)
    return format_date(day, format=style, locale=locale)


def format_iban(iban: str) -> str:
    compact = re.sub(r"\s+", "", iban).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


# ------------------------------------------------------------------------------------------------- SMS encoding

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")  # each costs two septets (escape + character)

_GSM7_REPLACEMENTS = {
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\u2002": " ", "\u2003": " ",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00e7": "c", "\u0153": "oe", "\u0152": "OE", "\u00aa": "a", "\u00ba": "o", "\t": " ",
}


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def to_gsm7(text: str) -> str:
    """Replace characters outside the GSM 03.38 alphabet by their closest GSM-7 spelling (no-break spaces,
    typographic quotes and dashes, accents GSM-7 lacks: ``á`` -> ``a``, ``ç`` -> ``c``, ``ê`` -> ``e``).
    Characters with no sensible equivalent are kept, and the message is then sent as UCS-2."""
    out: list[str] = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
            out.append(ch)
        elif ch in _GSM7_REPLACEMENTS:
            out.append(_GSM7_REPLACEMENTS[ch])
        else:
            base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
            out.append(base if base and is_gsm7(base) else ch)
    return "".join(out)


def _pack(costs: Sequence[int], size: int) -> int:
    """Segments needed when each unit (a character and its escape, or a surrogate pair) stays whole."""
    segments, used = 1, 0
    for cost in costs:
        if used + cost > size:
            segments, used = segments + 1, 0
        used += cost
    return segments


def sms_segments(text: str) -> int:
    """Number of SMS parts ``text`` takes: GSM-7 (160 septets, 153 per part when concatenated; ``€^{}[]~|\\``
    count two) unless any character is outside GSM-7, then UCS-2 (70 UTF-16 units, 67 per part)."""
    if not text:
        return 0
    if is_gsm7(text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, multi = 160, 153
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, multi = 70, 67
    return 1 if sum(costs) <= single else _pack(costs, multi)


# ------------------------------------------------------------------------------------------------- Jinja

_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n){2,}")  # at most one empty line in a row in the text part
_SPACES = re.compile(r"[ \t\r\n]+")  # ASCII whitespace only: no-break spaces inside amounts must survive


def _para(value: Any) -> Any:
    """Collapse a macro's line breaks and indentation into single spaces (keeps Markup as Markup)."""
    from markupsafe import Markup

    collapsed = _SPACES.sub(" ", str(value)).strip()
    # Only whitespace of an already escaped Markup string is touched: it stays safe.
    return Markup(collapsed) if isinstance(value, Markup) else collapsed  # noqa: S704


def _capfirst(value: Any) -> str:
    text = str(value)
    return text[:1].upper() + text[1:]


@cache
def _environment(html: bool) -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        # HTML part: everything escaped, including the wording macros it imports (a macro from a template
        # that does not escape would hand the HTML layout unescaped customer data marked as safe).
        # Text part, subject, SMS: only *.html.j2 would be escaped ("&" stays "&").
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=html, default=html),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters["para"] = _para
    env.filters["capfirst"] = _capfirst
    return env


def _select(env: Any, locale: str, suffix: str) -> Any:
    return env.select_template([f"{loc}/{TEMPLATE}.{suffix}" for loc in locale_chain(locale)])


# ------------------------------------------------------------------------------------------------- context


def _validate(tone: str, lines: Sequence[InvoiceLine]) -> None:
    if tone not in TONES:
        raise ValueError(f"unknown tone {tone!r}; expected one of {', '.join(TONES)}")
    if not lines:
        raise ValueError("a reminder needs at least one invoice line")
    for line in lines:
        if not re.fullmatch(r"[A-Z]{3}", line.currency):
            raise ValueError(f"invoice {line.number}: currency {line.currency!r} is not an ISO 4217 code")
        for value in (line.total, line.balance, *(a for _, a in line.charges)):
            if not isinstance(value, Decimal):
                raise TypeError(f"invoice {line.number}: money must be Decimal, got {type(value).__name__}")
        if line.pay_url is not None and not line.pay_url.lower().startswith(("https://", "http://")):
            raise ValueError(f"invoice {line.number}: pay_url must be an http(s) URL")


def _state(days_overdue: int) -> str:
    return "upcoming" if days_overdue < 0 else "due_today" if days_overdue == 0 else "overdue"


def _context(
    tone: str,
    chosen: MessageLocale,
    customer_name: str,
    lines: Sequence[InvoiceLine],
    seller: Seller,
    today: date,
    *,
    contact_name: str | None,
    deadline: date | None,
    promise_date: date | None,
    payment_reference: str | None,
    portal_url: str | None = None,
) -> dict[str, Any]:
    _validate(tone, lines)
    if portal_url is not None and not portal_url.lower().startswith(("https://", "http://")):
        raise ValueError("portal_url must be an http(s) URL")
    loc = chosen.formatting

    def money(amount: Decimal, currency: str) -> str:
        return format_money(amount, currency, loc)

    def day(value: date, style: str = "medium") -> str:
        return format_day(value, loc, style)

    show_discounts = tone == "friendly"
    rows: list[dict[str, Any]] = []
    totals: dict[str, dict[str, Decimal]] = {}
    for line in lines:
        cur = line.currency
        charged = sum((quantize(a, cur) for _, a in line.charges), Decimal(0))
        due = quantize(line.balance, cur) + charged
        t = totals.setdefault(cur, {"balance": Decimal(0), "charges": Decimal(0), "due": Decimal(0)})
        t["balance"] += quantize(line.balance, cur)
        t["charges"] += charged
        t["due"] += due
        discount = None
        if show_discounts and line.discount is not None and line.discount[1] >= today and line.discount[0] > 0:
            amount, last_day = line.discount
            discount = {
                "amount": money(amount, cur),
                "net": money(due - quantize(amount, cur), cur),
                "last_day": day(last_day),
                "last_day_long": day(last_day, "long"),
            }
        rows.append({
            "number": line.number,
            "issue_date": day(line.issue_date),
            "due_date": day(line.due_date),
            "due_date_long": day(line.due_date, "long"),
            "due_date_short": day(line.due_date, "day_month"),
            "currency": cur,
            "total": money(line.total, cur),
            "balance": money(line.balance, cur),
            "charges": [{"code": code, "amount": money(a, cur)} for code, a in line.charges],
            "has_charges": bool(line.charges),
            "due": money(due, cur),
            "state": _state(line.days_overdue),
            "days": abs(line.days_overdue),
            "pay_url": line.pay_url,
            "discount": discount,
            "undelivered": line.undelivered,
        })

    states = {r["state"] for r in rows}
    pay_urls = {line.pay_url for line in lines}
    all_linked = None not in pay_urls
    bank = None
    if not all_linked and seller.iban:
        bank = {
            "holder": seller.name,
            "iban": format_iban(seller.iban),
            "bic": seller.bic or "",
            "reference": payment_reference or ", ".join(line.number for line in lines),
        }
    total_rows: list[dict[str, Any]] = [
        {
            "currency": cur,
            "balance": money(t["balance"], cur),
            "charges": money(t["charges"], cur),
            "has_charges": t["charges"] != 0,
            "due": money(t["due"], cur),
        }
        for cur, t in totals.items()
    ]
    return {
        "tone": tone,
        "plan": tone == "plan_instalment",
        "lang": chosen.lang,
        "customer_name": customer_name,
        "contact_name": contact_name,
        "seller": {
            "name": seller.name,
            "email": seller.email,
            "phone": seller.phone or "",
            "address_lines": list(seller.address_lines),
        },
        # The shape base.html.j2 / base.txt.j2 expect.
        "sender": {
            "name": seller.name,
            "email": seller.email,
            "phone": seller.phone or "",
            "address_lines": list(seller.address_lines),
        },
        "lines": rows,
        "first": rows[0],
        "count": len(rows),
        "single": len(rows) == 1,
        "totals": total_rows,
        "total_due": " + ".join(t["due"] for t in total_rows),
        "multi_currency": len(total_rows) > 1,
        "has_charges": any(r["has_charges"] for r in rows),
        "has_discount": any(r["discount"] for r in rows),
        "has_undelivered": any(r["undelivered"] for r in rows),
        "all_upcoming": states == {"upcoming"},
        "all_due_today": states == {"due_today"},
        "any_overdue": "overdue" in states,
        "pay_links": all_linked,
        "some_pay_links": bool(pay_urls - {None}),
        "common_pay_url": next(iter(pay_urls)) if len(pay_urls) == 1 and all_linked else None,
        "bank": bank,
        "today": day(today),
        "today_long": day(today, "long"),
        "deadline": day(deadline) if deadline else None,
        "deadline_long": day(deadline, "long") if deadline else None,
        "deadline_short": day(deadline, "day_month") if deadline else None,
        "promise_date": day(promise_date) if promise_date else None,
        "promise_date_long": day(promise_date, "long") if promise_date else None,
        "portal_url": portal_url,
    }


# ------------------------------------------------------------------------------------------------- API


def render_reminder_email(
    tone: str,
    locale: str | None,
    customer_name: str,
    lines: Sequence[InvoiceLine],
    seller: Seller,
    today: date,
    *,
    contact_name: str | None = None,
    deadline: date | None = None,
    promise_date: date | None = None,
    payment_reference: str | None = None,
    portal_url: str | None = None,
) -> RenderedEmail:
    """The statement-style reminder for one customer: every invoice at this step, totals per currency, how to
    pay (a link per invoice, else the seller's bank details) and whom to contact.

    ``deadline``: pay-by date stated by firm / final / escalation / promise_missed reminders.
    ``promise_date``: the date the customer had promised to pay (promise_missed).
    ``payment_reference``: the transfer reference shown with the bank details (default: the invoice numbers).
    ``portal_url``: the contact's personal portal link (services/portal_links.py), shown with an invitation.
    """
    chosen = message_locale(locale)
    resolved = chosen.templates
    ctx = _context(
        tone, chosen, customer_name, lines, seller, today,
        contact_name=contact_name, deadline=deadline, promise_date=promise_date, payment_reference=payment_reference,
        portal_url=portal_url,
    )
    text_env, html_env = _environment(False), _environment(True)
    strings = _select(text_env, resolved, "strings.j2").name
    subject = _SPACES.sub(" ", _select(text_env, resolved, "subject.j2").render(ctx, strings=strings)).strip()
    ctx["subject"] = subject
    text = _select(text_env, resolved, "txt.j2").render(ctx, strings=strings)
    text = _BLANK_LINES.sub("\n\n", text).strip() + "\n"
    html = _select(html_env, resolved, "html.j2").render(ctx, strings=strings)
    return RenderedEmail(subject=subject, html=html, text=text, locale=resolved)


def render_reminder_sms(
    tone: str,
    locale: str | None,
    customer_name: str,
    lines: Sequence[InvoiceLine],
    seller: Seller,
    today: date,
    *,
    deadline: date | None = None,
    promise_date: date | None = None,
    gsm7: bool = True,
    portal_url: str | None = None,
) -> str:
    """A short reminder: one invoice in full, several summarised ("3 invoices, total ..."), with a pay link
    when there is one (else the personal portal link ``portal_url``, when there is one).
    With ``gsm7`` (the default) characters GSM-7 lacks are replaced (``to_gsm7``) so the
    message stays in 160-character segments; check the result with ``sms_segments``."""
    chosen = message_locale(locale)
    resolved = chosen.templates
    ctx = _context(
        tone, chosen, customer_name, lines, seller, today,
        contact_name=None, deadline=deadline, promise_date=promise_date, payment_reference=None,
        portal_url=portal_url,
    )
    text = _SPACES.sub(" ", _select(_environment(False), resolved, "sms.j2").render(ctx)).strip()
    return to_gsm7(text) if gsm7 else text


def reset_caches() -> None:
    """Forget the templates folder, locales and environments (tests that move or add templates)."""
    caches: tuple[Callable[..., Any], ...] = (templates_dir, available_locales, _environment)
    for fn in caches:
        fn.cache_clear()  # type: ignore[attr-defined]
