"""ISO 11649 creditor references and invoice-number candidates in remittance text."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from chalicelib.domain.currencies import is_known_currency
from chalicelib.formats.bank import (
    explicit_reference,
    extract_references,
    format_rf,
    is_valid_rf,
    rf_payload,
    rf_reference,
)

# ---------------------------------------------------------------- ISO 11649


@pytest.mark.parametrize("reference", ["RF18 5390 0754 7034", "RF18539007547034", "rf18539007547034",
                                       " RF18 5390 0754 7034 ", "RF73 INV2 0261 012"])
def test_published_and_example_rf_references_are_valid(reference):
    assert is_valid_rf(reference)


@pytest.mark.parametrize("reference", [
    "RF19 5390 0754 7034",  # wrong check digits
    "RF18 5390 0754 7035",  # one digit changed
    "RF18 5390 0745 7034",  # two digits swapped
    "RF18", "RF", "", "RF1853900754703", "XX18539007547034", "RF18-5390-0754-7034",
    "RF18" + "1" * 22,  # payload longer than 21
    "DE89370400440532013000",
])
def test_invalid_rf_references(reference):
    assert not is_valid_rf(reference)


def test_rf_reference_builds_the_standard_example():
    assert rf_reference("539007547034") == "RF18539007547034"
    assert rf_reference("5390 0754 7034") == "RF18539007547034"
    assert format_rf("RF18539007547034") == "RF18 5390 0754 7034"
    assert rf_payload("RF18 5390 0754 7034") == "539007547034"
    assert rf_payload("RF19 5390 0754 7034") is None


def test_rf_reference_for_an_invoice_number():
    assert rf_reference("INV20261012") == "RF73INV20261012"
    assert rf_reference("inv20261012") == "RF73INV20261012"


@pytest.mark.parametrize("payload", ["", "INV-2026-1001", "A" * 22, "Ä1"])
def test_rf_reference_rejects_payloads_iso_11649_cannot_carry(payload):
    with pytest.raises(ValueError):
        rf_reference(payload)


PAYLOADS = st.from_regex(r"[A-Z0-9]{1,21}", fullmatch=True)


@given(PAYLOADS)
def test_rf_round_trip(payload):
    reference = rf_reference(payload)
    assert is_valid_rf(reference) and is_valid_rf(format_rf(reference))
    assert rf_payload(reference) == payload
    assert extract_references(f"Zahlung {format_rf(reference)} danke")[0] == payload


@given(PAYLOADS, st.data())
def test_any_single_substitution_is_detected(payload, data):
    reference = rf_reference(payload)
    position = data.draw(st.integers(min_value=2, max_value=len(reference) - 1))
    original = reference[position]
    alphabet = "0123456789" if original.isdigit() else "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != original]))
    assert not is_valid_rf(reference[:position] + replacement + reference[position + 1:])


# ---------------------------------------------------------------- extraction


@pytest.mark.parametrize(("text", "expected"), [
    ("Rechnung INV-2026-1001", ("INV-2026-1001",)),
    ("INV-2026-1001 abzgl. Gutschrift CN-2026-0041, Bestellung PO-88121", ("INV-2026-1001", "CN-2026-0041",
                                                                           "PO-88121")),
    ("Rechnung:INV-2026-1001.", ("INV-2026-1001",)),
    ("(INV-2026-1001)", ("INV-2026-1001",)),
    ("INV20261001", ("INV20261001",)),
    ("invoice inv-2026-1001 and INV-2026-1001 again", ("inv-2026-1001",)),
    ("INV-2026-1001,INV-2026-1005;INV-2026-1006", ("INV-2026-1001", "INV-2026-1005", "INV-2026-1006")),
    ("Invoice 2026/0042 dated 2026-11-20", ("2026/0042",)),
    ("Rechnung 2026-0042", ("2026-0042",)),
    ("Re-Nr. 10042 vom 20.11.2026", ("10042",)),
    ("Invoice No. 10042", ("10042",)),
    ("Rechnungsnummer: 10042", ("10042",)),
    ("Facture n° 77812", ("77812",)),
    ("Factuur 2026 1234", ("2026",)),
    ("#10042", ("10042",)),
    ("RF18 5390 0754 7034", ("539007547034",)),
    ("RF18539007547034", ("539007547034", "RF18539007547034")),
    ("ref RF73 INV2 0261 012 thanks", ("INV20261012",)),
    ("pay RF18 5390 0754 7034 INV-2026-1001", ("539007547034", "INV-2026-1001")),
    # not invoice numbers
    ("", ()),
    ("thanks for the great service", ()),
    ("Kundennummer 10042", ()),
    ("10042", ()),
    ("paid 20/11/2026 amount 4.000,00 EUR", ()),
    ("2026-11-20 11/20/2026 20.11.2026 27/11/26", ()),
    ("for 11/2026", ()),
    ("for 2026-11", ()),
    ("EUR4000.00 USD 4000 eur4000", ()),
    ("IBAN DE89370400440532013000 BIC COBADEFFXXX", ()),
    ("tel +49 30 1234567", ()),
    ("RF19 5390 0754 7034", ()),
    ("version 1.2.3", ()),
])
def test_extract_references(text, expected):
    assert extract_references(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("10042", ("10042",)),
    (" INV-2026-1001 ", ("INV-2026-1001",)),
    ("#10042", ("10042",)),
    ("Rechnung INV-2026-1001", ()),
    ("NOTPROVIDED", ()),
    ("2026-11-20", ()),
    ("", ()),
])
def test_explicit_reference(text, expected):
    assert explicit_reference(text) == expected


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789äöüéß.,;:-/()#'\"+&",
               min_size=1, max_size=12)
FILLER = st.lists(WORD, max_size=8).map(" ".join)
SEPARATOR = st.sampled_from([" ", "  ", "\n", "\t", " / "[1:]])
INVOICE_NUMBERS = st.one_of(
    st.from_regex(r"(INV|RE|RG|FA|SO|AR|CN)-20[0-9]{2}-[0-9]{3,6}", fullmatch=True),
    st.from_regex(r"[A-Z]{1,4}[0-9]{3,8}", fullmatch=True),
    st.from_regex(r"[A-Z]{2,5}/[0-9]{2,4}/[0-9]{2,6}", fullmatch=True),
    st.from_regex(r"20[0-9]{2}/0[0-9]{3}", fullmatch=True),
)


@given(number=INVOICE_NUMBERS, before=FILLER, after=FILLER, sep1=SEPARATOR, sep2=SEPARATOR)
def test_an_invoice_number_in_any_remittance_text_is_found(number, before, after, sep1, sep2):
    # "EUR1234" (or "BTN000": any ISO 4217 code) is an amount in a currency, not an invoice number, by design
    assume(not (re.fullmatch(r"[A-Z]{3}[0-9]+", number) and is_known_currency(number[:3])))
    text = f"{before}{sep1}{number}{sep2}{after}"
    found = {token.upper() for token in extract_references(text)}
    assert number.upper() in found
