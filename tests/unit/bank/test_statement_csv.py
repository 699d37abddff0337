"""Dunwell's statement CSV: credits become payments, debits are skipped, bad rows are reported by line."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentKind
from chalicelib.formats.bank import CSV_COLUMNS, BankItem, UnreadableFile, parse_bank_file

from .conftest import EXAMPLES, OneWay, errors, events, items, skipped

HEADER = "date,amount,currency,payer_name,reference,bank_ref\n"


def parse(text: str, filename: str = "statement.csv", seekable: bool = True) -> list[BankItem]:
    return items(text.encode("utf-8"), filename, seekable=seekable)


def test_the_example_statement():
    with (EXAMPLES / "statement.csv").open("rb") as stream:
        statement = parse_bank_file(stream, "bank/statement.csv")
        assert statement.format == "csv"
        found = list(statement.items)
    assert errors(found) == []
    paid = events(found)
    assert [(e.event_id, e.amount, e.references) for e in paid] == [
        ("csv:2026112700001", Money.of("8900.00", "EUR"), ("INV20261012",)),
        ("csv:2026112700002-1", Money.of("980.50", "EUR"), ("INV-2026-1005", "C-1001")),
        ("csv:2026112700002-2", Money.of("615.00", "EUR"), ("INV-2026-1006",)),
        ("csv:2026112700003", Money.of("4000.00", "EUR"), ("INV-2026-1001", "CN-2026-0041")),
        ("csv:GB-2026112800001", Money.of("680.40", "GBP"), ("HF-2231", "INV-2026-1002")),
    ]
    assert paid[-1].payer_name == "Harbour & Finch, Ltd"
    assert paid[0].occurred_at == datetime(2026, 11, 27, tzinfo=UTC)
    assert all(e.provider == "bank" and e.kind is PaymentKind.PAYMENT and e.raw_type == "csv" for e in paid)
    assert paid[0].payment_ref == "2026112700001"
    [fees] = skipped(found)
    assert (fees.line, fees.ref) == (6, "2026112700004") and "debit" in fees.reason


def test_columns_in_any_order_with_extras_bom_and_crlf():
    text = ("\ufeffBank_Ref,Amount,Currency,Date,Reference,Payer_Name,Balance\r\n"
            "B1,10042.00,EUR,2026-11-27,10042,Acme,5\r\n")
    [event] = events(parse(text))
    assert event.amount == Money.of("10042.00", "EUR")
    assert event.references == ("10042",)  # a reference column holding just a number is a candidate
    assert event.payer_name == "Acme"


def test_thousands_separator_and_plus_sign():
    [event] = events(parse(HEADER + '2026-11-27,"+12,400.00",USD,Lakeside Dental Group LLC,INV-2026-1003,B1\n'))
    assert event.amount == Money.of("12400.00", "USD")


def test_bad_rows_are_reported_with_their_physical_line():
    text = HEADER + (
        "2026-11-27,100.00,EUR,A,INV-1,B1\n"  # line 2: good
        '2026-11-27,100.00,EUR,"Multi\nline payer",INV-2,B2\n'  # lines 3-4: good
        "27.11.2026,100.00,EUR,A,INV-3,B3\n"  # line 5: date
        "2026-11-27,abc,EUR,A,INV-4,B4\n"  # line 6: amount
        "2026-11-27,100.00,EURO,A,INV-5,B5\n"  # line 7: currency
        "2026-11-27,10.5,JPY,A,INV-6,B6\n"  # line 8: more decimals than JPY has
        "2026-11-27,100.00,EUR,A,INV-7,\n"  # line 9: no bank_ref
        "2026-11-27,100.00,EUR,A,INV-8,B1\n"  # line 10: bank_ref repeated
        "\n"  # line 11: blank, ignored
        "2026-11-27,0.00,EUR,A,INV-9,B9\n"  # line 12: zero, skipped
        "2026-11-31,100.00,EUR,A,INV-10,B10\n"  # line 13: no such date
        "2026-11-27,100.00,EUR\n"  # line 14: short row, no bank_ref
    )
    found = parse(text)
    assert [e.payment_ref for e in events(found)] == ["B1", "B2"]
    assert [(e.line, e.field) for e in errors(found)] == [
        (5, "date"), (6, "amount"), (7, "currency"), (8, "amount"), (9, "bank_ref"), (10, "bank_ref"),
        (13, "date"), (14, "bank_ref")]
    assert errors(found)[0].number == "B3"
    assert [(s.line, s.reason) for s in skipped(found)] == [(12, "zero amount")]


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"),
    ("date,amount,currency\n2026-11-27,1,EUR\n", "bank_ref"),
    ("invoice_number,total\nINV-1,1\n", "expected columns"),
])
def test_wrong_files_are_rejected_before_anything_is_returned(text, reason):
    with pytest.raises(UnreadableFile, match=reason):
        parse_bank_file(io.BytesIO(text.encode()), "statement.csv")


def test_not_utf8_is_rejected_up_front_when_seekable():
    data = (HEADER + "2026-11-27,1.00,EUR,Müller,INV-1,B1\n").encode("latin-1")
    with pytest.raises(UnreadableFile, match="UTF-8"):
        parse_bank_file(io.BytesIO(data), "statement.csv")


def test_not_utf8_deep_in_a_one_way_stream_fails_from_the_iterator():
    good = "".join(f"2026-11-27,1.00,EUR,A,INV-{n},B{n}\n" for n in range(5000))
    data = (HEADER + good).encode() + "2026-11-27,1.00,EUR,Müller,INV-X,BX\n".encode("latin-1")
    iterator = parse_bank_file(OneWay(data), "statement.csv").items
    assert events([next(iterator)])[0].payment_ref == "B0"
    with pytest.raises(UnreadableFile, match="UTF-8"):
        list(iterator)


@pytest.mark.parametrize(("filename", "data"), [
    ("statement.pdf", b"%PDF-1.7"),
    ("statement.sta", b":20:STARTUMSE"),
    ("statement.csv", b"%PDF-1.7 ..."),
    ("statement.csv", b"PK\x03\x04...."),
])
def test_unsupported_files(filename, data):
    with pytest.raises(UnreadableFile):
        parse_bank_file(io.BytesIO(data), filename)


def test_txt_is_sniffed_as_csv():
    statement = parse_bank_file(io.BytesIO((HEADER + "2026-11-27,1.00,EUR,A,INV-1,B1\n").encode()), "s.txt")
    assert statement.format == "csv" and len(events(list(statement.items))) == 1


def test_documented_columns():
    assert CSV_COLUMNS == ("date", "amount", "currency", "payer_name", "reference", "bank_ref")
