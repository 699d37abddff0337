"""The personal portal link in reminders (email and SMS, every tone and language) and receipts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chalicelib.formats.messages import TONES, render_reminder_email, render_reminder_sms, sms_segments
from chalicelib.formats.receipts import ReceiptLine, render_receipt_email
from tests.unit.messages.conftest import LOCALES, TODAY, line

PORTAL = "https://api.example.com/api/portal/open/" + "Ab-_9" * 8 + "xyz"  # a 43-character token
INVITES = {"en": "personal account", "de": "persönlichen Kundenkonto", "fr": "espace personnel",
           "es": "cuenta personal"}
BUTTONS = {"en": "Open your account", "de": "Kundenkonto öffnen", "fr": "Ouvrir votre espace",
           "es": "Abrir su cuenta"}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("tone", TONES)
def test_every_reminder_email_carries_the_link_in_both_parts(seller, locale, tone) -> None:
    mail = render_reminder_email(tone, locale, "Acme & Co", [line()], seller, TODAY, deadline=TODAY,
                                 promise_date=TODAY, portal_url=PORTAL)
    assert PORTAL in mail.text and INVITES[locale] in mail.text
    assert f'href="{PORTAL}"' in mail.html and BUTTONS[locale] in mail.html


@pytest.mark.parametrize("locale", LOCALES)
def test_without_a_link_the_reminder_is_as_before(seller, locale) -> None:
    mail = render_reminder_email("firm", locale, "Acme", [line()], seller, TODAY, deadline=TODAY)
    assert "/portal/" not in mail.text and INVITES[locale] not in mail.text


def test_a_link_that_is_not_http_is_refused(seller) -> None:
    with pytest.raises(ValueError):
        render_reminder_email("firm", "en", "Acme", [line()], seller, TODAY, portal_url="javascript:alert(1)")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("tone", TONES)
def test_an_sms_without_a_pay_link_carries_the_portal_link(seller, locale, tone) -> None:
    text = render_reminder_sms(tone, locale, "Acme", [line(pay_url=None)], seller, TODAY, deadline=TODAY,
                               promise_date=TODAY, portal_url=PORTAL)
    assert text.endswith(PORTAL)
    assert sms_segments(text) <= 2


def test_an_sms_with_a_pay_link_keeps_it_and_stays_short(seller) -> None:
    text = render_reminder_sms("firm", "en", "Acme", [line()], seller, TODAY, portal_url=PORTAL)
    assert PORTAL not in text and "https://pay.acme.example" in text


@pytest.mark.parametrize("locale", LOCALES)
def test_a_receipt_carries_the_link(seller, locale) -> None:
    mail = render_receipt_email(locale, "Acme", "Ada", Decimal("100.00"), "EUR", date(2025, 3, 20),
                                [ReceiptLine("RE-1", Decimal("100.00"), Decimal("0"))], Decimal("0"), seller, "ref-1",
                                portal_url=PORTAL)
    assert PORTAL in mail.text and f'href="{PORTAL}"' in mail.html
    plain = render_receipt_email(locale, "Acme", "Ada", Decimal("100.00"), "EUR", date(2025, 3, 20), [],
                                 Decimal("0"), seller, "ref-1")
    assert "/portal/" not in plain.text
