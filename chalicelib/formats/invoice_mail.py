"""The email that carries an invoice to the customer (invoice_delivery: email), in the customer's language. Short on
purpose: the PDF is the document; the mail says what it is, what is due by when, and how to reach the seller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from chalicelib.formats.messages import Seller, format_day, format_money, message_locale

_WORDS: dict[str, dict[str, str]] = {
    "en": {"subject": "Invoice {number} from {seller}", "corrected": "Corrected invoice {number} from {seller}",
           "hello": "Hello {name},", "body": "please find attached invoice {number} of {issued} over {amount}, "
           "due on {due}.", "body_corrected": "please find attached the corrected invoice {number} of {issued}: it "
           "replaces the version we sent before. {amount} is due on {due}.", "xml": "The original e-invoice (UBL XML) "
           "is attached as well.", "bye": "Kind regards"},
    "de": {"subject": "Rechnung {number} von {seller}", "corrected": "Korrigierte Rechnung {number} von {seller}",
           "hello": "Guten Tag {name},", "body": "anbei erhalten Sie unsere Rechnung {number} vom {issued} über "
           "{amount}, fällig am {due}.", "body_corrected": "anbei erhalten Sie die korrigierte Rechnung {number} vom "
           "{issued}; sie ersetzt die zuvor gesendete Fassung. Fällig sind {amount} am {due}.", "xml":
           "Die Original-E-Rechnung (UBL-XML) liegt ebenfalls bei.", "bye": "Mit freundlichen Grüßen"},
    "fr": {"subject": "Facture {number} de {seller}", "corrected": "Facture rectifiée {number} de {seller}",
           "hello": "Bonjour {name},", "body": "veuillez trouver ci-joint la facture {number} du {issued} d'un "
           "montant de {amount}, payable le {due}.", "body_corrected": "veuillez trouver ci-joint la facture "
           "rectifiée {number} du {issued}, qui remplace la version envoyée précédemment. {amount} sont payables le "
           "{due}.", "xml": "La facture électronique originale (UBL XML) est également jointe.",
           "bye": "Cordialement"},
    "es": {"subject": "Factura {number} de {seller}", "corrected": "Factura rectificada {number} de {seller}",
           "hello": "Hola {name}:", "body": "adjuntamos la factura {number} del {issued} por {amount}, con "
           "vencimiento el {due}.", "body_corrected": "adjuntamos la factura rectificada {number} del {issued}, que "
           "sustituye a la versión enviada anteriormente. Vencen {amount} el {due}.", "xml":
           "También adjuntamos la factura electrónica original (UBL XML).", "bye": "Saludos cordiales"},
}


@dataclass(frozen=True)
class InvoiceMail:
    subject: str
    html: str
    text: str
    lang: str


def render_invoice_mail(language: str | None, customer_name: str, contact_name: str | None, number: str,
                        issued: date, due: date, amount: Decimal, currency: str, seller: Seller, *,
                        corrected: bool = False, with_xml: bool = False) -> InvoiceMail:
    where = message_locale(language)
    w = _WORDS.get(where.templates.split("-")[0], _WORDS["en"])
    values = {"number": number, "seller": seller.name, "name": contact_name or customer_name,
              "issued": format_day(issued, where.formatting), "due": format_day(due, where.formatting),
              "amount": format_money(amount, currency, where.formatting)}
    subject = w["corrected" if corrected else "subject"].format(**values)
    paragraphs = [w["hello"].format(**values), w["body_corrected" if corrected else "body"].format(**values)]
    if with_xml:
        paragraphs.append(w["xml"])
    signature = [w["bye"], seller.name, *seller.address_lines, seller.email, seller.phone or ""]
    signature = [line for line in signature if line]
    text = "\n\n".join(paragraphs) + "\n\n" + "\n".join(signature) + "\n"
    html = (f'<!DOCTYPE html><html lang="{escape(where.lang)}"><head><meta charset="utf-8"><title>{escape(subject)}'
            "</title></head><body>" + "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
            + "<p>" + "<br>".join(escape(line) for line in signature) + "</p></body></html>")
    return InvoiceMail(subject, html, text, where.lang)
