"""CSV quirks, mapping detection, validation and grouping of line-item rows."""

from __future__ import annotations

import codecs
from datetime import date

import pytest

from chalicelib.domain.invoice import DocumentKind
from chalicelib.domain.money import Money
from chalicelib.formats import Mapping, RowError, UnreadableFile

from .conftest import errors, items, mapping, parse, records

DUNWELL_HEADER = "invoice_number,customer_name,issue_date,due_date,currency,total"


def test_bom_crlf_and_quoted_newlines_keep_physical_line_numbers():
    data = (
        codecs.BOM_UTF8
        + (
            f"{DUNWELL_HEADER},buyer_reference\r\n"
            'A-1,"Acme, Inc.",2026-10-01,2026-10-31,EUR,10.00,"first line\r\nsecond line"\r\n'
            "\r\n"
            "A-2,Beta GmbH,2026-10-02,2026-11-01,EUR,20.00,\r\n"
            'A-3,"Gamma\nLtd",2026-10-03,2026-11-02,EUR,oops,\r\n'
            "A-4,Delta SA,2026-10-04,2026-11-03,EUR,40.00,\r\n"
        ).encode()
    )
    found = items(data)
    assert [(r.line, r.document.number) for r in records(found)] == [(2, "A-1"), (5, "A-2"), (8, "A-4")]
    (bad,) = errors(found)
    assert (bad.line, bad.field, bad.value, bad.number) == (6, "total", "oops", "A-3")
    assert records(found)[0].customer.name == "Acme, Inc."
    assert records(found)[0].document.buyer_reference == "first line\r\nsecond line"


def test_header_whitespace_and_required_markers_are_tolerated():
    data = " *Invoice_Number , *Customer Name ,Issue Date,DUE_DATE,currency,*Total\n" \
           "A-1,Acme,2026-10-01,2026-10-31,eur,10\n"
    (record,) = items(data)
    assert record.document.total == Money.of("10.00", "EUR")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('"1,234.56"', "1234.56"),
        ('"€1,234.56"', "1234.56"),
        ("EUR 99.90", "99.90"),
        ('"1,234,567.00"', "1234567.00"),
        ("0.5", "0.50"),
    ],
)
def test_amount_spellings(cell, expected):
    (record,) = items(f"{DUNWELL_HEADER}\nA-1,Acme,2026-10-01,2026-10-31,EUR,{cell}\n")
    assert record.document.total == Money.of(expected, "EUR")


@pytest.mark.parametrize("cell", ["(12.00)", "12.00-", "-12.00"])
def test_negative_totals_are_row_errors_in_every_spelling(cell):
    (error,) = items(f"{DUNWELL_HEADER}\nA-1,Acme,2026-10-01,2026-10-31,EUR,{cell}\n")
    assert isinstance(error, RowError)
    assert error.field == "total" and "negative" in error.reason and error.value == cell


def test_misplaced_thousands_separator_is_a_row_error():
    (error,) = items(f'{DUNWELL_HEADER}\nA-1,Acme,2026-10-01,2026-10-31,EUR,"12,34.00"\n')
    assert isinstance(error, RowError) and error.field == "total" and "thousands" in error.reason


def test_decimal_comma_semicolon_and_trailing_minus_in_sap_export():
    data = (
        "Customer;Name 1;Document Number;Document Type;Document Date;Net Due Date;Amount in Doc. Curr.;"
        "Document currency;Reference;Text\n"
        "100200;Schäfer Bau AG;1800001234;RV;15.10.2026;14.11.2026;1.234,56;EUR;4500012345;Lieferung\n"
        "100200;Schäfer Bau AG;1600000077;DG;20.10.2026;;100,00-;EUR;;Gutschrift\n"
        "100200;Schäfer Bau AG;1400000009;DZ;21.10.2026;;500,00-;EUR;;Zahlung\n"
        "100300;Weber KG;1800001240;RV;02.11.2026;02.12.2026;12,5;EUR;;\n"
    )
    parsed_items = items(data)
    docs = {r.document.number: r for r in records(parsed_items)}
    invoice = docs["1800001234"]
    assert invoice.document.total == Money.of("1234.56", "EUR")
    assert invoice.document.issue_date == date(2026, 10, 15)
    assert invoice.customer.customer_id == "100200"
    credit = docs["1600000077"].document
    assert credit.kind is DocumentKind.CREDIT_NOTE and credit.total == Money.of("100.00", "EUR")
    assert docs["1800001240"].document.total == Money.of("12.50", "EUR")
    (skipped,) = errors(parsed_items)
    assert skipped.number == "1400000009" and skipped.reason.startswith("skipped")


