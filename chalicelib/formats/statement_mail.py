"""The monthly statement email (statement_delivery: email), in the customer's language. Short: the PDF attached is
the statement; the mail says what it is, the balance per currency, and how to reach the seller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from chalicelib.domain.money import Money
from chalicelib.formats.invoice_mail import InvoiceMail
from chalicelib.formats.messages import Seller, format_day, format_money, message_locale

_WORDS: dict[str, dict[str, str]] = {
    "en": {"subject": "Statement of account from {seller} as of {day}", "hello": "Hello {name},",
           "body": "please find attached your statement of account as of {day}.", "balance": "Balance: {amounts}.",
           "nothing": "Nothing is open on your account.", "questions": "Questions? Write to {email}.",
           "bye": "Kind regards"},
    "de": {"subject": "Kontoauszug von {seller} zum {day}", "hello": "Guten Tag {name},",
           "body": "anbei erhalten Sie Ihren Kontoauszug zum {day}.", "balance": "Saldo: {amounts}.",
           "nothing": "Auf Ihrem Konto ist nichts offen.", "questions": "Fragen? Schreiben Sie an {email}.",
           "bye": "Mit freundlichen Grüßen"},
    "fr": {"subject": "Relevé de compte de {seller} au {day}", "hello": "Bonjour {name},",
           "body": "veuillez trouver ci-joint votre relevé de compte au {day}.", "balance": "Solde : {amounts}.",
           "nothing": "Aucune somme n'est due sur votre compte.", "questions": "Des questions ? Écrivez à {email}.",
           "bye": "Cordialement"},
    "es": {"subject": "Extracto de cuenta de {seller} a {day}", "hello": "Hola {name}:",
           "body": "adjuntamos su extracto de cuenta a {day}.", "balance": "Saldo: {amounts}.",
           "nothing": "No hay nada pendiente en su cuenta.", "questions": "¿Preguntas? Escriba a {email}.",
           "bye": "Saludos cordiales"},
}


@dataclass(frozen=True)
class StatementMailInput:
    language: str | None
    customer_name: str
    contact_name: str | None
    as_of: date
    totals: dict[str, Money]
    seller: Seller


def render_statement_mail(data: StatementMailInput) -> InvoiceMail:
    where = message_locale(data.language)
    w = _WORDS.get(where.templates.split("-")[0], _WORDS["en"])
    seller = data.seller
    day = format_day(data.as_of, where.formatting, "long")
    amounts = ", ".join(format_money(Decimal(t.amount), t.currency, where.formatting)
                        for _c, t in sorted(data.totals.items()))
    subject = w["subject"].format(seller=seller.name, day=format_day(data.as_of, where.formatting))
    paragraphs = [w["hello"].format(name=data.contact_name or data.customer_name), w["body"].format(day=day),
                  w["balance"].format(amounts=amounts) if amounts else w["nothing"],
                  w["questions"].format(email=seller.email)]
    signature = [line for line in (w["bye"], seller.name, *seller.address_lines, seller.email, seller.phone or "")
                 if line]
    text = "\n\n".join(paragraphs) + "\n\n" + "\n".join(signature) + "\n"
    html = (f'<!DOCTYPE html><html lang="{escape(where.lang)}"><head><meta charset="utf-8"><title>{escape(subject)}'
            "</title></head><body>" + "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
            + "<p>" + "<br>".join(escape(line) for line in signature) + "</p></body></html>")
    return InvoiceMail(subject, html, text, where.lang)
