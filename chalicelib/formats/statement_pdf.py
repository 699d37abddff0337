"""The statement of account as a PDF (services/statement.py's `Statement`), in the customer's language: a DIN 5008
form B letter (formats/letter_pdf.py: letterhead, window address, information block) listing the open invoices
with their days overdue and RF references, the unapplied credit notes, the recent payments, the totals per
currency, the early-payment offers still open, and the seller's bank details. Pure: the statement in, bytes out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.domain.money import Money
from chalicelib.formats.bank.references import format_rf
from chalicelib.formats.invoice_pdf import invoice_rf
from chalicelib.formats.letter_pdf import TEXT_WIDTH, RenderedLetter, new_letter
from chalicelib.formats.messages import Seller, format_day, format_iban, format_money, message_locale

if TYPE_CHECKING:
    from chalicelib.services.statement import Statement

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Statement of account as of {day}", "date": "Date", "customer": "Customer number",
        "intro": "Dear Sir or Madam, this is your account with {seller} as of {day}.",
        "open": "Open invoices", "number": "Invoice", "due": "Due", "overdue": "Days late", "status": "Status",
        "rf": "Reference", "amount": "Open amount", "nothing": "Nothing is open on your account. Thank you.",
        "credits": "Credit notes not yet applied", "credit": "Credit note", "sum": "Amount", "issued": "Date",
        "payments": "Payments received recently", "received": "Received", "paid_for": "For invoices",
        "on_account": "on account", "total_open": "Open invoices", "total_credits": "Less credit notes",
        "total_due": "Balance", "discount": "Early payment: pay {amount} for invoice {number} by {day} "
        "({percent} % discount).", "pay": "Please transfer the balance to:", "holder": "Account holder",
        "hint": "Please quote each invoice's reference: your payment is then matched automatically.",
        "questions": "Questions about your account: {email}", "open_status": "open",
        "partially_paid": "partly paid", "disputed": "disputed", "page": "Page {page} of {pages}",
    },
    "de": {
        "title": "Kontoauszug zum {day}", "date": "Datum", "customer": "Kundennummer",
        "intro": "Sehr geehrte Damen und Herren, hier der Stand Ihres Kontos bei {seller} zum {day}.",
        "open": "Offene Rechnungen", "number": "Rechnung", "due": "Fällig", "overdue": "Tage Verzug",
        "status": "Status", "rf": "Verwendungszweck", "amount": "Offen",
        "nothing": "Auf Ihrem Konto ist nichts offen. Vielen Dank.",
        "credits": "Noch nicht verrechnete Gutschriften", "credit": "Gutschrift", "sum": "Betrag", "issued": "Datum",
        "payments": "Zahlungseingänge der letzten Zeit", "received": "Eingang", "paid_for": "Für Rechnungen",
        "on_account": "a conto", "total_open": "Offene Rechnungen", "total_credits": "abzüglich Gutschriften",
        "total_due": "Saldo", "discount": "Skonto: Für Rechnung {number} zahlen Sie bei Zahlung bis zum {day} nur "
        "{amount} ({percent} % Skonto).", "pay": "Bitte überweisen Sie den Saldo an:", "holder": "Kontoinhaber",
        "hint": "Bitte geben Sie den Verwendungszweck jeder Rechnung an: Ihre Zahlung wird dann automatisch "
        "zugeordnet.", "questions": "Fragen zu Ihrem Konto: {email}", "open_status": "offen",
        "partially_paid": "teilbezahlt", "disputed": "beanstandet", "page": "Seite {page} von {pages}",
    },
    "fr": {
        "title": "Relevé de compte au {day}", "date": "Date", "customer": "Numéro client",
        "intro": "Madame, Monsieur, voici la situation de votre compte chez {seller} au {day}.",
        "open": "Factures ouvertes", "number": "Facture", "due": "Échéance", "overdue": "Jours retard",
        "status": "Statut", "rf": "Référence", "amount": "Montant dû",
        "nothing": "Aucune somme n'est due sur votre compte. Merci.",
        "credits": "Avoirs non encore imputés", "credit": "Avoir", "sum": "Montant", "issued": "Date",
        "payments": "Paiements reçus récemment", "received": "Reçu le", "paid_for": "Pour les factures",
        "on_account": "acompte", "total_open": "Factures ouvertes", "total_credits": "Moins les avoirs",
        "total_due": "Solde", "discount": "Escompte : payez {amount} pour la facture {number} avant le {day} "
        "({percent} % d'escompte).", "pay": "Merci de virer le solde à :", "holder": "Titulaire du compte",
        "hint": "Merci d'indiquer la référence de chaque facture : votre paiement sera rapproché automatiquement.",
        "questions": "Questions sur votre compte : {email}", "open_status": "ouverte",
        "partially_paid": "payée en partie", "disputed": "contestée", "page": "Page {page} sur {pages}",
    },
    "es": {
        "title": "Extracto de cuenta a {day}", "date": "Fecha", "customer": "Número de cliente",
        "intro": "Estimados señores: este es el estado de su cuenta con {seller} a {day}.",
        "open": "Facturas pendientes", "number": "Factura", "due": "Vencimiento", "overdue": "Días retraso",
        "status": "Estado", "rf": "Referencia", "amount": "Pendiente",
        "nothing": "No hay nada pendiente en su cuenta. Gracias.",
        "credits": "Abonos aún no aplicados", "credit": "Abono", "sum": "Importe", "issued": "Fecha",
        "payments": "Pagos recibidos recientemente", "received": "Recibido", "paid_for": "Para las facturas",
        "on_account": "a cuenta", "total_open": "Facturas pendientes", "total_credits": "Menos abonos",
        "total_due": "Saldo", "discount": "Pronto pago: pague {amount} por la factura {number} antes del {day} "
        "({percent} % de descuento).", "pay": "Por favor, transfiera el saldo a:", "holder": "Titular de la cuenta",
        "hint": "Indique la referencia de cada factura: su pago se asignará automáticamente.",
        "questions": "Preguntas sobre su cuenta: {email}", "open_status": "pendiente",
        "partially_paid": "pagada en parte", "disputed": "en disputa", "page": "Página {page} de {pages}",
    },
}


def statement_words(language: str | None) -> dict[str, str]:
    where = message_locale(language)
    return _WORDS.get(where.templates.split("-")[0], _WORDS["en"])


@dataclass(frozen=True)
class StatementPdfInput:
    seller: Seller
    statement: Statement
    language: str | None


def render_statement_pdf(data: StatementPdfInput) -> RenderedLetter:
    seller, statement = data.seller, data.statement
    customer = statement.customer
    where = message_locale(data.language if data.language is not None else customer.language)
    w = _WORDS.get(where.templates.split("-")[0], _WORDS["en"])
    loc = where.formatting

    def money(amount: Money) -> str:
        return format_money(Decimal(amount.amount), amount.currency, loc)

    def day(value: Any, style: str = "medium") -> str:
        return format_day(value, loc, style)

    title = w["title"].format(day=day(statement.as_of))
    pdf = new_letter(seller, customer, where, title, w["page"], [
        (w["date"], day(statement.as_of)), (w["customer"], customer.customer_id)])
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(TEXT_WIDTH, 5.5, title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(TEXT_WIDTH, 5, w["intro"].format(seller=seller.name, day=day(statement.as_of, "long")),
                   align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    heading = _heading(pdf)
    heading(w["open"])
    if not statement.lines:
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(TEXT_WIDTH, 5, w["nothing"], align="L", new_x="LMARGIN", new_y="NEXT")
    else:
        widths: tuple[float, ...] = (28.0, 20.0, 22.0, 25.0, 40.0, 30.0)
        _row(pdf, widths, (w["number"], w["due"], w["overdue"], w["status"], w["rf"], w["amount"]), bold=True)
        for line in statement.lines:
            rf = invoice_rf(line.number)
            status = w["open_status"] if line.status == "open" else w.get(line.status, line.status)
            _row(pdf, widths, (line.number[:22], day(line.due_date, "short"),
                               str(line.days_overdue) if line.days_overdue else "-", status,
                               format_rf(rf) if rf else line.number[:22], money(line.open_amount)))
    if statement.credits:
        pdf.ln(3)
        heading(w["credits"])
        widths = (60.0, 40.0, 65.0)
        _row(pdf, widths, (w["credit"], w["issued"], w["sum"]), bold=True)
        for credit in statement.credits:
            _row(pdf, widths, (credit.number[:40], day(credit.issued_on, "short"), money(credit.amount)))

    # Totals per currency: open invoices, less credits, the balance.
    pdf.ln(3)
    for currency, total in sorted(statement.totals.items()):
        open_total = statement.open_totals.get(currency, Money.zero(currency))
        credits = sum((c.amount for c in statement.credits if c.amount.currency == currency), Money.zero(currency))
        rows = [(w["total_open"], money(open_total))]
        if not credits.is_zero:
            rows.append((w["total_credits"], money(-credits)))
        for label, value in rows:
            pdf.set_font("DejaVu", "", 10)
            pdf.cell(TEXT_WIDTH - 45, 6, label)
            pdf.cell(45, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "B", 11)
        pdf.cell(TEXT_WIDTH - 45, 7, f"{w['total_due']} ({currency})", border="T")
        pdf.cell(45, 7, money(total), border="T", align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    offers = [line for line in statement.lines if line.discount is not None]
    if offers:
        pdf.ln(2)
        pdf.set_font("DejaVu", "", 9.5)
        for line in offers:
            offer = line.discount
            assert offer is not None
            pdf.multi_cell(TEXT_WIDTH, 5, w["discount"].format(
                amount=money(offer.pay_amount), number=line.number, day=day(offer.last_day),
                percent=format(offer.percent.normalize(), "f")), align="L", new_x="LMARGIN", new_y="NEXT")

    if statement.payments:
        pdf.ln(3)
        heading(w["payments"])
        widths = (35.0, 95.0, 35.0)
        _row(pdf, widths, (w["received"], w["paid_for"], w["sum"]), bold=True)
        for payment in statement.payments:
            _row(pdf, widths, (day(payment.received_on, "short"), (payment.reference or w["on_account"])[:70],
                               money(payment.amount)))

    if seller.iban and any(t.amount > 0 for t in statement.totals.values()):
        pdf.ln(4)
        heading(w["pay"])
        details = [(w["holder"], seller.name), ("IBAN", format_iban(seller.iban))]
        if seller.bic:
            details.append(("BIC", seller.bic))
        for label, value in details:
            pdf.set_font("DejaVu", "", 10)
            pdf.cell(40, 5.5, label)
            pdf.set_font("DejaVu", "B", 10)
            pdf.cell(TEXT_WIDTH - 40, 5.5, value, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 8.5)
        pdf.multi_cell(TEXT_WIDTH, 4.5, w["hint"], align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 9.5)
    pdf.multi_cell(TEXT_WIDTH, 5, w["questions"].format(email=seller.email), align="L", new_x="LMARGIN",
                   new_y="NEXT")
    return RenderedLetter(bytes(pdf.output()), pdf.page_no())


def _heading(pdf: Any) -> Callable[[str], None]:
    def heading(text: str) -> None:
        pdf.set_font("DejaVu", "B", 10)
        pdf.cell(TEXT_WIDTH, 7, text, new_x="LMARGIN", new_y="NEXT")

    return heading


def _row(pdf: Any, widths: tuple[float, ...], cells: tuple[str, ...], *, bold: bool = False) -> None:
    pdf.set_draw_color(180, 180, 180)
    pdf.set_font("DejaVu", "B" if bold else "", 8.5)
    last = len(cells) - 1
    for index, (width, text) in enumerate(zip(widths, cells, strict=True)):
        pdf.cell(width, 5.5, text, border="B", align="R" if index == last else "L",
                 new_x="LMARGIN" if index == last else "RIGHT", new_y="NEXT" if index == last else "TOP")
