"""Seller payment settings: IBAN (ISO 13616), BIC (ISO 9362) and the pay link template, and the settings that
read them, which refuse a bad value naming the variable."""

from __future__ import annotations

import pytest

from chalicelib.config import ConfigError, Settings
from chalicelib.domain.payment_details import (
    InvalidPaymentDetail,
    check_pay_url_template,
    normalise_bic,
    normalise_iban,
    way_to_pay_missing,
)


@pytest.mark.parametrize(("printed", "electronic"), [
    ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),  # the standard documentation example
    ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
    ("fr14 2004 1010 0505 0001 3m02 606", "FR1420041010050500013M02606"),  # letters inside, lower case
    ("NO93 8601 1117 947", "NO9386011117947"),  # the shortest
    ("CH93-0076-2011-6238-5295-7", "CH9300762011623852957"),
])
def test_valid_ibans_are_normalised(printed: str, electronic: str) -> None:
    assert normalise_iban(printed) == electronic


@pytest.mark.parametrize(("iban", "says"), [
    ("DE88 3704 0044 0532 0130 00", "check digits"),  # one check digit wrong
    ("DE89 3704 0044 0532 0130 01", "check digits"),  # one account digit wrong
    ("DE89 3704 0044 0532 0130 0", "22 characters"),  # too short for Germany
    ("NO93 8601 1117 9470", "15 characters"),  # too long for Norway
    ("US64 SVBK US6S 3300 9673 8637", "not a country with IBANs"),
    ("DE", "2-letter country code"),
    ("1234 5678", "2-letter country code"),
    ("DE89 3704 0044 0532 0130 0!", "2-letter country code"),
])
def test_invalid_ibans_are_refused_with_the_rule_they_break(iban: str, says: str) -> None:
    with pytest.raises(InvalidPaymentDetail, match=says):
        normalise_iban(iban)


def test_bic_shape() -> None:
    assert normalise_bic("cobadeffxxx") == "COBADEFFXXX"
    assert normalise_bic("DEUTDEFF") == "DEUTDEFF"
    assert normalise_bic("BNPA FR PP") == "BNPAFRPP"
    for bad in ("COBADEFFXX", "COBADEFFXXXX", "COBA1EFFXXX", "COBADE", "COBA-DE-FF-XXX-1"):
        with pytest.raises(InvalidPaymentDetail, match="ISO 9362"):
            normalise_bic(bad)


@pytest.mark.parametrize("template", [
    "https://pay.example.com/i/{invoice_id}",
    "https://pay.example.com/pay?invoice={number}&id={invoice_id}",
    "https://pay.example.com/account",  # one page for every invoice
    "https://pay.example.com/{{literal}}/{number}",
])
def test_pay_url_templates_that_work(template: str) -> None:
    assert check_pay_url_template(f"  {template} ") == template


@pytest.mark.parametrize(("template", "says"), [
    ("http://pay.example.com/i/{invoice_id}", "https://"),
    ("pay.example.com/i/{invoice_id}", "https://"),
    ("https:///i/{invoice_id}", "with a host"),
    ("https://pay.example.com/i/{invoice_id} x", "no spaces"),
    ("https://pay.example.com/i/{customer_id}", r"unknown placeholder \{customer_id\}"),
    ("https://pay.example.com/i/{}", r"unknown placeholder \{\}"),
    ("https://pay.example.com/i/{0}", r"unknown placeholder \{0\}"),
    ("https://pay.example.com/i/{invoice_id!r}", r"unknown placeholder \{invoice_id!r\}"),
    ("https://pay.example.com/i/{number:>10}", r"unknown placeholder \{number:>10\}"),
    ("https://pay.example.com/i/{invoice_id.__class__}", "unknown placeholder"),
    ("https://pay.example.com/i/{invoice_id", "not a template"),
])
def test_pay_url_templates_that_cannot_work(template: str, says: str) -> None:
    with pytest.raises(InvalidPaymentDetail, match=says):
        check_pay_url_template(template)


def test_a_way_to_pay_is_an_iban_or_a_pay_link() -> None:
    assert way_to_pay_missing("DE89370400440532013000", None) is None
    assert way_to_pay_missing(None, "https://pay.example.com/i/{invoice_id}") is None
    reason = way_to_pay_missing(None, None)
    assert reason is not None and "SELLER_IBAN" in reason and "PAY_URL_TEMPLATE" in reason


def test_settings_normalise_the_seller_payment_details() -> None:
    settings = Settings.from_env({"SELLER_IBAN": "de89 3704 0044 0532 0130 00", "SELLER_BIC": "cobadeffxxx",
                                  "PAY_URL_TEMPLATE": "https://pay.example.com/i/{invoice_id}"})
    assert (settings.seller_iban, settings.seller_bic) == ("DE89370400440532013000", "COBADEFFXXX")
    assert settings.pay_url_template == "https://pay.example.com/i/{invoice_id}"
    assert settings.no_way_to_pay is None
    assert Settings.from_env({}).no_way_to_pay is not None
    assert Settings.from_env({"SELLER_IBAN": "  "}).seller_iban is None  # an empty parameter is "not set"


@pytest.mark.parametrize(("variable", "value"), [
    ("SELLER_IBAN", "DE88370400440532013000"),
    ("SELLER_BIC", "COBADEFF1"),
    ("PAY_URL_TEMPLATE", "http://pay.example.com/{invoice_id}"),
    ("PAY_URL_TEMPLATE", "https://pay.example.com/{customer}"),
])
def test_settings_refuse_a_bad_value_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({variable: value})
    assert str(raised.value).startswith(f"{variable}={value!r}: ")
