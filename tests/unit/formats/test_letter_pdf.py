"""Letters for the post, read back from the PDF (pypdf): the address in the window, the letter's wording and
amounts in the customer's language, the RF references."""

import io
from datetime import date
from decimal import Decimal

import pypdf
import pytest

from chalicelib.domain.customer import Address, Contact, Customer
from chalicelib.formats.letter_pdf import (
    ADDRESS_FIELD_TOP,
    REMARK_ZONE_HEIGHT,
    LetterInvoice,
    LetterPdfInput,
    address_lines,
    letter_body,
    render_letter_pdf,
)
from chalicelib.formats.messages import InvoiceLine, Seller, message_locale, render_reminder_email

SELLER = Seller("Nordlicht Werkzeuge GmbH", "ar@nordlicht.example", "+49 30 1234567", "DE89370400440532013000",
                "COBADEFFXXX", ("Hauptstraße 1", "10115 Berlin"))
MUNICH = Address("Industriestraße 5", "Halle 3", "80331", "München", None, "DE")
TODAY = date(2026, 12, 7)


def customer(language="de", address=MUNICH):
    return Customer("K-100", "Kunde AG", (Contact("Frau Meier", "m@kunde.example"),), language=language,
                    address=address)


def line(number="RE-2026-17", balance="1234.50", fee=None):
    charges = (("late_fee", Decimal(fee)),) if fee else ()
    return InvoiceLine(number, date(2026, 10, 1), date(2026, 11, 1), "EUR", Decimal(balance), Decimal(balance), 36,
                       charges)


def letter(language, lines, invoices, tone="final"):
    mail = render_reminder_email(tone, language, "Kunde AG", lines, SELLER, TODAY, contact_name="Frau Meier",
                                 deadline=date(2026, 12, 14), payment_reference=invoices[0].rf if len(
                                     invoices) == 1 else None)
    rendered = render_letter_pdf(LetterPdfInput(SELLER, customer(language), language, TODAY, mail.subject,
                                                mail.text, invoices))
    reader = pypdf.PdfReader(io.BytesIO(rendered.body))
    return rendered, reader, "\n".join(page.extract_text() for page in reader.pages)


def test_a_german_final_notice_reads_as_the_email_does_with_the_address_in_the_window():
    rf = "RF48 RE20 2617"
    rendered, reader, text = letter("de", [line(fee="40.00")],
                                    [LetterInvoice("RE-2026-17", date(2026, 11, 1), "EUR", Decimal("1274.50"), rf)])
    assert rendered.pages == len(reader.pages) >= 1
    assert reader.metadata.title.startswith("Letzte Mahnung")
    for expected in ("Kunde AG\nIndustriestraße 5\nHalle 3\n80331 München\nDEUTSCHLAND",  # the window, in order
                     "Nordlicht Werkzeuge GmbH · Hauptstraße 1 · 10115 Berlin",  # the return line
                     "Datum 07.12.2026", "Kundennummer K-100", "Guten Tag Frau Meier,", "Rechnung RE-2026-17",
                     "1.234,50 €", "40,00 €", "1.274,50 €", "14. Dezember 2026", "DE89 3704 0044 0532 0130 00",
                     f"Verwendungszweck {rf}", "Mit freundlichen Grüßen", "Seite 1 von"):
        assert expected in text, expected
    assert "--" not in text and "Sie erhalten diese Nachricht" not in text  # the email's footer is not a letter's


def test_the_address_sits_in_the_window_of_a_form_b_envelope():
    _rendered, reader, _text = letter("en", [line()], [LetterInvoice("RE-2026-17", date(2026, 11, 1), "EUR",
                                                                      Decimal("1234.50"), None)])
    page = reader.pages[0]
    height_mm = float(page.mediabox.height) * 25.4 / 72
    found = {}

    def visit(text, _cm, tm, _font, _size):
        if text.strip():
            found.setdefault(text.strip(), (tm[4] * 25.4 / 72, height_mm - tm[5] * 25.4 / 72))

    page.extract_text(visitor_text=visit)
    x, y = found["Kunde AG"]
    assert 20 <= x <= 30  # 20 mm from the left edge, text 5 mm inside
    assert ADDRESS_FIELD_TOP + REMARK_ZONE_HEIGHT <= y <= ADDRESS_FIELD_TOP + 45  # the address zone of the field
    x, y = found["GERMANY"]
    assert y <= ADDRESS_FIELD_TOP + 45 and x < 105  # the last line still inside the 85 x 45 mm window


@pytest.mark.parametrize(("language", "amount", "greeting"), [
    ("en", "€1,234.50", "Dear Frau Meier"), ("fr", "1 234,50 €", "Frau Meier"), ("es", "1.234,50 €", "Frau Meier")])
def test_each_language_formats_its_amounts(language, amount, greeting):
    _rendered, _reader, text = letter(language, [line()], [LetterInvoice(
        "RE-2026-17", date(2026, 11, 1), "EUR", Decimal("1234.50"), None)])
    assert amount in text.replace("\u202f", " ").replace("\xa0", " ")
    assert greeting in text and "RE-2026-17" in text


def test_a_letter_about_several_invoices_lists_each_reference():
    invoices = [LetterInvoice("RE-1", date(2026, 11, 1), "EUR", Decimal("100.00"), "RF97 RE1"),
                LetterInvoice("RE-2", date(2026, 11, 3), "EUR", Decimal("2000.00"), "RF70 RE2")]
    _rendered, _reader, text = letter("de", [line("RE-1", "100.00"), line("RE-2", "2000.00")], invoices)
    assert "Zahlungsreferenzen" in text
    assert "RF97 RE1" in text and "RF70 RE2" in text and "2.000,00 €" in text


def test_the_body_is_the_email_text_without_its_header_and_footer():
    text = "Seller\n\nDear Ada,\n\nInvoice 1\n  Due: 1 Nov\n\nRegards\nSeller\n\n-- \nYou receive this because...\n"
    assert letter_body(text, "Seller") == [["Dear Ada,"], ["Invoice 1", "  Due: 1 Nov"], ["Regards", "Seller"]]


def test_an_address_has_at_most_six_lines_and_the_country_in_capitals():
    lines = address_lines(customer(address=Address("1 Main St", None, "SW1A 1AA", "London", None, "GB")),
                          message_locale("de").formatting)
    assert lines == ["Kunde AG", "1 Main St", "London", "SW1A 1AA", "VEREINIGTES KÖNIGREICH"]
