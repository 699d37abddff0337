"""Stable identifiers derived from what the ERP sends, so re-sent data lands on the same record."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _digest(text: str, length: int = 20) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def normalise_number(number: str) -> str:
    """Invoice numbers are compared without surrounding or repeated blanks."""
    return " ".join(number.split())


def invoice_id(number: str) -> str:
    """`INV-0001` stays readable; a number unsafe in a URL becomes `inv~<digest>` ('~' never appears
    in a readable id, so the two forms cannot collide)."""
    clean = normalise_number(number)
    return clean if _SAFE.fullmatch(clean) else f"inv~{_digest(clean)}"


def credit_note_id(number: str) -> str:
    clean = normalise_number(number)
    return f"cn~{clean}" if _SAFE.fullmatch(clean) else f"cn~{_digest(clean)}"


def customer_id_for(explicit_id: str | None, name: str) -> str:
    """The ERP's own customer id when it has one, else a slug of the name (accents folded)."""
    if explicit_id and explicit_id.strip():
        clean = explicit_id.strip()
        return clean if _SAFE.fullmatch(clean) else f"cus~{_digest(clean)}"
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:60]
    return slug if slug else f"cus~{_digest(name.strip().lower())}"


def is_valid_id(value: str) -> bool:
    return bool(_SAFE.fullmatch(value)) or bool(re.fullmatch(r"(inv|cn|cus)~[A-Za-z0-9._-]{1,100}", value))


def reference_key(number: str) -> str:
    """How remittance text may spell an invoice number: case, blanks and separators dropped
    ('inv 2026/1012', 'INV20261012' and 'INV-2026-1012' are one key)."""
    return re.sub(r"[^A-Z0-9]", "", number.upper())
