"""Dunwell's rendering of an invoice as a PDF, in the customer's language, and the EPC QR code on it.

Pure: the invoice, the customer and the seller in, PDF bytes out. The ledger keeps an invoice's totals, not its
line items, so the PDF shows the totals and what happened to them since (charges, payments, credits), the amount
due and how to pay it: IBAN/BIC with an ISO 11649 creditor reference (bank statements decode it back to the
invoice number), the pay link, and for EUR an EPC QR code ("GiroCode", EPC069-12) a banking app scans.

fpdf2 and segno are imported here only, and this module only when a PDF is made (cold start: `import app`
imports neither). The font is DejaVu Sans, vendored under chalicelib/fonts/ (licence beside it): fpdf2's core
fonts are Latin-1 only, without the euro sign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from chalicelib.domain.customer import Customer
from chalicelib.domain.dunning.charges import EarlyPaymentDiscount, early_payment_discount
from chalicelib.domain.invoice import Invoice
from chalicelib.formats.bank.references import format_rf, rf_reference
from chalicelib.formats.countries import country_name
from chalicelib.formats.messages import Seller, format_day, format_iban, format_money, message_locale

FONTS = Path(__file__).resolve().parent.parent / "fonts"
_RF_BODY = re.compile(r"[^A-Za-z0-9]")

# ------------------------------------------------------------------------------------------------- EPC QR code

EPC_MAX_AMOUNT = Decimal("999999999.99")


class EpcError(ValueError):
    """The transfer cannot be put in an EPC QR code (not EUR, no IBAN, an amount out of range)."""


def epc_payload(*, name: str, iban: str, amount: Decimal, currency: str = "EUR", bic: str | None = None,
                rf: str | None = None, text: str | None = None) -> str:
    """The EPC069-12 (v2.1) payload of a SEPA credit transfer, as the QR code carries it.

    Lines: service tag ``BCD``, version ``002``, character set ``1`` (UTF-8), identification ``SCT``, BIC
    (optional in version 002), beneficiary name (at most 70), IBAN, amount ``EUR<amount>`` (0.01 to
    999999999.99, ``.`` decimals), purpose (empty), then a structured remittance (an RF reference, at most 35)
    *or* unstructured text (at most 140), never both. Trailing empty lines are left out; at most 331 bytes."""
    if currency != "EUR":
        raise EpcError("an EPC QR code carries euro transfers only")
    if not iban:
        raise EpcError("an EPC QR code needs the beneficiary's IBAN")
    if not (Decimal("0.01") <= amount <= EPC_MAX_AMOUNT):
        raise EpcError(f"amount {amount} is outside 0.01 to {EPC_MAX_AMOUNT}")
    if rf and text:
        raise EpcError("a structured reference and a remittance text exclude each other")
    name = " ".join(name.split())[:70]
    if not name:
        raise EpcError("an EPC QR code needs the beneficiary's name")
    compact_iban = re.sub(r"\s+", "", iban).upper()
    lines = ["BCD", "002", "1", "SCT", (bic or "").upper(), name, compact_iban,
             f"EUR{amount.quantize(Decimal('0.01'))}", "", re.sub(r"\s+", "", rf or "")[:35],
             " ".join((text or "").split())[:140]]
    while lines[-1] == "":
        lines.pop()
    payload = "\n".join(lines)
    if len(payload.encode("utf-8")) > 331:
        raise EpcError("payload is longer than 331 bytes")
    return payload


def invoice_rf(number: str) -> str | None:
    """The invoice's ISO 11649 creditor reference: RF + check digits + the number's letters and digits (bank
    matching reads the number back out of it), or None when that is longer than 21 characters."""
    body = _RF_BODY.sub("", number).upper()
    if not body or len(body) > 21:
        return None
    return rf_reference(body)


# ------------------------------------------------------------------------------------------------- wording

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice", "number": "Invoice number", "issued": "Invoice date", "due": "Due date",
        "customer": "Customer number", "reference": "Your reference", "summary": "Account of this invoice",
        "total": "Invoice total", "fee": "Late fee", "compensation": "Recovery compensation", "interest":
        "Late-payment interest", "paid": "Payments received", "credited": "Credit notes", "written_off":
        "Written off", "amount_due": "Amount due", "settled": "Nothing is due on this invoice.", "void":
        "This invoice has been cancelled.", "how_to_pay": "How to pay",
        "transfer": "Please transfer {amount} by {due} to:", "transfer_now": "Please transfer {amount} now to:",
        "holder": "Account holder", "rf": "Reference",
        "rf_hint": "Please quote the reference exactly: your payment is then matched automatically.",
        "pay_online": "Pay online", "qr": "Scan with your banking app", "discount":
        "Early payment: pay {amount} by {day} ({percent} % discount).", "totals_only":
        "Totals as recorded by our accounts receivable; the line items are on the original invoice.",
        "page": "Page {page} of {pages}",
        "discounted": "Early-payment discount",
    },
    "de": {
        "invoice": "Rechnung", "number": "Rechnungsnummer", "issued": "Rechnungsdatum", "due": "Fällig am",
        "customer": "Kundennummer", "reference": "Ihre Referenz", "summary": "Stand dieser Rechnung",
        "total": "Rechnungsbetrag", "fee": "Mahngebühr", "compensation": "Verzugspauschale", "interest":
        "Verzugszinsen", "paid": "Zahlungseingänge", "credited": "Gutschriften", "written_off": "Ausgebucht",
        "amount_due": "Offener Betrag", "settled": "Auf diese Rechnung ist nichts mehr offen.", "void":
        "Diese Rechnung wurde storniert.", "how_to_pay": "Zahlung",
        "transfer": "Bitte überweisen Sie {amount} bis zum {due} an:",
        "transfer_now": "Bitte überweisen Sie {amount} umgehend an:", "holder": "Kontoinhaber",
        "rf": "Verwendungszweck",
        "rf_hint": "Bitte geben Sie die Referenz genau so an: Ihre Zahlung wird dann automatisch zugeordnet.",
        "pay_online": "Online bezahlen", "qr": "Mit Ihrer Banking-App scannen (GiroCode)", "discount":
        "Skonto: Bei Zahlung bis zum {day} zahlen Sie nur {amount} ({percent} % Skonto).", "totals_only":
        "Beträge laut unserer Debitorenbuchhaltung; die Positionen stehen auf der Originalrechnung.",
        "page": "Seite {page} von {pages}",
        "discounted": "Skonto",
    },
    "fr": {
        "invoice": "Facture", "number": "Numéro de facture", "issued": "Date de facture", "due": "Échéance",
        "customer": "Numéro client", "reference": "Votre référence", "summary": "Situation de cette facture",
        "total": "Montant de la facture", "fee": "Frais de relance", "compensation":
        "Indemnité forfaitaire pour frais de recouvrement", "interest": "Intérêts de retard", "paid":
        "Paiements reçus", "credited": "Avoirs", "written_off": "Passé en perte", "amount_due": "Montant dû",
        "settled": "Plus rien n'est dû sur cette facture.", "void": "Cette facture a été annulée.",
        "how_to_pay": "Règlement", "transfer": "Merci de virer {amount} avant le {due} à :",
        "transfer_now": "Merci de virer {amount} sans délai à :",
        "holder": "Titulaire du compte", "rf": "Référence",
        "rf_hint": "Merci d'indiquer la référence telle quelle : votre paiement sera rapproché automatiquement.",
        "pay_online": "Payer en ligne", "qr": "Scannez avec votre application bancaire", "discount":
        "Escompte : payez {amount} avant le {day} ({percent} % d'escompte).", "totals_only":
        "Montants selon notre comptabilité clients ; le détail figure sur la facture originale.",
        "page": "Page {page} sur {pages}",
        "discounted": "Escompte pour paiement anticipé",
    },
    "es": {
        "invoice": "Factura", "number": "Número de factura", "issued": "Fecha de factura", "due": "Vencimiento",
        "customer": "Número de cliente", "reference": "Su referencia", "summary": "Estado de esta factura",
        "total": "Importe de la factura", "fee": "Gastos de reclamación", "compensation":
        "Compensación por costes de cobro", "interest": "Intereses de demora", "paid": "Pagos recibidos",
        "credited": "Abonos", "written_off": "Dado de baja", "amount_due": "Importe pendiente",
        "settled": "No queda nada pendiente en esta factura.", "void": "Esta factura ha sido anulada.",
        "how_to_pay": "Forma de pago", "transfer": "Por favor, transfiera {amount} antes del {due} a:",
        "transfer_now": "Por favor, transfiera {amount} cuanto antes a:",
        "holder": "Titular de la cuenta", "rf": "Referencia",
        "rf_hint": "Indique la referencia tal cual: su pago se asignará automáticamente.",
        "pay_online": "Pagar en línea", "qr": "Escanee con su app bancaria", "discount":
        "Pronto pago: pague {amount} antes del {day} ({percent} % de descuento).", "totals_only":
        "Importes según nuestra contabilidad de clientes; el detalle figura en la factura original.",
        "page": "Página {page} de {pages}",
        "discounted": "Descuento por pronto pago",
    },
}


def words(language: str) -> dict[str, str]:
    return _WORDS.get(language.split("-")[0], _WORDS["en"])


# ------------------------------------------------------------------------------------------------- the sheet


@dataclass(frozen=True)
class InvoicePdfInput:
    invoice: Invoice
    customer: Customer | None
    seller: Seller
    pay_url: str | None
    today: date
    discount: EarlyPaymentDiscount | None = None


class InvoicePdfRenderer:
    """What the invoice-documents use case calls: (invoice, customer, today) -> PDF bytes."""

    def __init__(self, seller: Seller, pay_url_template: str | None = None) -> None:
        self.seller = seller
        self.pay_url_template = pay_url_template

    def __call__(self, invoice: Invoice, customer: Customer | None, today: date) -> bytes:
        from chalicelib.formats.reminders import ReminderRenderer

        pay_url = ReminderRenderer(self.seller, self.pay_url_template).pay_url(invoice)
        discount = early_payment_discount(invoice, customer.payment_terms if customer else None, today)
        return render_invoice_pdf(InvoicePdfInput(invoice, customer, self.seller, pay_url, today, discount))


def a4_document(seller: Seller, lang: str, title: str, *, margins: tuple[float, float, float], bottom: float,
                footer_from_bottom: float, page_words: str) -> Any:
    """An A4 page of Dunwell's documents (invoices, letters, statements): the embedded DejaVu fonts, the document's
    language and title, and a footer with the seller's details and "page n of m" (`page_words`)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_compression(True)
    pdf.set_margins(*margins)
    pdf.set_auto_page_break(True, margin=bottom)
    pdf.add_font("DejaVu", "", FONTS / "DejaVuSans.ttf")
    pdf.add_font("DejaVu", "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.set_lang(lang)
    pdf.set_title(title)
    pdf.set_author(seller.name)
    pdf.set_creator("Dunwell")
    pages = "{nb}"
    pdf.alias_nb_pages(pages)

    def footer() -> None:
        pdf.set_y(-footer_from_bottom)
        pdf.set_font("DejaVu", "", 7)
        pdf.set_text_color(90, 90, 90)
        parts = [seller.name, *seller.address_lines, seller.email, seller.phone or ""]
        pdf.cell(0, 4, " · ".join(p for p in parts if p)[:150], align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 4, page_words.format(page=pdf.page_no(), pages=pages), align="C")
        pdf.set_text_color(0, 0, 0)

    pdf.footer = footer  # type: ignore[method-assign]
    pdf.add_page()
    return pdf


def render_invoice_pdf(data: InvoicePdfInput) -> bytes:
    invoice, customer, seller = data.invoice, data.customer, data.seller
    where = message_locale(customer.language if customer else None)
    w = words(where.templates)
    loc = where.formatting
    currency = invoice.currency

    def money(amount: Decimal) -> str:
        return format_money(amount, currency, loc)

    def day(value: date) -> str:
        return format_day(value, loc, "medium")

    pdf = a4_document(seller, where.lang, f"{w['invoice']} {invoice.number}", margins=(25, 15, 20), bottom=22,
                      footer_from_bottom=16, page_words=w["page"])

    # Letterhead, top right.
    pdf.set_xy(110, 15)
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(80, 7, seller.name, align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8.5)
    for line in (*seller.address_lines, seller.email, seller.phone or ""):
        if line:
            pdf.cell(80, 4.2, line, align="R", new_x="LEFT", new_y="NEXT")

    # The address in the window of a DIN 5008 form B letter (C5/6, DL): 45 mm from the top, 20 mm from the left
    # edge, 85 x 45 mm, with the sender's return line above the recipient.
    pdf.set_xy(25, 47)
    pdf.set_font("DejaVu", "", 6.5)
    pdf.cell(85, 3.5, " · ".join((seller.name, *seller.address_lines))[:110], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.set_y(52)
    for line in _address_block(customer, invoice, loc):
        pdf.cell(85, 4.8, line, new_x="LMARGIN", new_y="NEXT")

    # Invoice facts, right of the window.
    facts = [(w["number"], invoice.number), (w["issued"], day(invoice.issue_date)), (w["due"], day(invoice.due_date)),
             (w["customer"], invoice.customer_id)]
    if invoice.buyer_reference:
        facts.append((w["reference"], invoice.buyer_reference))
    y = 52.0
    for label, value in facts:
        pdf.set_xy(120, y)
        pdf.set_font("DejaVu", "", 8.5)
        pdf.cell(32, 5, label)
        pdf.set_font("DejaVu", "B", 8.5)
        pdf.cell(38, 5, value[:40], align="R")
        y += 5

    pdf.set_xy(25, 103)
    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(0, 9, f"{w['invoice']} {invoice.number}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(0, 5, w["totals_only"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(3)

    # The account of the invoice: total, charges, less what was paid, credited or written off, the amount due.
    rows: list[tuple[str, Decimal]] = [(w["total"], invoice.total.amount)]
    for charge in invoice.charges:
        label = w.get(charge.kind, charge.kind)
        rows.append((f"{label} ({day(charge.charged_on)})", charge.amount.amount))
    for key, amount in (("paid", invoice.paid.amount), ("credited", invoice.credited.amount),
                        ("written_off", invoice.written_off.amount), ("discounted", invoice.discounted.amount)):
        if amount:
            rows.append((w[key], -amount))
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(0, 7, w["summary"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(180, 180, 180)
    pdf.set_font("DejaVu", "", 10)
    for label, amount in rows:
        pdf.cell(120, 6.5, label, border="B")
        pdf.cell(45, 6.5, money(amount), border="B", align="R", new_x="LMARGIN", new_y="NEXT")
    due = invoice.balance.amount
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(120, 8, w["amount_due"])
    pdf.cell(45, 8, money(due), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    pdf.set_font("DejaVu", "", 10)
    if invoice.void:
        pdf.multi_cell(165, 5, align="L", text=w["void"], new_x="LMARGIN", new_y="NEXT")
    elif due <= 0:
        pdf.multi_cell(165, 5, align="L", text=w["settled"], new_x="LMARGIN", new_y="NEXT")
    else:
        _how_to_pay(pdf, data, w, money, day, due)
    return bytes(pdf.output())


def _address_block(customer: Customer | None, invoice: Invoice, loc: Any) -> list[str]:
    if customer is None:
        return [invoice.customer_id]
    lines = [customer.name]
    address = customer.address
    if address is not None:
        lines.extend(address.lines())
        if address.country:
            lines.append(country_name(address.country, loc).upper())
    return [line[:60] for line in lines[:8]]


def _how_to_pay(pdf: Any, data: InvoicePdfInput, w: dict[str, str], money: Any, day: Any, due: Decimal) -> None:
    invoice, seller = data.invoice, data.seller
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(0, 7, w["how_to_pay"], new_x="LMARGIN", new_y="NEXT")
    top = pdf.get_y()
    pdf.set_font("DejaVu", "", 10)
    if data.discount is not None:
        percent = format(data.discount.percent.normalize(), "f")
        pdf.multi_cell(115, 5, align="L", text=w["discount"].format(amount=money(data.discount.pay_amount.amount),
                                                     day=day(data.discount.last_day), percent=percent),
                       new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    rf = invoice_rf(invoice.number)
    if seller.iban:
        wording = w["transfer"] if data.today <= invoice.due_date else w["transfer_now"]
        pdf.multi_cell(115, 5, align="L", text=wording.format(amount=money(due), due=day(invoice.due_date)),
                       new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        details = [(w["holder"], seller.name), ("IBAN", format_iban(seller.iban))]
        if seller.bic:
            details.append(("BIC", seller.bic))
        details.append((w["rf"], format_rf(rf) if rf else invoice.number))
        for label, value in details:
            pdf.set_font("DejaVu", "", 10)
            pdf.cell(38, 5.5, label)
            pdf.set_font("DejaVu", "B", 10)
            pdf.cell(77, 5.5, value, new_x="LMARGIN", new_y="NEXT")
        if rf:
            pdf.set_font("DejaVu", "", 8)
            pdf.multi_cell(115, 4, align="L", text=w["rf_hint"], new_x="LMARGIN", new_y="NEXT")
    if data.pay_url:
        pdf.ln(2)
        pdf.set_font("DejaVu", "", 10)
        pdf.cell(38, 5.5, w["pay_online"])
        pdf.set_text_color(20, 70, 160)
        pdf.multi_cell(127, 5.5, align="L", text=data.pay_url, link=data.pay_url, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    if seller.iban and invoice.currency == "EUR":
        try:
            payload = epc_payload(name=seller.name, iban=seller.iban, bic=seller.bic, amount=due, rf=rf,
                                  text=None if rf else invoice.number)
        except EpcError:
            return
        size = 38.0
        _draw_qr(pdf, payload, 147, top + 1, size)
        pdf.set_xy(142, top + size + 2)
        pdf.set_font("DejaVu", "", 7)
        pdf.multi_cell(48, 3.5, align="C", text=w["qr"])


def _draw_qr(pdf: Any, payload: str, x: float, y: float, size: float) -> None:
    """The QR code as filled rectangles (vector, crisp at any zoom), one per run of dark modules in a row; EPC069-12
    asks for error correction level M."""
    import segno

    qr = segno.make_qr(payload, error="m", boost_error=False, encoding="utf-8")
    rows = [list(row) for row in qr.matrix]
    modules = len(rows)
    quiet = 4
    module = size / (modules + 2 * quiet)
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(rows):
        c = 0
        while c < modules:
            if row[c]:
                start = c
                while c < modules and row[c]:
                    c += 1
                pdf.rect(x + (quiet + start) * module, y + (quiet + r) * module, (c - start) * module, module,
                         style="F")
            else:
                c += 1
