"""The dunning service's view of the templates: invoices and charges in, subject / HTML / text / SMS out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from urllib.parse import quote

from chalicelib.domain.customer import Contact, Customer
from chalicelib.domain.dunning.charges import EarlyPaymentDiscount
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.plans import InstalmentProgress, PaymentPlan
from chalicelib.formats.messages import InvoiceLine, Seller, render_reminder_email, render_reminder_sms


class ReminderRenderer:
    def __init__(self, seller: Seller, pay_url_template: str | None = None) -> None:
        self.seller = seller
        self.pay_url_template = pay_url_template  # e.g. "https://pay.example.com/i/{invoice_id}"

    def line(self, invoice: Invoice, principal: Money, charges: Sequence[tuple[str, Money]], today: date,
             discount: EarlyPaymentDiscount | None, undelivered: bool = False) -> InvoiceLine:
        return InvoiceLine(
            number=invoice.number, issue_date=invoice.issue_date, due_date=invoice.due_date,
            currency=invoice.currency, total=invoice.total.amount, balance=principal.amount,
            days_overdue=(today - invoice.due_date).days,
            charges=tuple((code, amount.amount) for code, amount in charges),
            pay_url=self.pay_url(invoice),
            discount=None if discount is None else (discount.amount.amount, discount.last_day),
            undelivered=undelivered,
        )

    def pay_url(self, invoice: Invoice) -> str | None:
        if not self.pay_url_template:
            return None
        # Invoice numbers come from ERPs ("RE 2026/17", "#12"): encoded, they cannot change the link's path or query.
        return self.pay_url_template.format(invoice_id=quote(invoice.invoice_id, safe=""),
                                            number=quote(invoice.number, safe=""))

    def instalment_line(self, plan: PaymentPlan, row: InstalmentProgress, today: date) -> InvoiceLine:
        """A payment plan's instalment as a reminder line: numbered "2/6", what is still open on it."""
        instalment = row.instalment
        return InvoiceLine(
            number=f"{instalment.number}/{len(plan.instalments)}", issue_date=plan.created_at.date(),
            due_date=instalment.due_date, currency=plan.currency, total=row.amount.amount,
            balance=row.remaining.amount, days_overdue=(today - instalment.due_date).days)

    def email(self, tone: str, customer: Customer, contact: Contact, lines: Sequence[Any], today: date,
              deadline: date | None, promise_date: date | None = None,
              payment_reference: str | None = None, portal_url: str | None = None) -> tuple[str, str, str]:
        rendered = render_reminder_email(tone, contact.language or customer.language, customer.name, lines,
                                         self.seller, today, contact_name=contact.name, deadline=deadline,
                                         promise_date=promise_date, payment_reference=payment_reference,
                                         portal_url=portal_url)
        return rendered.subject, rendered.html, rendered.text

    def sms(self, tone: str, customer: Customer, lines: Sequence[Any], today: date, deadline: date | None,
            promise_date: date | None = None, portal_url: str | None = None) -> str:
        return render_reminder_sms(tone, customer.language, customer.name, lines, self.seller, today,
                                   deadline=deadline, promise_date=promise_date, portal_url=portal_url)
