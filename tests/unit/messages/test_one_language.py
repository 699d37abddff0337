"""One language per message: the template folder is chosen first, and amounts and dates follow it. A language
without templates gets the fallback's wording *and* formatting; a regional variant of a language with templates
gets that wording with its regional formatting where Babel knows the region."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from chalicelib.formats.messages import (
    RenderedEmail,
    Seller,
    message_locale,
    render_reminder_email,
    render_reminder_sms,
)
from chalicelib.formats.receipts import ReceiptLine, render_receipt_email
from tests.unit.messages.conftest import TODAY, line

JANUARY_7 = (TODAY - date(2025, 1, 7)).days  # days overdue that put the due date on 7 January 2025
CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")  # kana, kanji, full-width forms (the yen sign, commas)


def _receipt(locale: str, seller: Seller) -> RenderedEmail:
    return render_receipt_email(locale, "X KK", None, Decimal("1234.5"), "EUR", date(2025, 1, 7),
                                [ReceiptLine("RE-1", Decimal("1234.5"), Decimal("0"))], Decimal("0"), seller, "PAY-1")


@pytest.mark.parametrize("tag", ["ja", "ja-JP", "ja_JP"])
def test_a_language_without_templates_gets_the_whole_message_in_the_fallback(tag: str, seller: Seller) -> None:
    chosen = message_locale(tag)
    assert (chosen.templates, str(chosen.formatting), chosen.lang) == ("en", "en", "en")

    email = render_reminder_email("firm", tag, "X KK", [line(JANUARY_7)], seller, TODAY, deadline=date(2025, 3, 31))
    assert email.locale == "en" and '<html lang="en">' in email.html
    for part in (email.text, email.html, email.subject):
        assert not CJK.search(part), part
    assert "€1,234.50" in email.text and "€1,234.50" in email.html
    assert "Due date: Jan 7, 2025" in email.text and "by March 31, 2025" in email.text  # not 2025/01/07

    sms = render_reminder_sms("firm", tag, "X KK", [line(JANUARY_7)], seller, TODAY, deadline=date(2025, 3, 31))
    assert not CJK.search(sms) and "€1,234.50" in sms and "Jan 7" in sms

    receipt = _receipt(tag, seller)
    assert receipt.locale == "en" and '<html lang="en">' in receipt.html
    assert not CJK.search(receipt.text + receipt.html)
    assert "€1,234.50" in receipt.text and "January 7, 2025" in receipt.text


def test_a_regional_variant_gets_the_language_wording_with_regional_formatting(seller: Seller) -> None:
    austrian = render_reminder_email("firm", "de-AT", "X", [line(JANUARY_7)], seller, TODAY)
    german = render_reminder_email("firm", "de", "X", [line(JANUARY_7)], seller, TODAY)
    assert austrian.locale == german.locale == "de" and '<html lang="de-AT">' in austrian.html
    assert "nach unseren Unterlagen" in austrian.text  # the German wording
    assert "€\u00a01.234,50" in austrian.text and "1.234,50\u00a0€" in german.text  # Austrian vs German amounts
    assert "7. Jänner 2025" in austrian.text and "7. Januar 2025" in german.text  # Austrian month names

    swiss = render_reminder_email("firm", "de_CH", "X", [line(JANUARY_7)], seller, TODAY)
    assert swiss.locale == "de" and '<html lang="de-CH">' in swiss.html
    assert "EUR\u00a01\u2019234.50" in swiss.text and "nach unseren Unterlagen" in swiss.text

    sms = render_reminder_sms("firm", "de_CH", "X", [line(JANUARY_7)], seller, TODAY)
    assert "EUR 1'234.50" in sms  # the Swiss apostrophe, spelled in GSM-7

    assert "€\u00a01.234,50" in _receipt("de-AT", seller).text
    assert "7. Jänner 2025" in _receipt("de-AT", seller).text
    assert "EUR\u00a01\u2019234.50" in _receipt("de-CH", seller).text


def test_a_region_babel_does_not_know_formats_as_the_language(seller: Seller) -> None:
    chosen = message_locale("de-XX")
    assert (chosen.templates, str(chosen.formatting), chosen.lang) == ("de", "de", "de")
    email = render_reminder_email("firm", "de-XX", "X", [line()], seller, TODAY)
    assert "1.234,50\u00a0€" in email.text and '<html lang="de">' in email.html
