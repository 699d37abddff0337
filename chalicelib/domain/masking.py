"""Contact addresses as logs and audit data show them: enough to tell two apart, not enough to write to.

``jane.doe@example.com`` -> ``j***@example.com``, ``+4915112345678`` -> ``+491***78``. The domain stays:
it is what an operator needs to see a provider-wide bounce wave. Used by every log line that names an address
(chalicelib/observability.py masks whatever a log line still carries as a last resort)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Deliberately loose: anything shaped like an address is masked, even if SES would refuse it.
EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?:\.[A-Za-z]{2,})?")


def mask(destination: str) -> str:
    """One email address or phone number, masked."""
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain}"
    return destination[:4] + "***" + destination[-2:]


def mask_all(destinations: Iterable[str]) -> list[str]:
    return [mask(d) for d in destinations]


def mask_emails_in(text: str) -> str:
    """Every email address inside free text masked (``bounce for ap@acme.example`` -> ``... a***@acme.example``),
    and every personal portal link's token (``/portal/open/<token>`` -> ``/portal/open/***``)."""
    text = mask_portal_tokens_in(text)
    if "@" not in text:
        return text
    return EMAIL.sub(lambda m: mask(m.group(0)), text)


PORTAL_TOKEN = re.compile(r"(/portal/open/)[^\s?#/\"']+")


def mask_portal_tokens_in(text: str) -> str:
    """A personal portal link's token is a bearer secret: never in a log line (services/portal_links.py)."""
    return PORTAL_TOKEN.sub(r"\1***", text) if "/portal/open/" in text else text
