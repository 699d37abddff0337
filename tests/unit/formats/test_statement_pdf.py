"""The statement of account as a PDF, read back (pypdf): the address block, the open invoices with their RF
references, credits, payments and totals formatted for the customer's locale; and the statement email."""

import io
from datetime import date
from decimal import Decimal

import pypdf

from chalicelib.domain.customer import Address, Contact, Customer
from chalicelib.domain.dunning.charges import EarlyPaymentDiscount
from chalicelib.domain.money import Money
from chalicelib.formats.bank.references import format_rf
from chalicelib.formats.invoice_pdf import invoice_rf
from chalicelib.formats.messages import Seller
from chalicelib.formats.statement_mail import StatementMailInput, render_statement_mail
from chalicelib.formats.statement_pdf import StatementPdfInput, render_statement_pdf
from chalicelib.services.statement import Statement, StatementCredit, StatementLine, StatementPayment

SELLER = Seller("Nordlicht GmbH", "ar@nordlicht.example", None, "DE89370400440532013000", "COBADEFFXXX",
                ("Hauptstraße 1", "10115 Berlin"))


def eur(text):
    return Money.of(Decimal(text), "EUR")


def statement(language="de", lines=None, credits=None, payments=None, totals=None):
    customer = Customer("K-100", "Kunde AG", (Contact("Frau Meier", "m@kunde.example"),), language=language,
                        address=Address("Industriestraße 5", None, "80331", "München", None, "DE"))
    lines = lines if lines is not None else (
        StatementLine("RE-1", "RE-1", date(2026, 10, 1), date(2026, 11, 1), 36, eur("1234.50"), "open", None),
        StatementLine("RE-2", "RE-2", date(2026, 11, 20), date(2026, 12, 20), 0, eur("500.00"), "disputed", None))
    credits = credits if credits is not None else (StatementCredit("GS-1", date(2026, 11, 15), eur("100.00")),)
    payments = payments if payments is not None else (StatementPayment(date(2026, 11, 30), eur("300.00"), "RE-0"),)
    return Statement(customer, date(2026, 12, 7), lines, credits, payments,
                     totals if totals is not None else {"EUR": eur("1634.50")})


def text_of(body):
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(body)).pages).replace("\xa0", " ")


def test_a_german_statement_lists_what_is_open_credited_and_paid():
    rendered = render_statement_pdf(StatementPdfInput(SELLER, statement(), None))
    text = text_of(rendered.body)
    for expected in ("Kunde AG\nIndustriestraße 5\n80331 München\nDEUTSCHLAND", "Kontoauszug zum 07.12.2026",
                     "Kundennummer K-100", "RE-1", "1.234,50 €", "beanstandet", format_rf(invoice_rf("RE-1")),
                     "GS-1", "-100,00 €", "Saldo (EUR)", "1.634,50 €", "30.11.26", "RE-0", "300,00 €",
                     "DE89 3704 0044 0532 0130 00", "Seite 1 von 1"):
        assert expected in text, expected


def test_an_english_statement_formats_for_english_and_shows_the_discount_offer():
    offer = EarlyPaymentDiscount(eur("24.69"), eur("1209.81"), date(2026, 12, 10), Decimal("2"))
    line = StatementLine("RE-9", "RE-9", date(2026, 11, 30), date(2026, 12, 30), 0, eur("1234.50"), "open", offer)
    text = text_of(render_statement_pdf(StatementPdfInput(SELLER, statement("en", lines=(line,), credits=(),
                                                                            payments=()), None)).body)
    assert "Statement of account as of Dec 7, 2026" in text and "€1,234.50" in text
    assert "pay €1,209.81 for invoice RE-9 by Dec 10, 2026 (2 % discount)" in text


def test_nothing_open_says_so_and_asks_for_no_transfer():
    text = text_of(render_statement_pdf(StatementPdfInput(SELLER, statement("fr", lines=(), credits=(), payments=(),
                                                                            totals={}), None)).body)
    assert "Aucune somme n'est due" in text and "IBAN" not in text


def test_the_statement_email_names_the_balance_in_the_customers_language():
    mail = render_statement_mail(StatementMailInput("de", "Kunde AG", "Frau Meier", date(2026, 12, 1),
                                                    {"EUR": eur("1634.50")}, SELLER))
    assert mail.subject == "Kontoauszug von Nordlicht GmbH zum 01.12.2026"
    assert "Guten Tag Frau Meier," in mail.text and "Saldo: 1.634,50 €." in mail.text.replace("\xa0", " ")
    assert '<html lang="de">' in mail.html
