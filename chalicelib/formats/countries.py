"""Country codes from what ERPs write in an address's country cell: an ISO 3166-1 alpha-2 code, or a country
name in English, German, French, Spanish, Dutch or Italian (Xero and QuickBooks keep free text), or a common
short form (UK, USA). Names come from Babel's CLDR data, loaded once, on first use."""

from __future__ import annotations

import re
from functools import cache

_ALPHA2 = re.compile(r"^[A-Za-z]{2}$")
_LANGUAGES = ("en", "de", "fr", "es", "nl", "it")
_ALIASES = {
    "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "usa": "US", "u s a": "US", "u s": "US", "united states of america": "US", "america": "US",
    "holland": "NL", "the netherlands": "NL", "czech republic": "CZ", "uae": "AE",
}


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


@cache
def _names() -> dict[str, str]:
    from babel import Locale

    names: dict[str, str] = {}
    for language in _LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if _ALPHA2.match(code) and code.isupper():
                names.setdefault(_key(name), code)
    names.update(_ALIASES)
    return names


@cache
def _codes() -> frozenset[str]:
    return frozenset(_names().values())


def country_code(text: str) -> str | None:
    """``"de"`` -> ``DE``; ``"New Zealand"``, ``"Neuseeland"`` -> ``NZ``; ``"UK"`` -> ``GB``; unknown -> None."""
    clean = text.strip()
    if _ALPHA2.match(clean) and clean.upper() in _codes():
        return clean.upper()
    return _names().get(_key(clean))


def country_name(code: str, locale: object) -> str:
    """The country's name in `locale` (a Babel Locale), or the code when CLDR has none."""
    territories: dict[str, str] = getattr(locale, "territories", {})
    return territories.get(code, code)
