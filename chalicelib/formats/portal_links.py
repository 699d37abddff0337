"""The email that carries a personal portal link (staff's "send a fresh link", the expired-link page). Pure: data in,
text out. Templates: `templates/<locale>/portal_link.{subject,txt,html}.j2` (en, de, fr, es), looked up like the
receipts' (messages.locale_chain), the expiry date formatted by Babel in the wording's language."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from chalicelib.formats.messages import Seller, _environment, format_day, locale_chain, message_locale


@dataclass(frozen=True)
class LinkEmail:
    subject: str
    html: str
    text: str

_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


def render_portal_link_email(locale: str | None, customer_name: str, contact_name: str | None, url: str,
                             expires_at: datetime, seller: object) -> LinkEmail:
    assert isinstance(seller, Seller)
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError("a portal link must be an http(s) URL")
    chosen = message_locale(locale)
    context = {
        "lang": chosen.lang, "customer_name": customer_name, "contact_name": contact_name, "url": url,
        "expires_on": format_day(expires_at.date(), chosen.formatting, "long"),
        "seller": {"name": seller.name, "email": seller.email, "phone": seller.phone or "",
                   "address_lines": list(seller.address_lines)},
    }

    def pick(html: bool, suffix: str) -> str:
        env = _environment(html)
        names = [f"{loc}/portal_link.{suffix}" for loc in locale_chain(chosen.templates)]
        return str(env.select_template(names).render(context))

    subject = _SPACES.sub(" ", pick(False, "subject.j2")).strip()
    text = _BLANK_LINES.sub("\n\n", pick(False, "txt.j2")).strip() + "\n"
    return LinkEmail(subject, pick(True, "html.j2"), text)