def test_date_order_comes_from_the_mapping_never_from_the_row():
    data = "number,customer,date,amount,currency\nA-1,Acme,01/02/2026,10.00,EUR\nA-2,Acme,13/02/2026,10.00,EUR\n"
    dmy = mapping(name="dmy", date_formats=["%d/%m/%Y"])
    mdy = mapping(name="mdy", date_formats=["%m/%d/%Y"])
    dmy_found = items(data, extra_mappings=[dmy], mapping_name="dmy")
    assert [r.document.issue_date for r in records(dmy_found)] == [date(2026, 2, 1), date(2026, 2, 13)]
    mdy_found = items(data, extra_mappings=[mdy], mapping_name="mdy")
    assert [r.document.issue_date for r in records(mdy_found)] == [date(2026, 1, 2)]
    (error,) = errors(mdy_found)
    assert (error.line, error.field, error.value) == (3, "date", "13/02/2026")
    assert "MM/DD/YYYY" in error.reason


def test_implausible_year_is_rejected():
    (error,) = items(f"{DUNWELL_HEADER}\nA-1,Acme,0026-10-01,2026-10-31,EUR,10\n")
    assert isinstance(error, RowError) and error.field == "issue_date"


def test_due_date_derived_from_terms_and_terms_errors(test_mapping):
    data = (
        "number,customer,date,due,amount,currency,terms\n"
        "A-1,Acme,2026-10-01,,10.00,EUR,2/10 net 30\n"
        "A-2,Acme,2026-10-01,,10.00,EUR,pay when you can\n"
        "A-3,Acme,2026-10-01,,10.00,EUR,\n"
    )
    found = items(data, extra_mappings=[test_mapping])
    derived, undated = records(found)
    assert derived.document.due_date == date(2026, 10, 31) and derived.document.due_date_derived
    assert derived.customer.payment_terms.discount_days == 10
    # no terms and no due date: left for the ingest service (customer's stored terms), not guessed
    assert undated.document.due_date is None and not undated.document.due_date_derived
    (error,) = errors(found)
    assert (error.line, error.field, error.value) == (3, "terms", "pay when you can")


def test_paid_in_source_from_amount_due():
    spec = mapping(columns={"number": "n", "customer_name": "c", "issue_date": "d", "total": "t", "currency": "cur",
                            "amount_due": "due_amount"}, detect=["n"], name="due")
    data = "n,c,d,t,cur,due_amount\nA-1,Acme,2026-10-01,100.00,EUR,30.00\nA-2,Acme,2026-10-01,100.00,EUR,130.00\n"
    found = items(data, extra_mappings=[spec])
    (record,) = records(found)
    assert record.document.paid_in_source == Money.of("70.00", "EUR")
    (error,) = errors(found)
    assert error.field == "due_amount" and "exceeds" in error.reason


def test_every_problem_in_a_row_is_reported():
    data = "invoice_number,customer_name,email,issue_date,currency,total\nA-1,,not-an-email,2026-02-30,EUR,1.001\n"
    found = items(data)
    assert sorted(e.field for e in errors(found)) == ["customer_name", "email", "issue_date", "total"]
    assert all(e.line == 2 and e.number == "A-1" for e in errors(found))


def test_unknown_kind_and_status_values():
    data = "invoice_number,customer_name,issue_date,currency,total,kind,status\n" \
           "A-1,Acme,2026-10-01,EUR,1,quote,open\nA-2,Acme,2026-10-01,EUR,1,invoice,paid-ish\n"
    found = items(data)
    assert [(e.line, e.field) for e in errors(found)] == [(2, "kind"), (3, "status")]


# -- detection -----------------------------------------------------------------------------------


def test_header_that_fits_no_mapping_is_unreadable():
    with pytest.raises(UnreadableFile, match="matches no column mapping"):
        items("foo,bar,baz\n1,2,3\n")


