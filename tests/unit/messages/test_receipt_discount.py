"""A receipt mentions the early-payment discount a payment earned, in the customer's language and formatting."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chalicelib.formats.messages import Seller
from chalicelib.formats.receipts import ReceiptLine, render_receipt_email


@pytest.mark.parametrize(("locale", "words", "discount"), [
    ("en", "paid in full with your early-payment discount of", "€20.00"),
    ("de", "abzüglich", "20,00\u00a0€"),
    ("fr", "escompte pour paiement anticipé", "20,00\u00a0€"),
    ("es", "descuento por pronto pago", "20,00\u00a0€"),
])
def test_a_receipt_names_the_discount_granted(locale: str, words: str, discount: str, seller: Seller) -> None:
    email = render_receipt_email(locale, "Acme", None, Decimal("980"), "EUR", date(2026, 11, 11),
                                 [ReceiptLine("INV-1", Decimal("980"), Decimal("0"), Decimal("20"))], Decimal("0"),
                                 seller, "PAY-1")
    for part in (email.text, email.html):
        assert words in part and discount in part, part


def test_a_receipt_without_a_discount_says_paid_in_full(seller: Seller) -> None:
    email = render_receipt_email("en", "Acme", None, Decimal("1000"), "EUR", date(2026, 11, 11),
                                 [ReceiptLine("INV-1", Decimal("1000"), Decimal("0"))], Decimal("0"), seller, "PAY-1")
    assert "(paid in full)" in email.text and "discount" not in email.text
