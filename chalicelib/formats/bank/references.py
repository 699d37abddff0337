"""Candidate invoice numbers from remittance text, and ISO 11649 creditor references (RF).

`extract_references` over-reports on purpose: it returns every token that *could* be an invoice
number and the matcher keeps those that exist. A missed invoice number costs a human's time; a
spurious candidate costs one lookup. What it leaves out is what is plainly not an invoice number.

Heuristics, in order:

1. **RF creditor references** (ISO 11649), in capitals as printed, compact (``RF18539007547034``) or
   in groups of four (``RF18 5390 0754 7034``): when the check digits verify, the embedded reference
   (``539007547034``) is a candidate and the groups it was written in are not tokens of their own.
   An RF whose check digits fail is not decoded.
2. **Tokens** are maximal runs of letters and digits joined by single ``-`` ``/`` ``_`` ``.``
   (``INV-2026-1001``, ``2026/0042``, ``RE.2026.17``); surrounding punctuation is dropped.
   A token is a candidate when it has at least one digit, is 3 to 35 characters long, and
   * contains a letter (``INV-2026-1001``, ``INV20261001``, ``PO-88121``), unless it is a valid IBAN,
     an amount with a currency code (``EUR4000``, ``EUR4000.00``) or the ``RF18`` head of a grouped
     RF reference, or
   * is digits joined by ``-`` or ``/`` that do not read as a date (``2026/0042`` yes;
     ``2026-11-20``, ``20/11/2026``, ``11/2026`` no), or
   * is plain digits (at least 4) right after an invoice keyword (``Rechnung 10042``,
     ``Invoice No. 10042``, ``Facture n° 10042``, ``#10042``). Plain numbers elsewhere are amounts,
     account numbers, postcodes or phone numbers far more often than invoice numbers.
   Digits joined by ``.`` are amounts or dates (``4000.00``, ``20.11.2026``) and never candidates.
3. Candidates keep their spelling and first-seen order; duplicates (case-insensitive) are dropped.

The matcher should compare ignoring case and separators: an RF reference cannot carry ``-`` or
``/``, so ``INV-2026-1001`` travels inside an RF as ``INV20261001``.
"""

from __future__ import annotations

import re
from datetime import date

from chalicelib.domain.currencies import is_known_currency

_TOKEN = re.compile(r"#?[A-Za-z0-9]+(?:[-/_.][A-Za-z0-9]+)*")
# Compact, or the print form: groups of four after "RFdd", the last group 1 to 4 characters.
_RF_SPACED = re.compile(r"\bRF\d{2}(?:[A-Z0-9]{1,21}|(?: [A-Z0-9]{4}){0,5} [A-Z0-9]{1,4})\b")
_RF_COMPACT = re.compile(r"^RF(\d{2})([A-Z0-9]{1,21})$")
_SINGLE_TOKEN = re.compile(r"^[A-Za-z0-9]+(?:[-/_.][A-Za-z0-9]+)*$")
_RF_PREFIX = re.compile(r"^RF\d{2}$", re.IGNORECASE)  # the head of an RF written in groups
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_CURRENCY_AMOUNT = re.compile(r"^([A-Za-z]{3})\d+(?:[.,]\d+)?$")
_DIGIT_GROUPS = re.compile(r"^\d+(?:[-/]\d+)+$")
_KEYWORDS = frozenset({
    "invoice", "inv", "invoices", "invoiceno", "invno", "bill", "rechnung", "rechnungen", "rechnungsnr",
    "rechnungsnummer", "re", "re-nr", "re.nr", "renr", "rg", "rg-nr", "rg.nr", "rgnr", "rnr", "facture",
    "factures", "fact", "factuur", "factuurnr", "fattura", "factura", "faktura", "fakturanr", "lasku", "nota",
})
_NUMBER_WORDS = frozenset({"no", "nr", "n", "num", "number", "nummer", "numero", "nro"})


# ---------------------------------------------------------------- ISO 11649


def _mod97(text: str) -> int:
    """ISO 7064 MOD 97-10 over letters (A=10 ... Z=35) and digits."""
    return int("".join(str(int(ch, 36)) for ch in text)) % 97


def _compact(reference: str) -> str:
    return "".join(reference.split()).upper()


def is_valid_rf(reference: str) -> bool:
    """True for an ISO 11649 creditor reference whose check digits verify, written compactly or in
    groups (``RF18 5390 0754 7034``)."""
    compact = _compact(reference)
    match = _RF_COMPACT.match(compact)
    if match is None:
        return False
    check, payload = match.groups()
    return _mod97(payload + "RF" + check) == 1


def rf_payload(reference: str) -> str | None:
    """The reference embedded in a valid RF (``RF18539007547034`` -> ``539007547034``), else None."""
    return _compact(reference)[4:] if is_valid_rf(reference) else None