def test_named_mapping_must_exist_and_fit():
    with pytest.raises(UnreadableFile, match="unknown column mapping 'nope'"):
        items(f"{DUNWELL_HEADER}\n", mapping_name="nope")
    with pytest.raises(UnreadableFile, match="requires: ContactName, InvoiceDate"):
        items(f"{DUNWELL_HEADER}\n", mapping_name="xero_export")


def test_user_mapping_wins_over_builtin_and_ties_are_refused():
    variant = Mapping.from_dict({"name": "my_dunwell", "extends": "dunwell", "defaults": {"currency": "CHF"}})
    header = "invoice_number,customer_name,issue_date,currency,total\nA-1,Acme,2026-10-01,,5\n"
    found = items(header, extra_mappings=[variant])
    assert records(found)[0].document.currency == "CHF"
    twin = Mapping.from_dict({"name": "twin", "extends": "dunwell"})
    with pytest.raises(UnreadableFile, match="several column mappings"):
        items(header, extra_mappings=[variant, twin])


def test_xero_export_header_is_not_mistaken_for_the_import_template():
    # The export carries every identifying column of the import template too; the more specific mapping wins.
    header = "ContactName,InvoiceNumber,InvoiceDate,DueDate,Total,TaxTotal,InvoiceAmountPaid,InvoiceAmountDue," \
             "Currency,Type,Status,Description,Quantity,UnitAmount,AccountCode,TaxType\n"
    assert parse(header).mapping == "xero_export"
    assert parse(XERO_IMPORT).mapping == "xero_import"


def test_empty_and_blank_files_are_unreadable():
    with pytest.raises(UnreadableFile, match="empty"):
        items(b"")
    with pytest.raises(UnreadableFile, match="no header"):
        items(b"\r\n\r\n  \r\n")
    assert items(codecs.BOM_UTF8 + f"{DUNWELL_HEADER}\r\n".encode()) == []


# -- grouping ------------------------------------------------------------------------------------

XERO_IMPORT = "*ContactName,*InvoiceNumber,*InvoiceDate,*DueDate,*Description,*Quantity,*UnitAmount,Discount," \
              "*AccountCode,*TaxType,TaxAmount,Currency\n"


def test_non_contiguous_lines_of_an_invoice_are_errors():
    data = XERO_IMPORT + (
        "Acme,INV-1,01/10/2026,31/10/2026,Widget,1,10.00,,200,GST,1.00,AUD\n"
        "Beta,INV-2,01/10/2026,31/10/2026,Gadget,2,5.00,,200,GST,1.00,AUD\n"
        "Acme,INV-1,01/10/2026,31/10/2026,Late line,1,99.00,,200,GST,,AUD\n"
        "Acme,INV-1,01/10/2026,31/10/2026,Later line,1,1.00,,200,GST,,AUD\n"
    )
    found = items(data)
    assert [(r.document.number, r.document.total) for r in records(found)] == [
        ("INV-1", Money.of("11.00", "AUD")), ("INV-2", Money.of("11.00", "AUD")),
    ]
    late = errors(found)
    assert [(e.line, e.number) for e in late] == [(4, "INV-1"), (5, "INV-1")]
    assert "not contiguous" in late[0].reason and "lines 2-2" in late[0].reason


def test_conflicting_header_fields_reject_the_invoice():
    data = XERO_IMPORT + (
        "Acme,INV-1,01/10/2026,31/10/2026,Widget,1,10.00,,200,GST,,AUD\n"
        "Acme,INV-1,02/10/2026,31/10/2026,Widget,1,10.00,,200,GST,,AUD\n"
        "Acme,INV-1,01/10/2026,31/10/2026,Widget,1,10.00,,200,GST,,NZD\n"
        "Beta,INV-2,01/10/2026,31/10/2026,Gadget,1,10.00,,200,GST,,AUD\n"
    )
    found = items(data)
    assert [r.document.number for r in records(found)] == ["INV-2"]
    conflicts = errors(found)
    assert [(e.line, e.field, e.value) for e in conflicts] == [(3, "InvoiceDate", "02/10/2026"), (4, "Currency", "NZD")]
    assert "on line 2" in conflicts[0].reason


