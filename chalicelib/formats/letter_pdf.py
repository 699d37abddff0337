"""A dunning letter for the post: a DIN 5008 form B business letter as a PDF, for a C5/C6 or DL window envelope.

Pure: the letter's parts in, PDF bytes out. The wording is the email's (the same templates, the customer's
language): its text part, without the email's header and footer, laid out as a letter. Around it the letter adds
what paper needs: the seller's letterhead, the sender's return line and the recipient's address in the envelope
window, the date and customer number in the information block, the subject, fold and hole marks, and, for a letter
about several invoices, each invoice's RF creditor reference (a single invoice's is in the text's bank details).

Form B geometry (DIN 5008, A4): the address field is 45 mm from the top and 20 mm from the left edge, 85 x 45 mm:
a 17.7 mm zone for the return line and remarks, then a 27.3 mm zone for up to six address lines; the text starts
25 mm from the left; fold marks at 105 mm and 210 mm, the hole mark at 148.5 mm.

fpdf2 is imported only when a letter is rendered (cold start), with the vendored DejaVu Sans (the euro sign)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.domain.customer import Customer
from chalicelib.formats.countries import country_name
from chalicelib.formats.invoice_pdf import a4_document
from chalicelib.formats.messages import Seller, format_day, format_money, message_locale

# Millimetres on an A4 page (210 x 297).
ADDRESS_FIELD_TOP = 45.0
ADDRESS_FIELD_LEFT = 20.0
ADDRESS_FIELD_WIDTH = 85.0
ADDRESS_FIELD_HEIGHT = 45.0
REMARK_ZONE_HEIGHT = 17.7
ADDRESS_LINES = 6
TEXT_LEFT = 25.0
TEXT_RIGHT = 20.0
TEXT_WIDTH = 210.0 - TEXT_LEFT - TEXT_RIGHT
INFO_LEFT = 125.0
SUBJECT_TOP = 98.5
FOLD_MARKS = (105.0, 210.0)
HOLE_MARK = 148.5

_WORDS: dict[str, dict[str, str]] = {
    "en": {"date": "Date", "customer": "Customer number", "references": "Payment references",
           "invoice": "Invoice", "due": "Due", "amount": "Amount due", "rf": "Reference",
           "page": "Page {page} of {pages}"},
    "de": {"date": "Datum", "customer": "Kundennummer", "references": "Zahlungsreferenzen",
           "invoice": "Rechnung", "due": "Fällig", "amount": "Offen", "rf": "Verwendungszweck",
           "page": "Seite {page} von {pages}"},
    "fr": {"date": "Date", "customer": "Numéro client", "references": "Références de paiement",
           "invoice": "Facture", "due": "Échéance", "amount": "Montant dû", "rf": "Référence",
           "page": "Page {page} sur {pages}"},
    "es": {"date": "Fecha", "customer": "Número de cliente", "references": "Referencias de pago",
           "invoice": "Factura", "due": "Vencimiento", "amount": "Pendiente", "rf": "Referencia",
           "page": "Página {page} de {pages}"},
}


@dataclass(frozen=True)
class LetterInvoice:
    number: str
    due_date: date
    currency: str
    amount_due: Decimal  # open balance plus charges, as the letter asks for it
    rf: str | None  # the formatted ISO 11649 reference, where the number fits one


@dataclass(frozen=True)
class LetterPdfInput:
    seller: Seller
    customer: Customer
    language: str | None  # the tag the text was rendered in
    letter_date: date
    subject: str
    text: str  # the email's text part, as rendered
    invoices: Sequence[LetterInvoice]


@dataclass(frozen=True)
class RenderedLetter:
    body: bytes
    pages: int


def letter_body(text: str, seller_name: str) -> list[list[str]]:
    """The email's text part as the letter's blocks (paragraphs, and an invoice's detail lines under its heading):
    without the email's header (the seller's name, which the letterhead shows) and its footer (after "-- ")."""
    content = text.replace("\r\n", "\n").split("\n-- \n", 1)[0]
    blocks = [[line.rstrip() for line in block.split("\n") if line.strip()] for block in content.split("\n\n")]
    blocks = [b for b in blocks if b]
    if blocks and blocks[0] == [seller_name]:
        blocks = blocks[1:]
    return blocks


def address_lines(customer: Customer, locale: Any) -> list[str]:
    """The recipient as the window shows it: name, street, town, the country in capitals; at most six lines."""
    lines = [customer.name]
    if customer.address is not None:
        lines.extend(customer.address.lines())
        if customer.address.country:
            lines.append(country_name(customer.address.country, locale).upper())
    return [line[:55] for line in lines[:ADDRESS_LINES]]


def new_letter(seller: Seller, customer: Customer, where: Any, title: str, page_words: str,
               info: Sequence[tuple[str, str]]) -> Any:
    """An FPDF document with the first page of a form B letter laid out: fold and hole marks, the letterhead, the
    return line and the recipient in the address field, the information block (`info`: label, value); the cursor
    at the subject line. Statements (formats/statement_pdf.py) start the same way."""
    loc = where.formatting
    pdf = a4_document(seller, where.lang, title, margins=(TEXT_LEFT, 20, TEXT_RIGHT), bottom=25, footer_from_bottom=18,
                      page_words=page_words)

    # Fold marks and the hole mark in the left margin (first page: the one that is folded into the envelope).
    pdf.set_draw_color(120, 120, 120)
    pdf.set_line_width(0.2)
    for y in FOLD_MARKS:
        pdf.line(4, y, 9, y)
    pdf.line(4, HOLE_MARK, 11, HOLE_MARK)
    pdf.set_draw_color(0, 0, 0)

    # Letterhead, above the address field.
    pdf.set_xy(TEXT_LEFT, 15)
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(TEXT_WIDTH, 7, seller.name, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8.5)
    for line in (*seller.address_lines, seller.email, seller.phone or ""):
        if line:
            pdf.cell(TEXT_WIDTH, 4.2, line, align="R", new_x="LMARGIN", new_y="NEXT")

    # The address field: the return line at the top of the remark zone, the recipient in the address zone.
    left = ADDRESS_FIELD_LEFT + 5  # text 5 mm inside the window's edge
    inner = ADDRESS_FIELD_WIDTH - 5
    pdf.set_xy(left, ADDRESS_FIELD_TOP + 3)
    pdf.set_font("DejaVu", "", 6.5)
    pdf.cell(inner, 3.5, " · ".join((seller.name, *seller.address_lines))[:95], border="B")
    pdf.set_font("DejaVu", "", 10)
    y = ADDRESS_FIELD_TOP + REMARK_ZONE_HEIGHT
    for line in address_lines(customer, loc):
        pdf.set_xy(left, y)
        pdf.cell(inner, 4.5, line)
        y += 4.5

    # The information block, right of the address field.
    y = ADDRESS_FIELD_TOP + 5
    for label, value in info:
        pdf.set_xy(INFO_LEFT, y)
        pdf.set_font("DejaVu", "", 8.5)
        pdf.cell(28, 5, label)
        pdf.set_font("DejaVu", "B", 8.5)
        pdf.cell(37, 5, value[:34], align="R")
        y += 5
    pdf.set_xy(TEXT_LEFT, SUBJECT_TOP)
    return pdf


def render_letter_pdf(data: LetterPdfInput) -> RenderedLetter:
    seller, customer = data.seller, data.customer
    where = message_locale(data.language)
    w = _WORDS.get(where.templates.split("-")[0], _WORDS["en"])
    loc = where.formatting
    pdf = new_letter(seller, customer, where, data.subject, w["page"], [
        (w["date"], format_day(data.letter_date, loc, "medium")), (w["customer"], customer.customer_id)])

    # Subject, then the email's wording.
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(TEXT_WIDTH, 5.5, data.subject, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    # Several invoices: their references right under the bank details (else at the end).
    references = len(data.invoices) > 1
    for block in letter_body(data.text, seller.name):
        _block(pdf, block)
        pdf.ln(3)
        if references and any(line.strip().startswith("IBAN") for line in block):
            _references(pdf, data.invoices, w, loc)
            pdf.ln(3)
            references = False
    if references:
        _references(pdf, data.invoices, w, loc)
    return RenderedLetter(bytes(pdf.output()), pdf.page_no())


def _block(pdf: Any, block: list[str]) -> None:
    details = [line for line in block if line.startswith("  ")]
    if not details:
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(TEXT_WIDTH, 5, "\n".join(block), align="L", new_x="LMARGIN", new_y="NEXT")
        return
    # A heading ("Invoice INV-1", "Pay to:") and its labelled detail lines as two columns.
    for line in block:
        if not line.startswith("  "):
            pdf.set_font("DejaVu", "B" if len(line) <= 60 else "", 10)
            pdf.multi_cell(TEXT_WIDTH, 5.5, line.strip(), align="L", new_x="LMARGIN", new_y="NEXT")
            continue
        label, sep, value = line.strip().partition(":")
        pdf.set_font("DejaVu", "", 9.5)
        pdf.set_x(TEXT_LEFT + 5)
        if not sep:
            pdf.multi_cell(TEXT_WIDTH - 5, 5, label, align="L", new_x="LMARGIN", new_y="NEXT")
            continue
        pdf.cell(62, 5, label.strip())
        pdf.set_font("DejaVu", "B" if label.strip() in ("IBAN", "BIC") else "", 9.5)
        pdf.multi_cell(TEXT_WIDTH - 67, 5, value.strip(), align="L", new_x="LMARGIN", new_y="NEXT")


def _references(pdf: Any, invoices: Sequence[LetterInvoice], w: dict[str, str], loc: Any) -> None:
    """Each invoice's structured reference: a transfer quoting it is matched to that invoice automatically."""
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(TEXT_WIDTH, 7, w["references"], new_x="LMARGIN", new_y="NEXT")
    widths = (40, 30, 35, TEXT_WIDTH - 105)
    pdf.set_draw_color(180, 180, 180)
    pdf.set_font("DejaVu", "B", 8.5)
    for width, head in zip(widths, (w["invoice"], w["due"], w["amount"], w["rf"]), strict=True):
        pdf.cell(width, 6, head, border="B", align="R" if head == w["amount"] else "L")
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 8.5)
    for invoice in invoices:
        pdf.cell(widths[0], 5.5, invoice.number[:24], border="B")
        pdf.cell(widths[1], 5.5, format_day(invoice.due_date, loc, "short"), border="B")
        pdf.cell(widths[2], 5.5, format_money(invoice.amount_due, invoice.currency, loc), border="B", align="R")
        pdf.cell(widths[3], 5.5, "   " + (invoice.rf or invoice.number), border="B", new_x="LMARGIN", new_y="NEXT")
