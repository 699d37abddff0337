"""Pay links built from PAY_URL_TEMPLATE: ERP invoice numbers are URL-encoded into them."""

from __future__ import annotations

from datetime import date

from chalicelib.formats.reminders import ReminderRenderer
from tests.unit.dunning.factories import invoice


def test_invoice_numbers_are_encoded_into_the_pay_link(seller) -> None:
    renderer = ReminderRenderer(seller, "https://pay.example.com/i/{invoice_id}?n={number}")
    odd = invoice(number="RE 2026/17#a&b=c", invoice_id="inv~3f2a")
    assert renderer.pay_url(odd) == "https://pay.example.com/i/inv~3f2a?n=RE%202026%2F17%23a%26b%3Dc"
    line = renderer.line(odd, odd.total, (), date(2025, 3, 10), None)
    assert line.pay_url == renderer.pay_url(odd)


def test_without_a_template_there_is_no_pay_link(seller) -> None:
    assert ReminderRenderer(seller).pay_url(invoice()) is None