def test_a_bad_line_rejects_its_whole_invoice_and_points_at_the_line():
    data = XERO_IMPORT + (
        "Acme,INV-1,01/10/2026,31/10/2026,Widget,1,10.00,,200,GST,,AUD\n"
        "Acme,INV-1,01/10/2026,31/10/2026,Widget,one,10.00,,200,GST,,AUD\n"
        "Acme,INV-1,01/10/2026,31/10/2026,Widget,1,10.00,150,200,GST,,AUD\n"
    )
    found = items(data)
    assert records(found) == []
    assert [(e.line, e.field, e.number) for e in errors(found)] == [(3, "Quantity", "INV-1"), (4, "Discount", "INV-1")]


def test_line_totals_round_half_up_per_line_and_negative_lines_are_allowed():
    data = XERO_IMPORT + (
        "Acme,INV-1,01/10/2026,31/10/2026,A,3,0.125,,200,GST,,AUD\n"   # 0.375 -> 0.38
        "Acme,INV-1,01/10/2026,31/10/2026,B,1,10.00,,200,GST,,AUD\n"
        "Acme,INV-1,01/10/2026,31/10/2026,Refund,-1,2.00,,200,GST,,AUD\n"
        "Beta,INV-2,01/10/2026,31/10/2026,Refund,-1,2.00,,200,GST,,AUD\n"
    )
    found = items(data)
    (record,) = records(found)
    assert record.document.total == Money.of("8.38", "AUD")
    (negative,) = errors(found)
    assert negative.number == "INV-2" and "negative" in negative.reason


def test_an_explicit_invoice_total_wins_over_summed_lines():
    data = "*ContactName,*InvoiceNumber,*InvoiceDate,*DueDate,Total,*Description,*Quantity,*UnitAmount," \
           "*AccountCode,*TaxType,Currency\n" \
           "Acme,INV-1,01/10/2026,31/10/2026,24.00,A,1,10.00,200,GST,GBP\n" \
           "Acme,INV-1,01/10/2026,31/10/2026,24.00,B,1,10.00,200,GST,GBP\n"
    (record,) = items(data)
    assert record.document.total == Money.of("24.00", "GBP")


def test_xero_export_bills_and_api_style_codes():
    data = "ContactName,InvoiceNumber,InvoiceDate,DueDate,Total,TaxTotal,InvoiceAmountPaid,InvoiceAmountDue," \
           "Currency,Type,Status\n" \
           "Acme,INV-9,01/11/2026,01/12/2026,100.00,0,25.00,75.00,GBP,ACCREC,AUTHORISED\n" \
           "Paper Co,B-1,01/11/2026,01/12/2026,100.00,0,0,100.00,GBP,ACCPAY,AUTHORISED\n" \
           "Acme,CN-9,01/11/2026,,10.00,0,0,10.00,GBP,ACCRECCREDIT,AUTHORISED\n" \
           "Acme,INV-8,01/11/2026,01/12/2026,100.00,0,0,100.00,GBP,ACCREC,VOIDED\n"
    found = items(data)
    docs = {r.document.number: r.document for r in records(found)}
    assert docs["INV-9"].paid_in_source == Money.of("25.00", "GBP")
    assert docs["CN-9"].kind is DocumentKind.CREDIT_NOTE
    assert docs["INV-8"].void
    (bill,) = errors(found)
    assert (bill.number, bill.field, bill.value) == ("B-1", "Type", "ACCPAY")


def test_row_with_too_many_cells_is_reported_not_shifted():
    found = items(f"{DUNWELL_HEADER}\nA-1,Acme,2026-10-01,2026-10-31,EUR,1,250.00\nA-2,Acme,2026-10-01,,EUR,5,\n")
    (error,) = errors(found)
    assert (error.line, error.number) == (2, "A-1") and "7 cells" in error.reason
    assert [r.document.number for r in records(found)] == ["A-2"]


def test_short_rows_read_missing_cells_as_blank():
    (error,) = items(f"{DUNWELL_HEADER}\nA-1,Acme,2026-10-01\n")
    assert isinstance(error, RowError) and error.field == "currency"


def test_unclosed_quote_swallowing_the_file_is_unreadable():
    body = 'A-1,"Acme,2026-10-01,2026-10-31,EUR,1\n' + ("x" * 200 + "\n") * 1000
    with pytest.raises(UnreadableFile, match="unclosed quote"):
        items(f"{DUNWELL_HEADER}\n{body}")