def rf_reference(payload: str) -> str:
    """The ISO 11649 reference for `payload` (letters and digits, at most 21), compact form."""
    body = _compact(payload)
    if not re.fullmatch(r"[A-Z0-9]{1,21}", body):
        raise ValueError("an RF payload is 1 to 21 letters or digits (no separators)")
    check = 98 - _mod97(body + "RF00")
    return f"RF{check:02d}{body}"


def format_rf(reference: str) -> str:
    """Print form: groups of four (``RF18 5390 0754 7034``)."""
    compact = _compact(reference)
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def _is_valid_iban(token: str) -> bool:
    upper = token.upper()
    if not _IBAN.match(upper) or upper.startswith("RF"):  # "RF" is no country; an RF reference checks alike
        return False
    return _mod97(upper[4:] + upper[:4]) == 1


# ---------------------------------------------------------------- extraction


def _looks_like_date(token: str) -> bool:
    parts = re.split(r"[-/]", token)
    numbers = [int(p) for p in parts]
    if len(parts) == 2:  # 11/2026, 2026-11
        a, b = numbers
        return (1 <= a <= 12 and len(parts[1]) == 4 and 1900 <= b <= 2199) or \
               (len(parts[0]) == 4 and 1900 <= a <= 2199 and 1 <= b <= 12 and len(parts[1]) <= 2)
    if len(parts) != 3:
        return False
    orders = ((0, 1, 2), (2, 1, 0), (2, 0, 1))  # Y-M-D, D-M-Y, M-D-Y
    for y, m, d in orders:
        year = numbers[y] + (2000 if len(parts[y]) == 2 else 0)
        if len(parts[y]) not in (2, 4) or len(parts[m]) > 2 or len(parts[d]) > 2:
            continue
        try:
            date(year, numbers[m], numbers[d])
        except ValueError:
            continue
        return True
    return False


def _keyword_before(words: list[str], index: int) -> bool:
    """An invoice keyword directly before token `index`, optionally followed by 'No'/'Nr'/'n°'."""
    back = index - 1
    if back >= 0 and words[back] in _NUMBER_WORDS:
        back -= 1
    return back >= 0 and words[back] in _KEYWORDS


def _candidate(token: str, after_keyword: bool) -> bool:
    if not any(ch.isdigit() for ch in token) or not 3 <= len(token) <= 35:
        return False
    if any(ch.isalpha() for ch in token):
        if _is_valid_iban(token) or _RF_PREFIX.match(token):
            return False
        amount = _CURRENCY_AMOUNT.match(token)
        return not (amount and is_known_currency(amount.group(1).upper()))
    if token.isdigit():
        return after_keyword and len(token) >= 4
    if _DIGIT_GROUPS.match(token):
        return not _looks_like_date(token)
    return False  # digits with dots: amounts, dates, version numbers


def _rf_candidates(text: str) -> list[tuple[str, int, int]]:
    """(payload, start, end) of each valid RF reference in `text`."""
    found = []
    for match in _RF_SPACED.finditer(text):
        groups = match.group(0).split(" ")
        # The pattern may swallow a following short word: keep the longest prefix that verifies.
        for end in range(len(groups), 0, -1):
            payload = rf_payload("".join(groups[:end]))
            if payload is not None:
                found.append((payload, match.start(), match.start() + len(" ".join(groups[:end]))))
                break
    return found


def explicit_reference(text: str) -> tuple[str, ...]:
    """A field meant to hold just a reference (a CSV reference column, an end-to-end id): the whole
    value when it is a single token with a digit, even plain digits (``10042``), which free text only
    yields after an invoice keyword. Dates and amounts are still refused. Else ()."""
    value = text.strip().lstrip("#")
    if not _SINGLE_TOKEN.match(value):
        return ()
    if value.isdigit():
        return (value,) if 1 <= len(value) <= 35 else ()
    return (value,) if _candidate(value, after_keyword=True) else ()


def extract_references(text: str) -> tuple[str, ...]:
    """Tokens of free remittance text that may be invoice numbers (see the module docstring)."""
    if not text:
        return ()
    rf = _rf_candidates(text)
    found: list[str] = [payload for payload, _, _ in rf]
    # The groups of an RF written with spaces are not references of their own.
    grouped = [(start, end) for _, start, end in rf if " " in text[start:end]]
    matches = [m for m in _TOKEN.finditer(text) if not any(start <= m.start() and m.end() <= end
                                                            for start, end in grouped)]
    tokens = [match.group(0) for match in matches]
    words = [token.lstrip("#").lower() for token in tokens]
    for index, token in enumerate(tokens):
        keyword = token.startswith("#") or _keyword_before(words, index)
        bare = token.lstrip("#")
        if _candidate(bare, keyword):
            found.append(bare)
    return unique_references(found)


def unique_references(tokens: list[str]) -> tuple[str, ...]:
    """First spelling of each reference, compared without regard to case, in the order found."""
    seen: set[str] = set()
    unique = []
    for token in tokens:
        if token.upper() not in seen:
            seen.add(token.upper())
            unique.append(token)
    return tuple(unique)
