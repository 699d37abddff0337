"""The portal's pay options (amount now, RF reference, bank details, EPC QR) and card checkout (fake processor)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.customer import Customer
from chalicelib.domain.errors import InvalidDocument, NotAllowed, NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.terms import PaymentTerms
from chalicelib.formats.bank.references import is_valid_rf, rf_payload
from chalicelib.formats.invoice_pdf import epc_payload
from chalicelib.services.portal_payments import CheckoutRequest, PortalPayments, checkout_key, epc_qr_svg

IBAN = "DE89370400440532013000"
BIC = "COBADEFFXXX"
TODAY = date(2026, 11, 5)


def m(text: str, currency: str = "EUR") -> Money:
    return Money.of(Decimal(text), currency)


def invoice(number: str = "INV-2026-1001", total: str = "1000.00", currency: str = "EUR", customer: str = "acme",
            **changes: object) -> Invoice:
    zero = m("0", currency)
    base = Invoice(number, number, customer, date(2026, 11, 1), date(2026, 12, 1), m(total, currency), zero, zero,
                   zero, zero)
    return replace(base, **changes)  # type: ignore[arg-type]


PLAIN = Customer("acme", "Acme GmbH", language="de")
SKONTO = Customer("acme", "Acme GmbH", language="de", payment_terms=PaymentTerms.parse("2/10 net 30"))


class FakeCard:
    def __init__(self, available: bool = True) -> None:
        self.is_available = available
        self.requests: list[CheckoutRequest] = []

    def available(self) -> bool:
        return self.is_available

    def create_session(self, request: CheckoutRequest) -> str:
        self.requests.append(request)
        return f"https://checkout.stripe.com/c/pay/cs_test_{len(self.requests)}"


def payments(card: FakeCard | None = None, iban: str | None = IBAN) -> tuple[PortalPayments, list[str]]:
    payloads: list[str] = []

    def qr(payload: str, title: str) -> str:
        payloads.append(payload)
        return f"<svg><title>{title}</title>{len(payloads)}</svg>"

    return PortalPayments("Nordlicht Handels GmbH", iban, BIC if iban else None, card=card, qr=qr), payloads


def test_bank_transfer_per_invoice_with_rf_reference_and_epc_qr_for_euro():
    service, payloads = payments()
    eur = invoice(applied_payments=m("250.00"))
    usd = invoice("US-77", "80.00", "USD")
    options = service.options(PLAIN, [eur, usd], TODAY)
    assert options.card is False
    assert options.bank is not None
    assert (options.bank.account_holder, options.bank.iban, options.bank.bic) == ("Nordlicht Handels GmbH", IBAN, BIC)
    assert options.bank.iban_display == "DE89 3704 0044 0532 0130 00"
    first, second = options.invoices
    assert first.amount_now == m("750.00") and first.open_amount == m("750.00") and first.discount is None
    assert first.rf_reference is not None and is_valid_rf(first.rf_reference)
    assert rf_payload(first.rf_reference) == "INV20261001"  # bank matching reads the number back out of it
    assert first.reference == " ".join(first.rf_reference[i:i + 4] for i in range(0, len(first.rf_reference), 4))
    # The EPC payload is the invoice PDF's (one builder): the amount due now and the RF reference.
    assert payloads == [epc_payload(name="Nordlicht Handels GmbH", iban=IBAN, bic=BIC, amount=Decimal("750.00"),
                                    rf=first.rf_reference)]
    assert first.epc_qr_svg == "<svg><title>EPC QR: Mit Ihrer Banking-App scannen (GiroCode)</title>1</svg>"
    assert second.epc_qr_svg is None and second.amount_now == m("80.00", "USD")  # no EPC code outside the euro
    assert options.totals == {"EUR": m("750.00"), "USD": m("80.00", "USD")}


def test_discounted_amount_inside_the_window_and_the_open_amount_after_it():
    service, payloads = payments()
    inside = service.options(SKONTO, [invoice()], date(2026, 11, 11)).invoices[0]
    assert inside.amount_now == m("980.00") and inside.discount is not None
    assert inside.discount.last_day == date(2026, 11, 11)
    assert "EUR980.00" in payloads[0]
    after = service.options(SKONTO, [invoice()], date(2026, 11, 12)).invoices[0]
    assert after.amount_now == m("1000.00") and after.discount is None


def test_disputed_part_is_held_back_and_earns_no_discount():
    service, _ = payments()
    part = service.options(SKONTO, [invoice(disputed_amount=m("100.00"))], TODAY).invoices[0]
    assert part.amount_now == m("900.00") and part.discount is None
    whole = service.options(SKONTO, [invoice(disputed=True)], TODAY)
    assert whole.invoices == () and whole.totals == {}


def test_paid_and_void_invoices_are_left_out():
    service, _ = payments()
    options = service.options(PLAIN, [invoice(applied_payments=m("1000.00")), invoice("V-1", void=True)], TODAY)
    assert options.invoices == ()


def test_without_an_iban_no_bank_details_and_no_qr():
    service, payloads = payments(iban=None)
    options = service.options(PLAIN, [invoice()], TODAY)
    assert options.bank is None and options.invoices[0].epc_qr_svg is None and payloads == []


def test_a_number_too_long_for_an_rf_reference_is_quoted_as_it_is():
    service, payloads = payments()
    line = service.options(PLAIN, [invoice("A-VERY-LONG-INVOICE-NUMBER-2026-000001")], TODAY).invoices[0]
    assert line.rf_reference is None and line.reference == "A-VERY-LONG-INVOICE-NUMBER-2026-000001"
    assert payloads[0].endswith("\n\nA-VERY-LONG-INVOICE-NUMBER-2026-000001")  # unstructured remittance instead


def test_another_customers_invoice_is_not_found():
    service, _ = payments(FakeCard())
    with pytest.raises(NotFound):
        service.options(PLAIN, [invoice(), invoice("X-1", customer="other")], TODAY)
    with pytest.raises(NotFound):
        service.checkout(PLAIN, [invoice("X-1", customer="other")], TODAY, "https://s", "https://c")


def test_card_offered_only_when_the_processor_is_configured():
    assert payments(FakeCard())[0].options(PLAIN, [invoice()], TODAY).card is True
    assert payments(FakeCard(available=False))[0].options(PLAIN, [invoice()], TODAY).card is False
    with pytest.raises(NotAllowed):
        payments(FakeCard(available=False))[0].checkout(PLAIN, [invoice()], TODAY, "https://s", "https://c")
    with pytest.raises(NotAllowed):
        payments(None)[0].checkout(PLAIN, [invoice()], TODAY, "https://s", "https://c")


def test_checkout_request_carries_amounts_numbers_and_a_stable_key():
    card = FakeCard()
    service, _ = payments(card)
    chosen = [invoice(), invoice("INV-2026-1002", "50.00")]
    url = service.checkout(SKONTO, chosen, date(2026, 11, 11), "https://portal/ok", "https://portal/back",
                           payer_email="ap@acme.example")
    assert url.startswith("https://checkout.stripe.com/")
    request = card.requests[0]
    assert request.currency == "EUR" and request.customer_id == "acme" and request.locale == "de"
    assert [(line.number, line.amount) for line in request.lines] == [
        ("INV-2026-1001", m("980.00")), ("INV-2026-1002", m("49.00"))]  # discounted inside the window
    assert request.invoice_numbers == "INV-2026-1001,INV-2026-1002"
    assert request.payer_email == "ap@acme.example"
    # Same invoices, amounts and day: same key (a double click gets the same session); another day or amount: new.
    service.checkout(SKONTO, list(reversed(chosen)), date(2026, 11, 11), "https://portal/ok", "https://portal/back")
    assert card.requests[1].idempotency_key == request.idempotency_key
    service.checkout(SKONTO, chosen, date(2026, 11, 12), "https://portal/ok", "https://portal/back")
    assert card.requests[2].idempotency_key != request.idempotency_key
    assert checkout_key("acme", request.lines, date(2026, 11, 11), "https://portal/ok", "https://portal/back") \
        == request.idempotency_key


def test_checkout_refuses_mixed_currencies_nothing_due_and_nothing_chosen():
    service, _ = payments(FakeCard())
    with pytest.raises(InvalidDocument, match="one currency"):
        service.checkout(PLAIN, [invoice(), invoice("US-1", "10.00", "USD")], TODAY, "https://s", "https://c")
    with pytest.raises(InvalidDocument, match="nothing to pay"):
        service.checkout(PLAIN, [invoice(applied_payments=m("1000.00"))], TODAY, "https://s", "https://c")
    with pytest.raises(InvalidDocument, match="at least one"):
        service.checkout(PLAIN, [], TODAY, "https://s", "https://c")
    many = [invoice(f"INVOICE-NUMBER-{i:06d}") for i in range(20)]
    with pytest.raises(InvalidDocument, match="choose fewer"):
        service.checkout(PLAIN, many, TODAY, "https://s", "https://c")


def test_epc_qr_is_inline_svg_without_styles():
    svg = epc_qr_svg(epc_payload(name="Nordlicht Handels GmbH", iban=IBAN, amount=Decimal("12.50"),
                                 rf="RF18539007547034"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<title>" in svg and "style=" not in svg and "<?xml" not in svg
