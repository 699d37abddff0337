"""Dunwell's invoice PDF (checked by its extracted text) and the EPC QR payload (EPC069-12)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pypdf
import pytest

from chalicelib.domain.customer import Address, Customer
from chalicelib.domain.invoice import Invoice, LedgerCharge
from chalicelib.domain.money import Money
from chalicelib.domain.terms import PaymentTerms
from chalicelib.formats.bank.references import is_valid_rf, rf_payload
from chalicelib.formats.invoice_pdf import EpcError, InvoicePdfRenderer, epc_payload, invoice_rf
from chalicelib.formats.messages import Seller

SELLER = Seller("Nordlicht Handels GmbH", "ar@nordlicht.example", "+49 40 123456", "DE89370400440532013000",
                "COBADEFFXXX", ("Speicherstadt 1", "20457 Hamburg"))


def eur(text: str, currency: str = "EUR") -> Money:
    return Money.of(Decimal(text), currency)


def invoice(total: str = "1234.56", currency: str = "EUR", **changes: object) -> Invoice:
    zero = eur("0", currency)
    base = Invoice("INV-2026-1001", "INV-2026-1001", "acme", date(2026, 11, 1), date(2026, 12, 1),
                   eur(total, currency), zero, zero, zero, zero, buyer_reference="PO 4711")
    return base.__class__(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **changes})


def text_of(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")


def render(inv: Invoice, customer: Customer | None, today: date = date(2026, 11, 5), seller: Seller = SELLER,
           pay_url: str | None = "https://pay.example.com/i/{invoice_id}") -> str:
    pdf = InvoicePdfRenderer(seller, pay_url)(inv, customer, today)
    assert pdf.startswith(b"%PDF-")
    return text_of(pdf)


GERMAN = Customer("acme", "Acme Maschinenbau GmbH", language="de", payment_terms=PaymentTerms.parse("2/10 net 30"),
                  address=Address(line1="Hauptstraße 5", line2="Hinterhaus", postal_code="10115", city="Berlin",
                                  country="DE"))


def test_german_invoice_with_payments_charges_discount_and_way_to_pay():
    inv = invoice(applied_payments=eur("200.00"), credited=eur("34.56"),
                  charges=(LedgerCharge("fee", eur("5.00"), "fee", "k", date(2026, 11, 3)),))
    text = render(inv, GERMAN)
    assert "Rechnung INV-2026-1001" in text
    assert "Acme Maschinenbau GmbH\nHauptstraße 5\nHinterhaus\n10115 Berlin\nDEUTSCHLAND" in text
    assert "Rechnungsdatum 01.11.2026" in text and "Fällig am 01.12.2026" in text and "Ihre Referenz PO 4711" in text
    assert "Rechnungsbetrag 1.234,56 €" in text
    assert "Mahngebühr (03.11.2026) 5,00 €" in text
    assert "Zahlungseingänge -200,00 €" in text and "Gutschriften -34,56 €" in text
    assert "Offener Betrag 1.005,00 €" in text
    assert "Bitte überweisen Sie 1.005,00 € bis zum 01.12.2026 an:" in text
    # 2/10 net 30: 2 % of the total (24.69) off the balance until 11 November.
    flat = " ".join(text.split())
    assert "Skonto: Bei Zahlung bis zum 11.11.2026 zahlen Sie nur 980,31 € (2 % Skonto)." in flat
    assert "IBAN DE89 3704 0044 0532 0130 00" in text and "BIC COBADEFFXXX" in text
    assert f"Verwendungszweck {' '.join(invoice_rf('INV-2026-1001')[i:i + 4] for i in range(0, 16, 4))}" in text
    assert "https://pay.example.com/i/INV-2026-1001" in text
    assert "GiroCode" in text


def test_english_invoice_overdue_without_address_or_discount():
    customer = Customer("acme", "Acme Ltd", language="en-GB", address=Address(
        line1="1 High St", city="London", postal_code="SW1A 1AA", country="GB"))
    text = render(invoice(currency="GBP"), customer, today=date(2026, 12, 20), pay_url=None)
    assert "Invoice INV-2026-1001" in text and "Amount due £1,234.56" in text
    assert "Acme Ltd\n1 High St\nLondon\nSW1A 1AA\nUNITED KINGDOM" in text
    assert "Please transfer £1,234.56 now to:" in text
    assert "banking app" not in text  # no EPC QR code outside EUR
    assert "Pay online" not in text


def test_settled_and_void_invoices_ask_for_nothing():
    settled = render(invoice(applied_payments=eur("1234.56")), GERMAN)
    assert "Auf diese Rechnung ist nichts mehr offen." in settled and "IBAN" not in settled
    void = render(invoice(void=True), GERMAN)
    assert "Diese Rechnung wurde storniert." in void and "IBAN" not in void


def test_a_customer_without_a_language_or_address_gets_english_and_its_name():
    text = render(invoice(), Customer("acme", "Acme"))
    assert "Invoice INV-2026-1001" in text and "\nAcme Invoice number" in text and "€1,234.56" in text
    assert "Seite" not in text and "Page 1 of 1" in text


def test_french_and_spanish_wording():
    assert "Facture INV-2026-1001" in render(invoice(), Customer("acme", "Acme SARL", language="fr"))
    assert "1 234,56 €" in render(invoice(), Customer("acme", "Acme SARL", language="fr"))
    assert "Factura INV-2026-1001" in render(invoice(), Customer("acme", "Acme SL", language="es"))


def test_invoice_rf_reference_is_valid_and_decodes_to_the_number():
    rf = invoice_rf("INV-2026/1001")
    assert rf is not None and is_valid_rf(rf) and rf_payload(rf) == "INV20261001"
    assert invoice_rf("X" * 22) is None and invoice_rf("--") is None


def test_epc_payload_per_epc069_12():
    rf = invoice_rf("INV-2026-1001")
    payload = epc_payload(name="Nordlicht Handels GmbH", iban="DE89 3704 0044 0532 0130 00", bic="cobadeffxxx",
                          amount=Decimal("1005.00"), rf=rf)
    assert payload.split("\n") == ["BCD", "002", "1", "SCT", "COBADEFFXXX", "Nordlicht Handels GmbH",
                                   "DE89370400440532013000", "EUR1005.00", "", rf]
    text_only = epc_payload(name="N", iban="DE89370400440532013000", amount=Decimal("0.5"), text="Invoice  X/1")
    assert text_only.split("\n")[4:] == ["", "N", "DE89370400440532013000", "EUR0.50", "", "", "Invoice X/1"]
    assert len(epc_payload(name="N" * 100, iban="DE89370400440532013000", amount=Decimal(1)).split("\n")[5]) == 70


@pytest.mark.parametrize(("changes", "message"), [
    ({"currency": "GBP"}, "euro"),
    ({"amount": Decimal("0")}, "outside"),
    ({"amount": Decimal("1000000000")}, "outside"),
    ({"iban": ""}, "IBAN"),
    ({"rf": "RF18539007547034", "text": "x"}, "exclude"),
])
def test_epc_payload_refuses_what_a_giro_code_cannot_carry(changes, message):
    args: dict[str, object] = {"name": "N", "iban": "DE89370400440532013000", "amount": Decimal("1.00"), **changes}
    with pytest.raises(EpcError, match=message):
        epc_payload(**args)  # type: ignore[arg-type]


def test_a_discount_booked_is_a_line_of_the_account():
    inv = invoice("1000.00", applied_payments=eur("980.00"), discount_granted=eur("20.00"),
                  discount_payment_id="pay_1")
    text = render(inv, GERMAN, today=date(2026, 11, 20))
    assert "Zahlungseingänge -980,00 €" in text and "Skonto -20,00 €" in text
    assert "Offener Betrag 0,00 €" in text
