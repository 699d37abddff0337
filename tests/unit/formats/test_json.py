"""Dunwell JSON and JSON Lines."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.money import Money
from chalicelib.formats import RowError, UnreadableFile

from .conftest import errors, items, parse, records

DOC = {"invoice_number": "J-1", "customer_name": "Acme", "issue_date": "2026-10-01", "due_date": "2026-10-31",
       "currency": "EUR", "total": "10.00"}


def doc(**changes):
    return {**DOC, **changes}


def test_array_and_wrapped_forms():
    array = json.dumps([doc(), doc(invoice_number="J-2")])
    assert [r.document.number for r in records(items(array, "a.json"))] == ["J-1", "J-2"]
    wrapped = json.dumps({"version": 1, "meta": {"nested": [1, 2, {"x": "]"}]}, "invoices": [doc()], "after": True})
    (record,) = items(wrapped, "b.json")
    assert record.document.total == Money.of("10.00", "EUR")
    assert items("[]", "c.json") == []


def test_json_numbers_are_exact_decimals_never_floats():
    text = '[{"invoice_number": "J-1", "customer_name": "Acme", "issue_date": "2026-10-01", "currency": "EUR",' \
           ' "total": 0.1, "amount_paid": 1e-1}]'
    (record,) = items(text, "a.json")
    assert record.document.total == Money.of("0.10", "EUR")
    assert record.document.paid_in_source == Money.of("0.10", "EUR")
    too_precise = '[{"invoice_number": "J-1", "customer_name": "Acme", "issue_date": "2026-10-01", ' \
                  '"currency": "JPY", "total": 100.5}]'
    (error,) = items(too_precise, "b.json")
    assert isinstance(error, RowError) and error.field == "total"


@pytest.mark.parametrize(("key", "value"), [("total", True), ("total", [1]), ("customer_name", {"a": 1})])
def test_wrong_types_are_row_errors(key, value):
    (error,) = items(json.dumps([doc(**{key: value})]), "a.json")
    assert isinstance(error, RowError) and error.field == key and error.number == "J-1"


def test_nan_is_not_an_amount():
    text = '[{"invoice_number": "J-1", "customer_name": "Acme", "issue_date": "2026-10-01", "currency": "EUR",' \
           ' "total": NaN}]'
    (error,) = items(text, "a.json")
    assert isinstance(error, RowError) and error.value == "NaN"


def test_unknown_keys_are_refused_so_typos_cannot_drop_data():
    (error,) = items(json.dumps([doc(amount_payed="10.00")]), "a.json")
    assert isinstance(error, RowError) and error.field == "amount_payed" and "unknown key" in error.reason


def test_nested_customer_object():
    nested = {k: v for k, v in DOC.items() if k != "customer_name"}
    nested["customer"] = {"id": "C-9", "name": "Acme GmbH", "email": "ap@acme.de", "timezone": "Europe/Berlin",
                          "terms": "Net 14"}
    del nested["due_date"]
    (record,) = items(json.dumps([nested]), "a.json")
    assert record.customer.customer_id == "C-9" and record.customer.contacts[0].email == "ap@acme.de"
    assert record.document.due_date_derived and record.document.due_date.isoformat() == "2026-10-15"
    both = {**nested, "customer_name": "Acme"}
    (error,) = items(json.dumps([both]), "b.json")
    assert isinstance(error, RowError) and error.field == "customer" and "not both" in error.reason
    nested["customer"]["vat"] = "DE123"
    (error,) = items(json.dumps([nested]), "c.json")
    assert isinstance(error, RowError) and error.field == "customer.vat"


def test_array_items_keep_their_line_and_non_objects_are_row_errors():
    text = '[\n  {"invoice_number": "J-1", "customer_name": "Acme", "issue_date": "2026-10-01",\n' \
           '   "currency": "EUR", "total": "1"},\n  "oops",\n  {"invoice_number": "J-1", "customer_name": "Acme",' \
           ' "issue_date": "2026-10-01", "currency": "EUR", "total": "1"}\n]\n'
    found = items(text, "a.json")
    assert [r.line for r in records(found)] == [2, 5]
    (error,) = errors(found)
    assert error.line == 4 and error.reason.startswith("expected a JSON object")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"data": []}', 'no "invoices"'),
        ("42", "array of documents"),
        ("   ", "empty"),
        ('{"invoices": {"a": 1}}', "expected '\\['"),
    ],
)
def test_whole_file_problems_are_found_up_front(text, reason):
    with pytest.raises(UnreadableFile, match=reason):
        parse(text, "a.json")


def test_broken_json_later_in_the_array_stops_the_iteration():
    text = "[" + json.dumps(doc()) + ",\n" + json.dumps(doc(invoice_number="J-2"))[:-3] + "\n]"
    parsed = parse(text, "a.json")
    found = []
    with pytest.raises(UnreadableFile, match="malformed at line 2"):
        for item in parsed.items:
            found.append(item)
    assert [r.document.number for r in records(found)] == ["J-1"]


def test_trailing_garbage_after_the_array():
    with pytest.raises(UnreadableFile, match="unexpected data"):
        list(parse("[" + json.dumps(doc()) + "] []", "a.json").items)


def test_jsonl_bad_line_is_a_row_error_for_that_line_only():
    text = json.dumps(doc()) + "\n\n{not json}\n[1, 2]\n" + json.dumps(doc(invoice_number="J-2")) + "\r\n"
    found = items(text, "a.jsonl")
    assert [(r.line, r.document.number) for r in records(found)] == [(1, "J-1"), (5, "J-2")]
    assert [(e.line, e.reason[:18]) for e in errors(found)] == [(3, "line is not valid "), (4, "expected a JSON ob")]


def test_jsonl_over_long_line(monkeypatch):
    monkeypatch.setattr("chalicelib.formats.json_parser._MAX_ITEM", 200)
    text = json.dumps(doc(description="x" * 500)) + "\n" + json.dumps(doc(invoice_number="J-2")) + "\n"
    found = items(text, "a.jsonl")
    assert [r.document.number for r in records(found)] == ["J-2"]
    assert records(found)[0].line == 2
    assert "longer than" in errors(found)[0].reason


def _document(total: str) -> str:
    return ('{"invoice_number": "J-1", "customer_name": "Acme", "issue_date": "2026-10-01", '
            f'"due_date": "2026-10-31", "currency": "EUR", "total": {total}}}')


@pytest.mark.parametrize("total", ["9" * 5000, "1e30", "1e999999999", "-1e-999999999", '"\\u0661\\u0662\\u0663"',
                                   '"\\uff11\\uff12\\uff13"', "1" * 16])
@pytest.mark.parametrize("filename", ["a.json", "a.jsonl"])
def test_numbers_the_amount_grammar_refuses_are_rejected_rows(total, filename):
    document = _document(total)
    text = f"[{document}]" if filename == "a.json" else document + "\n"
    (error,) = items(text, filename)
    assert isinstance(error, RowError) and error.field == "total" and error.number == "J-1"
    assert len(error.value or "") <= 5000 and len(error.reason) < 200

