"""Realistic data for the reminder messages (pure: no AWS, no app)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from chalicelib.formats.messages import InvoiceLine, Seller

LOCALES = ("en", "de", "fr", "es")
TODAY = date(2025, 3, 20)
PAY_URL = "https://pay.acme.example/i/7Hk2x9QpL4"  # 36 characters: a typical short hosted-payment link


def line(
    days_overdue: int = 13,
    *,
    number: str = "RE-2025-0142",
    currency: str = "EUR",
    amount: str = "1234.50",
    balance: str | None = None,
    charges: tuple[tuple[str, Decimal], ...] = (),
    pay_url: str | None = PAY_URL,
    discount: tuple[Decimal, date] | None = None,
) -> InvoiceLine:
    due = TODAY - timedelta(days=days_overdue)
    return InvoiceLine(
        number=number,
        issue_date=due - timedelta(days=30),
        due_date=due,
        currency=currency,
        total=Decimal(amount),
        balance=Decimal(balance if balance is not None else amount),
        days_overdue=days_overdue,
        charges=charges,
        pay_url=pay_url,
        discount=discount,
    )


# The ladder's typical step for each tone: days relative to the due date.
TONE_DAYS = {
    "friendly": -5,
    "firm": 13,
    "overdue_statement": 40,
    "final": 30,
    "escalation": 45,
    "promise_missed": 20,
    "plan_instalment": -3,
}

STATUTORY = (("interest", Decimal("3.62")), ("compensation", Decimal("40.00")))


@pytest.fixture
def seller() -> Seller:
    return Seller(
        name="Acme Industrie GmbH",
        email="buchhaltung@acme.example",
        phone="+49 30 1234567",
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
        address_lines=("Hauptstraße 1", "10115 Berlin"),
    )
