"""The email that answers a customer's payment plan request (from the portal), in the customer's language: accepted
(with the instalments, dates and amounts, formatted for the locale) or declined (with the collector's reason)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from chalicelib.domain.plans import Instalment
from chalicelib.formats.messages import Seller, format_day, format_money, message_locale
from chalicelib.services.plan_requests import AnswerMail

_WORDS: dict[str, dict[str, str]] = {
    "en": {"accepted_subject": "Your payment plan is agreed ({invoices})",
           "declined_subject": "Your payment plan request ({invoices})",
           "hello": "Hello {name},",
           "accepted": "we have agreed to your request to pay invoice(s) {invoices} in instalments. Please pay:",
           "row": "Instalment {number}: {amount} by {due}",
           "accepted_end": "We will remind you before each instalment is due.",
           "declined": "we are sorry: we cannot agree to your request to pay invoice(s) {invoices} in instalments.",
           "reason": "Reason: {reason}",
           "declined_end": "Please pay the open amount, or contact us to find another arrangement.",
           "bye": "Kind regards"},
    "de": {"accepted_subject": "Ihre Ratenzahlung ist vereinbart ({invoices})",
           "declined_subject": "Ihre Anfrage nach Ratenzahlung ({invoices})",
           "hello": "Guten Tag {name},",
           "accepted": "wir sind mit Ihrer Anfrage einverstanden, die Rechnung(en) {invoices} in Raten zu zahlen. "
                       "Bitte zahlen Sie:",
           "row": "Rate {number}: {amount} bis {due}",
           "accepted_end": "Wir erinnern Sie vor jeder Fälligkeit.",
           "declined": "leider können wir Ihrer Anfrage, die Rechnung(en) {invoices} in Raten zu zahlen, nicht "
                       "zustimmen.",
           "reason": "Begründung: {reason}",
           "declined_end": "Bitte zahlen Sie den offenen Betrag oder sprechen Sie uns für eine andere Lösung an.",
           "bye": "Mit freundlichen Grüßen"},
    "fr": {"accepted_subject": "Votre échéancier de paiement est accepté ({invoices})",
           "declined_subject": "Votre demande d'échéancier de paiement ({invoices})",
           "hello": "Bonjour {name},",
           "accepted": "nous acceptons votre demande de régler la ou les factures {invoices} en plusieurs fois. "
                       "Merci de payer :",
           "row": "Échéance {number} : {amount} au plus tard le {due}",
           "accepted_end": "Nous vous le rappellerons avant chaque échéance.",
           "declined": "nous sommes désolés : nous ne pouvons pas accepter votre demande de régler la ou les "
                       "factures {invoices} en plusieurs fois.",
           "reason": "Motif : {reason}",
           "declined_end": "Merci de régler le montant dû, ou de nous contacter pour trouver une autre solution.",
           "bye": "Cordialement"},
    "es": {"accepted_subject": "Su plan de pagos ha sido aceptado ({invoices})",
           "declined_subject": "Su solicitud de plan de pagos ({invoices})",
           "hello": "Hola {name}:",
           "accepted": "aceptamos su solicitud de pagar la(s) factura(s) {invoices} a plazos. Por favor, pague:",
           "row": "Plazo {number}: {amount} antes del {due}",
           "accepted_end": "Le recordaremos cada plazo antes de su vencimiento.",
           "declined": "lo sentimos: no podemos aceptar su solicitud de pagar la(s) factura(s) {invoices} a plazos.",
           "reason": "Motivo: {reason}",
           "declined_end": "Por favor, pague el importe pendiente o contáctenos para buscar otra solución.",
           "bye": "Saludos cordiales"},
}


class PlanRequestMailRenderer:
    def __init__(self, seller: Seller) -> None:
        self.seller = seller

    def __call__(self, language: str | None, name: str, answer: str, numbers: Sequence[str],
                 instalments: Sequence[Instalment], reason: str | None) -> AnswerMail:
        where = message_locale(language)
        w = _WORDS.get(where.templates.split("-")[0], _WORDS["en"])
        invoices = ", ".join(numbers[:10]) + (" …" if len(numbers) > 10 else "")
        values = {"name": name, "invoices": invoices, "reason": reason or ""}
        subject = w[f"{answer}_subject"].format(**values)
        paragraphs: list[str] = [w["hello"].format(**values), w[answer].format(**values)]
        rows = [w["row"].format(number=i.number, due=format_day(i.due_date, where.formatting),
                                amount=format_money(Decimal(i.amount.amount), i.amount.currency, where.formatting))
                for i in instalments]
        if answer == "declined" and reason:
            paragraphs.append(w["reason"].format(**values))
        closing = w[f"{answer}_end"]
        seller = self.seller
        signature = [line for line in [w["bye"], seller.name, *seller.address_lines, seller.email, seller.phone or ""]
                     if line]
        text = "\n\n".join(paragraphs) + ("\n\n" + "\n".join(rows) if rows else "") + "\n\n" + closing + "\n\n" \
            + "\n".join(signature) + "\n"
        html = (f'<!DOCTYPE html><html lang="{escape(where.lang)}"><head><meta charset="utf-8"><title>'
                f"{escape(subject)}</title></head><body>" + "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
                + ("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in rows) + "</ul>" if rows else "")
                + f"<p>{escape(closing)}</p><p>" + "<br>".join(escape(line) for line in signature)
                + "</p></body></html>")
        return AnswerMail(subject, html, text)
