"""Use case: how a customer pays from the portal: bank transfer details per invoice, and card checkout through
Stripe where the seller configured it.

`options` is what the pay page shows: per invoice the amount to pay now (the open amount less what an open
dispute holds back, or the discounted amount while the early-payment window is open), its ISO 11649 RF
reference (bank-statement matching decodes it back to the invoice), the seller's account, and for EUR an EPC QR
code ("GiroCode") as inline SVG. `checkout` creates a Stripe Checkout Session when the payer clicks "Pay now"
and returns its URL (never mailed: a session lives at most a day). The money comes back through the Stripe
webhook (formats/processors/stripe.py) with the payment intent as `payment_ref`, so the payment service counts
it once whichever of `checkout.session.completed` and `payment_intent.succeeded` arrives first.

Ownership is checked here too (an invoice of another customer is NotFound), so a page that forgets cannot
leak: the portal's cross-customer walk test relies on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from chalicelib.domain.customer import Customer
from chalicelib.domain.discounts import discount_offer
from chalicelib.domain.dunning.charges import EarlyPaymentDiscount
from chalicelib.domain.errors import InvalidDocument, NotAllowed, NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.services.ports import CardCheckout, CheckoutLine, CheckoutRequest, CheckoutUnavailable

# Stripe's limits on what carries the invoice numbers: client_reference_id (200 characters) and each metadata
# value (500). A checkout whose numbers do not fit asks the payer to choose fewer invoices.
MAX_CLIENT_REFERENCE = 200
MAX_METADATA_VALUE = 500
MAX_CHECKOUT_INVOICES = 50


@dataclass(frozen=True)
class BankDetails:
    """The seller's account, as the customer types it into a transfer."""

    account_holder: str
    iban: str  # electronic form, DE89370400440532013000
    iban_display: str  # groups of four, DE89 3704 0044 0532 0130 00
    bic: str | None


@dataclass(frozen=True)
class InvoicePayment:
    """One invoice on the pay page."""

    invoice_id: str
    number: str
    due_date: date
    open_amount: Money  # the balance
    amount_now: Money  # what settles it if paid now: open amount less disputed part, or the discounted amount
    discount: EarlyPaymentDiscount | None  # the early-payment offer still open today, when it applies
    rf_reference: str | None  # ISO 11649, compact (RF18INV20261012); None when the number does not fit one
    reference: str  # what to quote on the transfer: the RF reference in print form, else the invoice number
    epc_qr_svg: str | None  # inline <svg> of the EPC QR code: EUR with a seller IBAN only


@dataclass(frozen=True)
class PaymentOptions:
    card: bool  # "Pay now" by card (Stripe configured)
    bank: BankDetails | None  # None: the seller has no IBAN configured
    invoices: tuple[InvoicePayment, ...]  # the chosen invoices with something to pay, in the order given
    totals: dict[str, Money]  # amount_now per currency


def epc_qr_svg(payload: str, title: str = "EPC QR code (GiroCode)") -> str:
    """The EPC payload as an inline SVG (segno; error correction M as EPC069-12 asks) named by `title` (what a
    screen reader says). No style attributes: the portal's CSP allows no inline styles."""
    import segno

    qr = segno.make_qr(payload, error="m", boost_error=False, encoding="utf-8")
    return str(qr.svg_inline(scale=4, border=4, svgclass="epc-qr", lineclass=None, title=title))


