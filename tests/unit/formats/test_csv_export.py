import csv
import io

import pytest

from chalicelib.formats.csv_export import safe_cell, to_csv


@pytest.mark.parametrize("dangerous", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "=HYPERLINK(\"http://x\")"])
def test_a_cell_a_spreadsheet_would_run_is_prefixed(dangerous: str) -> None:
    assert safe_cell(dangerous) == "'" + dangerous


@pytest.mark.parametrize("plain", ["ACME GmbH", "12.50", "2026-01-31", "", "a=b"])
def test_plain_cells_are_kept(plain: str) -> None:
    assert safe_cell(plain) == plain


def test_the_file_is_quoted_csv_with_a_bom_and_reads_back() -> None:
    text = to_csv(["customer", "total"], [["Smith, \"Jr\"", "10.00"], ["=evil()", None]])
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows == [["customer", "total"], ["Smith, \"Jr\"", "10.00"], ["'=evil()", ""]]