def test_an_unreadable_line_rejects_its_invoice_instead_of_shrinking_it():
    data = XERO_IMPORT + (
        "Acme,INV-1,01/10/2026,31/10/2026,Widget,1,10.00,,200,GST,,AUD\n"
        "Acme,INV-1,01/10/2026,31/10/2026,Widget,1,1,000.00,,200,GST,,AUD,extra\n"
        ",,,,Orphan line,1,5.00,,200,GST,,AUD\n"
        "Beta,INV-2,01/10/2026,31/10/2026,Gadget,1,10.00,,200,GST,,AUD\n"
        ",,,,Orphan line,1,5.00,,200,GST,,AUD\n"
        "Gamma,INV-3,01/10/2026,31/10/2026,Gadget,1,10.00,,200,GST,,AUD\n"
    )
    found = items(data)
    assert [r.document.number for r in records(found)] == ["INV-3"]
    assert [(e.line, e.number) for e in errors(found)] == [
        (3, "INV-1"), (4, None), (2, "INV-1"), (6, None), (5, "INV-2"),
    ]
    assert "not imported" in errors(found)[2].reason and "3, 4" in errors(found)[2].reason


XERO_TEMPLATE = (
    "*ContactName,EmailAddress,*InvoiceNumber,*InvoiceDate,*DueDate,*Description,*Quantity,*UnitAmount,"
    "*AccountCode,*TaxType,TaxAmount,Currency\n"
)


def xero_line(number: str, currency: str = "NZD", description: str = "Consultation") -> str:
    return f"Bluegum Vet,ap@bluegum.example,{number},12/11/2026,12/12/2026,{description},1,10.00,200,GST,1.50," \
           f"{currency}\n"


def test_a_grouped_invoice_reports_its_own_error_when_a_row_without_a_number_follows():
    data = XERO_TEMPLATE + xero_line("INV-1") + xero_line("INV-2", "XYZ") + xero_line("INV-2", "XYZ") \
        + xero_line("", "XYZ", "continued") + xero_line("INV-3")
    found = items(data)
    assert [r.document.number for r in records(found)] == ["INV-1", "INV-3"]
    own, orphan = errors(found)
    assert (own.line, own.field, own.value, own.number) == (3, "Currency", "XYZ", "INV-2")
    assert "ISO 4217" in own.reason and "could not be read" not in own.reason
    assert (own.rows, orphan.rows) == (2, 1)  # INV-2's two rows, and the unnumbered row
    assert (orphan.line, orphan.reason) == (5, "document number is missing")


def test_a_readable_grouped_invoice_is_held_back_by_its_unreadable_row():
    found = items(XERO_TEMPLATE + xero_line("INV-2") + xero_line("INV-2") + xero_line("", description="more"))
    orphan, held = errors(found)
    assert orphan.line == 4 and orphan.rows == 1
    assert held.number == "INV-2" and held.rows == 2
    assert held.reason == "invoice INV-2 not imported: its line(s) on line 4 could not be read"


def test_a_row_with_several_problems_is_one_rejected_row():
    found = items(f"{DUNWELL_HEADER}\nA-1,Acme,2026-13-01,2026-10-31,XYZ,10.00\n")
    assert len(errors(found)) == 2
    assert sum(e.rows for e in errors(found)) == 1


def test_skipped_rows_say_why_in_a_countable_form():
    data = (
        "Customer;Name 1;Document Number;Document Type;Document Date;Net Due Date;Amount in Doc. Curr.;"
        "Document currency;Reference;Text\n"
        "100200;Schäfer Bau AG;1400000009;DZ;21.10.2026;;500,00-;EUR;;Zahlung\n"
    )
    (skipped,) = items(data)
    assert isinstance(skipped, RowError) and skipped.skipped == "dz" and skipped.rows == 1


@pytest.mark.parametrize("cell", [
    "\u0661\u0662\u0663.00",  # Arabic-Indic digits
    "\uff11\uff12\uff13.00",  # full-width digits
    "1" * 29,
    "1" * 25 + ".00",
])
def test_amounts_outside_the_grammar_are_row_errors(cell):
    (error,) = items(f"{DUNWELL_HEADER}\nA-1,Acme,2026-10-01,2026-10-31,EUR,{cell}\n")
    assert isinstance(error, RowError) and error.field == "total" and error.rows == 1