class PortalPayments:
    def __init__(self, seller_name: str, seller_iban: str | None, seller_bic: str | None,
                 card: CardCheckout | None = None, qr: Callable[[str, str], str] | None = None) -> None:
        self.seller_name = seller_name
        self.seller_iban = seller_iban
        self.seller_bic = seller_bic
        self.card = card
        self.qr = qr or epc_qr_svg

    # ---- bank transfer and what is due -------------------------------------------------------------

    def options(self, customer: Customer, invoices: Sequence[Invoice], today: date) -> PaymentOptions:
        from chalicelib.formats.bank.references import format_rf
        from chalicelib.formats.invoice_pdf import invoice_rf, words
        from chalicelib.formats.messages import format_iban

        qr_title = f"EPC QR: {words(customer.language or 'en')['qr']}"  # the invoice PDF's wording

        bank = None
        if self.seller_iban:
            bank = BankDetails(self.seller_name, self.seller_iban, format_iban(self.seller_iban), self.seller_bic)
        lines: list[InvoicePayment] = []
        totals: dict[str, Money] = {}
        for invoice in self._owned(customer, invoices):
            amount, discount = self.amount_now(customer, invoice, today)
            if amount.amount <= 0:
                continue
            rf = invoice_rf(invoice.number)
            lines.append(InvoicePayment(
                invoice_id=invoice.invoice_id, number=invoice.number, due_date=invoice.due_date,
                open_amount=invoice.balance, amount_now=amount, discount=discount, rf_reference=rf,
                reference=format_rf(rf) if rf else invoice.number,
                epc_qr_svg=self._qr(invoice, amount, rf, qr_title)))
            totals[amount.currency] = totals.get(amount.currency, Money.zero(amount.currency)) + amount
        return PaymentOptions(card=self.card_available(), bank=bank, invoices=tuple(lines), totals=totals)

    def card_available(self) -> bool:
        return self.card is not None and self.card.available()

    @staticmethod
    def amount_now(customer: Customer, invoice: Invoice, today: date) -> tuple[Money, EarlyPaymentDiscount | None]:
        """What settles the invoice if paid today: the balance less what an open dispute holds back; inside the
        early-payment window (and with no dispute open) the balance less the discount: the offer a payment
        received today earns (domain/discounts.py, the rule the payment service applies when the money arrives)."""
        zero = Money.zero(invoice.currency)
        if invoice.void or invoice.balance.amount <= 0:
            return zero, None
        if invoice.disputed_open.is_zero:
            discount = discount_offer(invoice, customer.payment_terms, today)
            if discount is not None:
                return discount.pay_amount, discount
        return max(zero, invoice.undisputed_balance), None

    def _qr(self, invoice: Invoice, amount: Money, rf: str | None, title: str) -> str | None:
        if not self.seller_iban or invoice.currency != "EUR":
            return None
        from chalicelib.formats.invoice_pdf import EpcError, epc_payload

        try:
            payload = epc_payload(name=self.seller_name, iban=self.seller_iban, bic=self.seller_bic,
                                  amount=amount.amount, rf=rf, text=None if rf else invoice.number)
        except EpcError:
            return None
        return self.qr(payload, title)

    @staticmethod
    def _owned(customer: Customer, invoices: Sequence[Invoice]) -> list[Invoice]:
        seen: dict[str, Invoice] = {}
        for invoice in invoices:
            if invoice.customer_id != customer.customer_id:
                raise NotFound("invoice", invoice.invoice_id)  # never say it exists
            seen.setdefault(invoice.invoice_id, invoice)
        return list(seen.values())

    # ---- card checkout -----------------------------------------------------------------------------

    def checkout(self, customer: Customer, invoices: Sequence[Invoice], today: date, success_url: str,
                 cancel_url: str, *, payer_email: str | None = None) -> str:
        """A new (or, for the same invoices and amounts on the same day, the same) Stripe Checkout Session for
        the chosen invoices' amounts due now; returns its URL for a 303 redirect."""
        if self.card is None or not self.card.available():
            raise NotAllowed("card payment is not configured: pay by bank transfer")
        owned = self._owned(customer, invoices)
        if not owned:
            raise InvalidDocument("choose at least one invoice to pay", field="invoice_ids")
        if len(owned) > MAX_CHECKOUT_INVOICES:
            raise InvalidDocument(f"at most {MAX_CHECKOUT_INVOICES} invoices in one payment", field="invoice_ids")
        lines: list[CheckoutLine] = []
        for invoice in owned:
            amount, _discount = self.amount_now(customer, invoice, today)
            if amount.amount <= 0:
                raise InvalidDocument(f"invoice {invoice.number} has nothing to pay", field="invoice_ids")
            lines.append(CheckoutLine(invoice.invoice_id, invoice.number, amount))
        currencies = {line.amount.currency for line in lines}
        if len(currencies) != 1:
            raise InvalidDocument("one payment is in one currency: choose invoices of one currency",
                                  field="invoice_ids")
        numbers = ",".join(line.number for line in lines)
        if len(numbers) > MAX_CLIENT_REFERENCE:
            raise InvalidDocument("too many invoices for one payment: choose fewer", field="invoice_ids")
        request = CheckoutRequest(
            customer_id=customer.customer_id, currency=currencies.pop(), lines=tuple(lines),
            success_url=success_url, cancel_url=cancel_url,
            idempotency_key=checkout_key(customer.customer_id, lines, today, success_url, cancel_url),
            locale=(customer.language or "").split("-")[0] or None, payer_email=payer_email, initiated_on=today)
        return self.card.create_session(request)


def checkout_key(customer_id: str, lines: Sequence[CheckoutLine], today: date, success_url: str,
                 cancel_url: str) -> str:
    """One key per (customer, invoices, amounts, day): a double click, a reload or a second tab get the same
    session from Stripe (it keeps idempotency keys 24 hours; a session lives 24 hours). The URLs are part of it:
    Stripe refuses a key reused with other parameters."""
    parts = [customer_id, today.isoformat(), success_url, cancel_url]
    parts += [f"{line.invoice_id}={line.amount.amount}{line.amount.currency}"
              for line in sorted(lines, key=lambda line: line.invoice_id)]
    return "dunwell-checkout-" + hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:40]


__all__ = [
    "BankDetails",
    "CardCheckout",
    "CheckoutLine",
    "CheckoutRequest",
    "CheckoutUnavailable",
    "InvoicePayment",
    "PaymentOptions",
    "PortalPayments",
    "checkout_key",
    "epc_qr_svg",
]
