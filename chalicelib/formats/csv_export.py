"""CSV exports for people who open them in a spreadsheet: RFC 4180 quoting, UTF-8 with a BOM (Excel reads the
encoding from it), and cells that a spreadsheet would run as a formula neutralised (OWASP "CSV injection": a
cell starting with =, +, -, @, tab or CR gets a leading apostrophe)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPE = "text/csv; charset=utf-8"


def safe_cell(value: object) -> str:
    """The cell's text; one a spreadsheet would evaluate is prefixed with an apostrophe. Amounts are exported
    unsigned where possible; a negative amount string ("-12.50") is still prefixed, because a spreadsheet
    cannot tell it from "-1+cmd|...": safety wins over convenience."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()
