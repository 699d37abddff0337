"""Every built-in mapping and format on the example files users are told to start from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chalicelib.domain.invoice import DocumentKind
from chalicelib.domain.money import Money
from chalicelib.formats import parse_file

from .conftest import EXAMPLES, errors, example, records


def by_number(found):
    return {r.document.number: r for r in records(found)}


def test_dunwell_csv_example():
    found = example("dunwell-invoices.csv")
    assert errors(found) == []
    docs = by_number(found)
    assert len(docs) == 14
    assert {r.document.currency for r in docs.values()} == {"EUR", "GBP", "USD", "JPY"}
    first = docs["INV-2026-1001"]
    assert first.line == 2
    assert first.document.total == Money.of("4250.00", "EUR")
    assert first.document.due_date == date(2026, 11, 4)
    assert first.customer.customer_id == "C-1001"
    assert first.customer.name == "Müller Maschinenbau GmbH"
    assert first.customer.contacts[0].email == "buchhaltung@mueller-maschinenbau.de"
    assert first.customer.contacts[0].phone == "+49301234567"
    assert (first.customer.language, first.customer.timezone, first.customer.country) == ("de", "Europe/Berlin", "DE")
    assert first.customer.payment_terms is not None and first.customer.payment_terms.net_days == 30
    # quoted thousands separator, and the due date derived from Net 45
    derived = docs["INV-2026-1003"].document
    assert derived.total == Money.of("12400.00", "USD")
    assert derived.due_date == date(2026, 11, 26) and derived.due_date_derived
    assert docs["INV-2026-1011"].document.total == Money.of(1240000, "JPY")
    assert docs["INV-2026-1011"].document.paid_in_source == Money.of(240000, "JPY")
    assert docs["INV-2026-1010"].document.void
    credit = docs["CN-2026-0041"].document
    assert credit.kind is DocumentKind.CREDIT_NOTE and credit.applies_to == "INV-2026-1001"
    assert docs["INV-2026-1008"].customer.payment_terms.discount_percent == Decimal(2)


def test_dunwell_csv_with_errors_reports_each_bad_row():
    found = example("dunwell-with-errors.csv")
    good = by_number(found)
    # the repeated INV-2026-2011 (line 13, another total) is the ingest service's to judge: it compares
    # fingerprints and tells an identical repeat from a conflicting one
    assert set(good) == {"INV-2026-2001", "INV-2026-2011", "INV-2026-2015"}
    assert [r.line for r in records(found) if r.document.number == "INV-2026-2011"] == [12, 13]
    by_line = {}
    for e in errors(found):
        by_line.setdefault(e.line, []).append(e)
    assert {line: [e.field for e in errs] for line, errs in by_line.items()} == {
        3: ["issue_date"], 4: ["currency"], 5: ["total"], 6: ["total"], 7: ["email"], 8: ["terms"],
        9: ["customer_name"], 10: ["due_date"], 11: [None], 14: ["phone"],
        15: ["timezone"], 16: ["amount_paid"],
    }
    bad_date = by_line[3][0]
    assert bad_date.value == "2026-13-01" and bad_date.number == "INV-2026-2002"
    assert "YYYY-MM-DD" in bad_date.reason
    assert "decimal places" in by_line[6][0].reason
    assert "unquoted" in by_line[11][0].reason and by_line[11][0].number == "INV-2026-2010"


def test_xero_export_example():
    parsed = parse_file((EXAMPLES / "xero-export.csv").open("rb"), "xero-export.csv")
    assert parsed.mapping == "xero_export"
    found = list(parsed.items)
    docs = by_number(found)
    assert set(docs) == {"INV-0451", "INV-0452", "INV-0453", "CN-0012", "INV-0454", "INV-0455", "INV-0457"}
    two_lines = docs["INV-0451"]
    assert two_lines.line == 2
    assert two_lines.document.total == Money.of("294.00", "GBP")
    assert two_lines.document.issue_date == date(2026, 10, 14)  # 14/10/2026, day first
    assert two_lines.document.buyer_reference == "PO 2231"
    assert docs["INV-0452"].document.paid_in_source == Money.of("440.00", "GBP")
    assert docs["INV-0453"].document.paid_in_source == docs["INV-0453"].document.total
    assert docs["CN-0012"].document.kind is DocumentKind.CREDIT_NOTE
    assert docs["CN-0012"].document.total == Money.of("60.00", "GBP")
    assert docs["INV-0454"].document.void
    # the row after a description with a quoted newline starts one physical line later
    assert docs["INV-0455"].line == 10 and docs["INV-0457"].line == 13
    skipped = {e.number: e for e in errors(found)}
    assert set(skipped) == {"PM-7781", "INV-0456"}
    assert skipped["PM-7781"].field == "Type" and skipped["PM-7781"].reason.startswith("skipped")
    assert skipped["INV-0456"].field == "Status" and skipped["INV-0456"].value == "Draft"


def test_xero_import_template_sums_lines_with_discount_and_tax():
    parsed = parse_file((EXAMPLES / "xero-import-template.csv").open("rb"), "xero-import-template.csv")
    assert parsed.mapping == "xero_import"
    found = list(parsed.items)
    assert errors(found) == []
    docs = by_number(found)
    # 12 x 24.95 + 29.94 tax, 3 x 110.00 less 10% + 29.70 tax
    assert docs["INV-1201"].document.total == Money.of("656.04", "AUD")
    assert docs["INV-1202"].document.total == Money.of("2035.00", "AUD")
    assert docs["INV-1203"].document.total == Money.of("454.24", "NZD")
    assert docs["INV-1203"].line == 5
    assert docs["INV-1201"].document.due_date == date(2026, 11, 20)


def test_quickbooks_online_example():
    parsed = parse_file((EXAMPLES / "quickbooks-online.csv").open("rb"), "quickbooks-online.csv")
    assert parsed.mapping == "quickbooks_online"
    found = list(parsed.items)
    assert errors(found) == []
    docs = by_number(found)
    first = docs["1001"].document
    assert first.total == Money.of("622.44", "USD")  # 150.00 + 425.00 + 12.38 + 35.06 tax
    assert first.issue_date == date(2026, 11, 2)  # 11/02/2026 is month first in QBO US
    assert docs["1001"].customer.name == "Pinecrest Dental"  # continuation rows leave it blank
    derived = docs["1002"].document
    assert derived.total == Money.of("2400.00", "USD")
    assert derived.due_date == date(2026, 12, 20) and derived.due_date_derived
    assert docs["1003"].document.total == Money.of("1195.42", "USD")  # "$1,150.50" and a "(50.00)" line
    assert docs["1004"].document.due_date == date(2027, 1, 15)


def test_json_and_jsonl_examples():
    json_docs = by_number(example("invoices.json"))
    jsonl_docs = by_number(example("invoices.jsonl"))
    assert set(json_docs) < set(jsonl_docs)
    for docs in (json_docs, jsonl_docs):
        assert docs["INV-2026-3002"].document.total == Money.of("5480.50", "EUR")
        assert docs["INV-2026-3002"].document.due_date_derived
        assert docs["INV-2026-3002"].customer.customer_id == "C-3002"
        assert docs["INV-2026-3003"].document.total == Money.of(920000, "JPY")
        assert docs["CN-2026-0107"].document.applies_to == "INV-2026-3001"
    assert json_docs["INV-2026-3001"].line == 5
    assert jsonl_docs["INV-2026-3004"].line == 5


def test_peppol_base_example():
    found = example("peppol-base-example.xml")
    assert errors(found) == []
    (record,) = records(found)
    doc = record.document
    assert doc.kind is DocumentKind.INVOICE
    assert doc.number == "Snippet1"
    assert doc.total == Money.of("1656.25", "EUR")
    assert doc.paid_in_source == Money.zero("EUR")
    assert doc.issue_date == date(2017, 11, 13)
    assert doc.due_date == date(2017, 12, 1) and not doc.due_date_derived
    assert doc.buyer_reference == "0150abc"
    customer = record.customer
    assert customer.name == "Buyer Official Name"
    assert customer.contacts[0].email == "lj@buyer.se"
    assert customer.contacts[0].name == "Lisa Johnson"
    assert customer.country == "SE" and customer.tax_id == "SE4598375937"
    assert customer.customer_id == "FR23342"
    assert customer.extra == {"peppol_endpoint": "0002:FR23342", "telephone": "23434234"}


def test_peppol_credit_note_example():
    (record,) = records(example("peppol-base-creditnote-correction.xml"))
    doc = record.document
    assert doc.kind is DocumentKind.CREDIT_NOTE
    assert doc.total == Money.of("1656.25", "EUR")
    assert doc.applies_to == "Snippet1"
    assert doc.due_date is None and record.payment_terms_text is None
