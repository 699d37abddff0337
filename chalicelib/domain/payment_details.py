"""How a customer pays the seller: the bank account (IBAN, BIC) and the hosted payment link template.

Checked once, when the settings are read, so a typo in a deployment parameter stops the stage at start
instead of printing a wrong account under every reminder. Pure: no AWS, no environment.
"""

from __future__ import annotations

import re
import string
from urllib.parse import urlsplit

# ISO 13616 IBAN lengths per country, as the SWIFT IBAN registry lists them. A country missing here is refused:
# an IBAN of a country without IBANs is a typo, and the registry changes rarely enough to update by hand.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

PAY_URL_PLACEHOLDERS = ("invoice_id", "number")

_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")
# ISO 9362:2014: institution (4, letters or digits since 2014), country (2 letters), location (2), branch (3,
# optional; "XXX" is the head office).
_BIC_SHAPE = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_SEPARATORS = re.compile(r"[\s\-]+")


class InvalidPaymentDetail(ValueError):
    """A seller payment setting that cannot be right; the message says which rule it breaks."""


def normalise_iban(value: str) -> str:
    """The IBAN in its electronic form (``DE89370400440532013000``), or InvalidPaymentDetail.

    Accepts the printed form with spaces (``DE89 3704 0044 0532 0130 00``) and lower case."""
    compact = _SEPARATORS.sub("", value).upper()
    if not _IBAN_SHAPE.fullmatch(compact):
        raise InvalidPaymentDetail("an IBAN is a 2-letter country code, 2 check digits and letters or digits")
    country = compact[:2]
    expected = IBAN_LENGTHS.get(country)
    if expected is None:
        raise InvalidPaymentDetail(f"{country} is not a country with IBANs (ISO 13616 registry)")
    if len(compact) != expected:
        raise InvalidPaymentDetail(f"an IBAN of {country} has {expected} characters, this one {len(compact)}")
    if _mod97(compact[4:] + compact[:4]) != 1:
        raise InvalidPaymentDetail("the check digits do not match (ISO 13616 mod 97): a character is wrong")
    return compact


def _mod97(rearranged: str) -> int:
    # Letters count as two digits (A = 10 ... Z = 35); int(c, 36) is exactly that mapping.
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97


def normalise_bic(value: str) -> str:
    compact = _SEPARATORS.sub("", value).upper()
    if not _BIC_SHAPE.fullmatch(compact):
        raise InvalidPaymentDetail("a BIC (ISO 9362) is 8 or 11 characters: bank (4), country (2 letters), "
                                   "location (2), optional branch (3)")
    return compact


def check_pay_url_template(value: str) -> str:
    """An https URL whose only placeholders are ``{invoice_id}`` and ``{number}`` (each optional)."""
    template = value.strip()
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as exc:  # an unmatched "{" or "}"
        raise InvalidPaymentDetail(f"not a template: {exc}; write a literal brace as {{{{ or }}}}") from None
    for name, spec, conversion in fields:
        if name not in PAY_URL_PLACEHOLDERS or spec or conversion:
            known = ", ".join(f"{{{p}}}" for p in PAY_URL_PLACEHOLDERS)
            raise InvalidPaymentDetail(f"unknown placeholder {{{name}{'!' + conversion if conversion else ''}"
                                       f"{':' + spec if spec else ''}}}: only {known}")
    example = template.format(**{p: "X" for p in PAY_URL_PLACEHOLDERS})
    parts = urlsplit(example)
    if parts.scheme != "https" or not parts.hostname or any(ch.isspace() for ch in example):
        raise InvalidPaymentDetail("the pay link must be an https:// URL with a host and no spaces")
    return template


def way_to_pay_missing(iban: str | None, pay_url_template: str | None) -> str | None:
    """Why no reminder may be sent with these settings, or None: a reminder must say how to pay."""
    if iban or pay_url_template:
        return None
    return ("no way to pay: neither SELLER_IBAN nor PAY_URL_TEMPLATE is set for this stage, so reminders "
            "would tell customers to pay without saying how")
