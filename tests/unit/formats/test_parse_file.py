"""Format choice and whole-file problems."""

from __future__ import annotations

import codecs
import io

import pytest

from chalicelib.formats import UnreadableFile, parse_file

from .conftest import EXAMPLES, errors, items, parse, records

GOOD_ROW = "A-1,Acme,2026-10-01,EUR,10.00\n"
HEADER = "invoice_number,customer_name,issue_date,currency,total\n"


class OnePass(io.RawIOBase):
    """A non-seekable stream like an S3 body."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("name", ["invoices.pdf", "invoices.xlsx", "invoices", "data.csv.gz"])
def test_unknown_extensions_are_refused_or_sniffed(name):
    if name == "invoices":
        assert parse(HEADER + GOOD_ROW, name).format == "csv"
    else:
        with pytest.raises(UnreadableFile, match="unsupported file type"):
            parse(HEADER + GOOD_ROW, name)


def test_format_by_extension_and_sniffing():
    xml = (EXAMPLES / "peppol-base-example.xml").read_bytes()
    assert parse(xml, "incoming/2026/11/INVOICE.XML").format == "ubl"
    assert parse(xml, "drop.txt").format == "ubl"
    assert parse(HEADER + GOOD_ROW, "export.txt").format == "csv"
    jsonl = (EXAMPLES / "invoices.jsonl").read_bytes()
    assert parse(jsonl, "drop.ndjson").format == "jsonl"
    assert parse(jsonl, "drop.txt").format == "jsonl"
    # a JSON Lines file saved as .json is still read line by line
    assert parse(jsonl, "misnamed.json").format == "jsonl"
    assert parse((EXAMPLES / "invoices.json").read_bytes(), "drop.txt").format == "json"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (codecs.BOM_UTF16_LE + "a,b".encode("utf-16-le"), "UTF-16"),
        (b"PK\x03\x04rest-of-zip", "Excel"),
        (b"%PDF-1.7", "PDF"),
        (b"", "empty"),
    ],
)
def test_files_that_are_not_text(data, reason):
    with pytest.raises(UnreadableFile, match=reason):
        parse(data, "invoices.csv")


def test_bad_utf8_deep_in_a_seekable_file_is_found_before_any_row():
    data = (HEADER + GOOD_ROW * 5000).encode() + "A-2,Caf\xe9,2026-10-01,EUR,1\n".encode("latin-1")
    with pytest.raises(UnreadableFile, match=r"not UTF-8.*line 5002"):
        parse_file(io.BytesIO(data), "invoices.csv")


def test_bad_utf8_in_a_one_pass_stream_stops_the_iteration():
    good = "".join(f"A-{i},Acme,2026-10-01,EUR,10.00\n" for i in range(10_000))
    data = (HEADER + good).encode() + "B-1,Caf\xe9,2026-10-01,EUR,1\n".encode("latin-1")
    parsed = parse_file(io.BufferedReader(OnePass(data)), "invoices.csv")
    found = []
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        for item in parsed.items:
            found.append(item)
    assert 0 < len(found) < 10_000


def test_bad_utf8_in_the_header_of_a_one_pass_stream():
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        parse_file(io.BufferedReader(OnePass("Rechnungs-Nr,Kunde,Betrag in \xe4\n".encode("latin-1"))), "x.csv")


def test_the_callers_stream_is_left_open():
    stream = io.BytesIO((HEADER + GOOD_ROW).encode())
    found = list(parse_file(stream, "x.csv").items)
    assert len(records(found)) == 1
    assert not stream.closed


def test_mapping_name_is_reported_and_ignored_for_other_formats():
    assert parse(HEADER + GOOD_ROW, "x.csv").mapping == "dunwell"
    assert parse((EXAMPLES / "invoices.jsonl").read_bytes(), "x.jsonl", mapping_name="xero_export").mapping is None


def test_txt_with_semicolons_uses_the_sap_mapping():
    data = "Customer;Name 1;Document Number;Document Type;Document Date;Net Due Date;Amount in Doc. Curr.;" \
           "Document currency\n100;Weber KG;1800;RV;01.11.2026;01.12.2026;10,00;EUR\n"
    parsed = parse(data, "fbl5n.txt")
    assert parsed.mapping == "sap_fbl5n"
    assert errors(list(parsed.items)) == []


def test_items_are_one_shot_iterators():
    parsed = parse(HEADER + GOOD_ROW, "x.csv")
    assert iter(parsed.items) is parsed.items
    assert len(items(HEADER + GOOD_ROW)) == 1
