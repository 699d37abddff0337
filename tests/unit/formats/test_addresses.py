"""Billing addresses from every file that has one: Xero PO address, QuickBooks billing address, UBL PostalAddress,
Dunwell CSV / JSON columns."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.customer import Address, Customer
from chalicelib.domain.errors import InvalidDocument
from chalicelib.formats.countries import country_code

from .conftest import errors, example, items, records

DUNWELL_HEADER = ("invoice_number,customer_name,issue_date,due_date,currency,total,country,address_line1,"
                  "address_line2,postal_code,city,region")


def test_xero_export_po_address_with_country_name():
    (first, *_) = records(example("xero-export.csv"))
    assert first.customer.address == Address(line1="Unit 4, Ridgeway Park", postal_code="BS1 4DJ", city="Bristol",
                                             country="GB")
    assert first.customer.country == "GB"


def test_xero_import_template_address_without_street():
    (first, *_) = records(example("xero-import-template.csv"))
    assert first.customer.address == Address(city="Brisbane", region="QLD", postal_code="4000", country="AU")
    assert first.customer.address.lines() == ("Brisbane QLD 4000",)


def test_quickbooks_billing_address():
    text = ("InvoiceNo,Customer,InvoiceDate,DueDate,ItemAmount,BillAddrLine1,BillAddrLine2,BillAddrCity,"
            "BillAddrState,BillAddrPostalCode,BillAddrCountry\n"
            "1001,Pinecrest Dental,11/02/2026,12/02/2026,150.00,12 Oak St,Suite 4,Springfield,IL,62701,USA\n")
    (record,) = records(items(text))
    assert record.customer.address == Address(line1="12 Oak St", line2="Suite 4", city="Springfield", region="IL",
                                              postal_code="62701", country="US")
    assert record.customer.address.lines() == ("12 Oak St", "Suite 4", "Springfield, IL 62701")


def test_ubl_buyer_postal_address():
    (record,) = records(example("peppol-base-example.xml"))
    assert record.customer.address == Address(line1="Hovedgatan 32", line2="Po box 878", postal_code="456 34",
                                              city="Stockholm", country="SE")
    assert record.customer.address.lines() == ("Hovedgatan 32", "Po box 878", "456 34 Stockholm")


def test_dunwell_csv_address_columns():
    text = (DUNWELL_HEADER + "\nINV-1,Acme GmbH,2026-11-01,2026-12-01,EUR,10.00,de,Hauptstr. 5,Hinterhaus,"
            "10115,Berlin,\n")
    (record,) = records(items(text))
    assert record.customer.address == Address(line1="Hauptstr. 5", line2="Hinterhaus", postal_code="10115",
                                              city="Berlin", country="DE")


def test_dunwell_json_address_keys_flat_and_nested():
    flat = {"invoice_number": "INV-1", "customer_name": "Acme", "issue_date": "2026-11-01", "currency": "EUR",
            "total": "10.00", "due_date": "2026-12-01", "address_line1": "Rue 1", "city": "Paris", "country": "FR"}
    nested = {**{k: v for k, v in flat.items() if k not in ("customer_name", "address_line1", "city", "country")},
              "customer": {"name": "Acme", "address_line1": "Rue 1", "postal_code": "75001", "city": "Paris",
                           "country": "FR"}}
    found = records(items(json.dumps([flat, nested]), "x.json"))
    assert [r.customer.address for r in found] == [
        Address(line1="Rue 1", city="Paris", country="FR"),
        Address(line1="Rue 1", postal_code="75001", city="Paris", country="FR")]


def test_a_file_without_an_address_gives_none_and_an_unknown_country_name_keeps_the_address():
    text = (DUNWELL_HEADER + "\nINV-1,Acme,2026-11-01,2026-12-01,EUR,10.00,,,,,,\n")
    (record,) = records(items(text))
    assert record.customer.address is None
    xero = example("xero-export.csv")
    assert not [e for e in errors(xero) if "address" in (e.field or "").lower()]
    assert country_code("Atlantis") is None


def test_an_overlong_address_is_a_row_error_naming_the_column():
    text = DUNWELL_HEADER + f"\nINV-1,Acme,2026-11-01,2026-12-01,EUR,10.00,DE,{'x' * 201},,,Berlin,\n"
    (error,) = errors(items(text))
    assert error.field == "address_line1" and "200" in error.reason


@pytest.mark.parametrize(("text", "code"), [
    ("de", "DE"), ("Germany", "DE"), ("Deutschland", "DE"), ("Allemagne", "DE"), ("United Kingdom", "GB"),
    ("UK", "GB"), ("U.S.A.", "US"), ("New Zealand", "NZ"), ("  france ", "FR"), ("XX", None),
])
def test_country_codes_from_names(text, code):
    assert country_code(text) == code


def test_address_validation():
    with pytest.raises(InvalidDocument, match="first line or a city"):
        Address(postal_code="10115")
    with pytest.raises(InvalidDocument) as info:
        Address(line1="x", country="Deutschland")
    assert info.value.field == "address.country"
    assert Address(line1="  Hauptstr.   5 ", city="Berlin", country="de").to_dict() == {
        "line1": "Hauptstr. 5", "line2": None, "postal_code": None, "city": "Berlin", "region": None, "country": "DE"}
    assert Address(line1="1 High St", city="London", postal_code="SW1A 1AA", country="GB").lines() == (
        "1 High St", "London", "SW1A 1AA")


def test_a_file_updates_the_address_unless_staff_edited_it():
    old, new = Address(line1="Old 1", city="Berlin"), Address(line1="New 2", city="Hamburg")
    stored = Customer("acme", "Acme", address=old)
    assert stored.merged_with(Customer("acme", "Acme", address=new)).address == new
    assert stored.merged_with(Customer("acme", "Acme")).address == old  # a file without one erases nothing
    edited = Customer("acme", "Acme", address=old, address_edited=True)
    assert edited.merged_with(Customer("acme", "Acme", address=new)).address == old


def test_fingerprint_of_a_customer_without_address_is_unchanged_by_the_feature():
    assert '"address' not in Customer("acme", "Acme").fingerprint()
    assert '"address"' in Customer("acme", "Acme", address=Address(city="Berlin")).fingerprint()
