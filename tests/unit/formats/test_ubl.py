"""UBL 2.1 / Peppol BIS 3 invoices and credit notes, and hostile XML."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.invoice import DocumentKind
from chalicelib.domain.money import Money
from chalicelib.formats import RowError, UnreadableFile

from .conftest import EXAMPLES, errors, items, records

BASE = (EXAMPLES / "peppol-base-example.xml").read_text(encoding="utf-8")
DUE = "    <cbc:DueDate>2017-12-01</cbc:DueDate>\n"
TERMS = "<cbc:Note>Payment within 10 days, 2% discount</cbc:Note>"


def variant(*replacements: tuple[str, str]) -> str:
    text = BASE
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    return text


def one(text: str):
    found = items(text, "doc.xml")
    assert len(found) >= 1
    return found


def test_missing_due_date_derived_from_understood_terms():
    (record,) = one(variant((DUE, ""), (TERMS, "<cbc:Note>Net 30</cbc:Note>")))
    assert record.document.due_date == date(2017, 12, 13) and record.document.due_date_derived
    assert record.payment_terms_text is None


def test_missing_due_date_with_terms_not_understood_is_left_to_the_service():
    (record,) = one(variant((DUE, "")))
    assert record.document.due_date is None and not record.document.due_date_derived
    assert record.payment_terms_text == "Payment within 10 days, 2% discount"


def test_credit_note_due_date_from_payment_means():
    cn = (EXAMPLES / "peppol-base-creditnote-correction.xml").read_text(encoding="utf-8")
    (record,) = one(cn)
    assert record.document.kind is DocumentKind.CREDIT_NOTE and record.document.due_date is None


def test_prepaid_amount_is_paid_in_source_and_payable_is_the_balance():
    (record,) = one(variant(
        ('<cbc:PayableAmount currencyID="EUR">1656.25</cbc:PayableAmount>',
         '<cbc:PrepaidAmount currencyID="EUR">656.25</cbc:PrepaidAmount>\n'
         '        <cbc:PayableAmount currencyID="EUR">1000.00</cbc:PayableAmount>'),
    ))
    assert record.document.total == Money.of("1656.25", "EUR")
    assert record.document.paid_in_source == Money.of("656.25", "EUR")


def test_amount_in_another_currency_is_a_row_error():
    (error,) = one(variant(('<cbc:PayableAmount currencyID="EUR">', '<cbc:PayableAmount currencyID="SEK">')))
    assert isinstance(error, RowError)
    assert error.line == 0 and error.number == "Snippet1" and error.value == "SEK"
    assert error.field.endswith("PayableAmount/@currencyID")


def test_negative_invoice_is_imported_as_a_credit_note():
    payable = '<cbc:PayableAmount currencyID="EUR">'
    (record,) = one(variant((f"{payable}1656.25<", f"{payable}-100.00<")))
    assert record.document.kind is DocumentKind.CREDIT_NOTE
    assert record.document.total == Money.of("100.00", "EUR")


def test_document_errors_are_all_reported():
    found = one(variant(
        ("<cbc:IssueDate>2017-11-13</cbc:IssueDate>", "<cbc:IssueDate>13.11.2017</cbc:IssueDate>"),
        ("<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
         "<cbc:DocumentCurrencyCode>EURO</cbc:DocumentCurrencyCode>"),
        ("<cbc:ElectronicMail>lj@buyer.se<", "<cbc:ElectronicMail>lj at buyer<"),
    ))
    assert records(found) == []
    fields = sorted(e.field for e in errors(found))
    assert fields == ["cac:AccountingCustomerParty/cac:Party/cac:Contact/cbc:ElectronicMail",
                      "cbc:DocumentCurrencyCode", "cbc:IssueDate"]


def test_due_before_issue_is_a_row_error():
    (error,) = one(variant(("<cbc:DueDate>2017-12-01</cbc:DueDate>", "<cbc:DueDate>2017-01-01</cbc:DueDate>")))
    assert isinstance(error, RowError) and error.field == "due_date"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<Invoice><cbc:ID>1</Invoice>", "malformed XML"),
        ('<?xml version="1.0"?><Order xmlns="urn:x"/>', "expected a UBL 2.1 Invoice"),
        ("", "empty"),
    ],
)
def test_unreadable_xml(text, reason):
    with pytest.raises(UnreadableFile, match=reason):
        items(text, "doc.xml")


def test_billion_laughs_is_refused():
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
        ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
        '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol3;</Invoice>'
    )
    with pytest.raises(UnreadableFile, match="DTD or entities"):
        items(bomb, "doc.xml")


def test_external_entity_is_refused():
    xxe = (
        '<?xml version="1.0"?>\n<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><ID>&xxe;</ID></Invoice>'
    )
    with pytest.raises(UnreadableFile, match="DTD or entities"):
        items(xxe, "doc.xml")


def test_oversized_xml_is_refused(monkeypatch):
    monkeypatch.setattr("chalicelib.formats.ubl.MAX_BYTES", 1000)
    with pytest.raises(UnreadableFile, match="larger than"):
        items(BASE, "doc.xml")
