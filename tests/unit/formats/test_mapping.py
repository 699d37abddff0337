"""Mapping definitions are user data: every mistake gets a clear MappingError."""

from __future__ import annotations

import pytest

from chalicelib.formats import Mapping, MappingError, builtin_mappings, get_mapping


def base(**overrides):
    spec = {
        "name": "acme_erp",
        "description": "Acme ERP export",
        "detect": ["Doc", "Client"],
        "columns": {"number": "Doc", "customer_name": "Client", "issue_date": "Date", "total": "Amount",
                    "currency": "Cur"},
    }
    spec.update(overrides)
    return spec


def test_builtins_load_and_are_named():
    names = {m.name for m in builtin_mappings()}
    assert {"dunwell", "xero_export", "xero_import", "quickbooks_online", "sap_fbl5n"} <= names
    assert get_mapping("xero_export").grouping == "repeated"
    assert get_mapping("quickbooks_online").defaults == {"currency": "USD"}


def test_a_valid_user_mapping():
    mapping = Mapping.from_dict(base(delimiter=";", decimal_separator=",", date_formats=["%d.%m.%Y"],
                                     defaults={"currency": "chf"}, kind_values={"Gutschrift": "credit_note"}))
    assert mapping.delimiter == ";" and mapping.defaults["currency"] == "CHF"
    assert mapping.kind_values["gutschrift"] == "credit_note"
    assert mapping.kind_values["invoice"] == "invoice"  # the canonical words always work


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"colour": "red"}, "unknown keys"),
        ({"name": "Has Spaces"}, "'name'"),
        ({"description": ""}, "'description'"),
        ({"columns": {"number": "Doc", "frobnicate": "X"}}, "unknown field 'frobnicate'"),
        ({"columns": {"number": "Doc", "customer_name": "Client", "issue_date": "Date", "currency": "Cur"}},
         "field 'total' is required"),
        ({"delimiter": "::"}, "'delimiter'"),
        ({"decimal_separator": "'"}, "'decimal_separator'"),
        ({"date_formats": ["%d/%m/%Y", "%m/%d/%Y"]}, "ambiguous"),
        ({"date_formats": ["%Y"]}, "needs a day"),
        ({"date_formats": []}, "non-empty"),
        ({"defaults": {"currency": "XYZ"}}, "defaults.currency"),
        ({"kind_values": {"Bill": "ignore"}}, "use one of"),
        ({"status_values": "void"}, "'status_values'"),
        ({"grouping": "lines"}, "'grouping'"),
        ({"grouping": "sum_lines"}, "sum_lines"),
        ({"detect": []}, "'detect'"),
        ({"tax_included": "yes"}, "true or false"),
        ({"required": ["nonsense"]}, "'required'"),
        ({"extends": "nothing_like_it"}, "unknown mapping"),
    ],
)
def test_invalid_mappings_explain_themselves(overrides, message):
    with pytest.raises(MappingError, match=message):
        Mapping.from_dict(base(**overrides))


def test_not_an_object():
    with pytest.raises(MappingError, match="JSON object"):
        Mapping.from_dict(["not", "a", "mapping"])


def test_extends_merges_columns_and_defaults_key_by_key():
    uk = Mapping.from_dict({"name": "quickbooks_online_uk", "extends": "quickbooks_online",
                            "date_formats": ["%d/%m/%Y"], "defaults": {"currency": "GBP"},
                            "columns": {"buyer_reference": "Memo"}})
    qbo = get_mapping("quickbooks_online")
    assert uk.grouping == qbo.grouping == "sum_lines"
    assert uk.columns["number"] == qbo.columns["number"]
    assert uk.columns["buyer_reference"] == ("Memo",)
    assert uk.defaults == {"currency": "GBP"} and uk.date_formats == ("%d/%m/%Y",)


def test_extends_a_user_mapping():
    parent = Mapping.from_dict(base())
    child = Mapping.from_dict({"name": "acme_eu", "extends": "acme_erp", "decimal_separator": ","}, bases=[parent])
    assert child.columns == parent.columns and child.decimal_separator == ","
