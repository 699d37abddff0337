"""Payment receipts: "we received your payment of X, applied to these invoices". Pure: data in, text out.

Templates: `templates/<locale>/receipt.{subject,txt,html}.j2` (en, de, fr, es), looked up most to least
specific tag like the reminders, and, as for them, money and dates formatted in the language the wording is in
(messages.message_locale: regional variants of it where Babel knows them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from chalicelib.formats.messages import (
    RenderedEmail,
    Seller,
    _environment,
    format_day,
    format_money,
    locale_chain,
    message_locale,
)

_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class ReceiptLine:
    number: str
    applied: Decimal
    balance_after: Decimal
    discount: Decimal | None = None  # an early-payment discount this payment earned on the invoice (it settled it)


def render_receipt_email(locale: str | None, customer_name: str, contact_name: str | None, amount: Decimal,
                         currency: str, received_on: date, lines: Sequence[ReceiptLine], unapplied: Decimal,
                         seller: Seller, reference: str, *, portal_url: str | None = None) -> RenderedEmail:
    if portal_url is not None and not portal_url.lower().startswith(("https://", "http://")):
        raise ValueError("portal_url must be an http(s) URL")
    chosen = message_locale(locale)
    resolved, loc = chosen.templates, chosen.formatting
    context = {
        "lang": chosen.lang,
        "customer_name": customer_name, "contact_name": contact_name,
        "amount": format_money(amount, currency, loc), "received_on": format_day(received_on, loc, "long"),
        "lines": [{"number": line.number, "applied": format_money(line.applied, currency, loc),
                   "balance": format_money(line.balance_after, currency, loc), "settled": line.balance_after == 0,
                   "discount": format_money(line.discount, currency, loc) if line.discount else None}
                  for line in lines],
        "unapplied": format_money(unapplied, currency, loc) if unapplied > 0 else None,
        "seller": {"name": seller.name, "email": seller.email, "phone": seller.phone or "",
                   "address_lines": list(seller.address_lines)},
        "reference": reference,
        "portal_url": portal_url,
    }

    def pick(html: bool, suffix: str) -> str:
        env = _environment(html)
        return str(env.select_template([f"{loc_}/receipt.{suffix}" for loc_ in locale_chain(resolved)]).render(context))

    subject = _SPACES.sub(" ", pick(False, "subject.j2")).strip()
    text = _BLANK_LINES.sub("\n\n", pick(False, "txt.j2")).strip() + "\n"
    html = pick(True, "html.j2")
    return RenderedEmail(subject=subject, html=html, text=text, locale=resolved)
