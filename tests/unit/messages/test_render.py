"""Every tone x locale renders an email (subject, HTML, text) and an SMS; escaping, money, dates, totals,
discounts, pay instructions."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import jinja2
import pytest

from chalicelib.formats import messages
from chalicelib.formats.messages import (
    TONES,
    Seller,
    format_money,
    render_reminder_email,
    render_reminder_sms,
)
from tests.unit.messages.conftest import LOCALES, PAY_URL, STATUTORY, TODAY, TONE_DAYS, line

HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def _lines(tone: str, n: int = 1, **kw):
    return [line(TONE_DAYS[tone], number=f"RE-2025-014{i}", charges=STATUTORY if tone == "final" else (), **kw)
            for i in range(n)]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("count", [1, 3])
def test_every_tone_and_locale_renders(tone, locale, count, seller):
    lines = _lines(tone, count, pay_url=None)
    email = render_reminder_email(
        tone, locale, "Müller & Söhne KG", lines, seller, TODAY,
        contact_name="Eva Weber", deadline=date(2025, 3, 31), promise_date=date(2025, 3, 15),
    )
    assert email.locale == locale
    assert email.subject and "\n" not in email.subject and "{" not in email.subject
    assert len(email.subject) < 90
    for number in (ln.number for ln in lines):
        assert number in email.html and number in email.text
    assert f'<html lang="{locale}">' in email.html
    assert "Eva Weber" in email.html and "Eva Weber" in email.text
    assert "DE89 3704 0044 0532 0130 00" in email.text  # no pay link: the bank details
    assert not HTML_TAG.search(email.text), HTML_TAG.search(email.text)
    assert "&amp;" not in email.text and "Müller & Söhne KG" in email.text
    assert "{{" not in email.html + email.text and "{%" not in email.html + email.text
    assert "\n\n\n" not in email.text and email.text.endswith("Berlin\nbuchhaltung@acme.example\n+49 30 1234567\n")
    sms = render_reminder_sms(tone, locale, "Müller & Söhne KG", lines, seller, TODAY, deadline=date(2025, 3, 31))
    assert sms.startswith("Acme Industrie GmbH") and "{" not in sms and "  " not in sms


def test_strict_undefined_fails_on_a_missing_variable(seller):
    ctx = messages._context(
        "firm", messages.message_locale("en"), "ACME", [line()], seller, TODAY,
        contact_name=None, deadline=None, promise_date=None, payment_reference=None,
    )
    env = messages._environment(False)
    strings = messages._select(env, "en", "strings.j2").name
    template = messages._select(env, "en", "txt.j2")
    template.render(ctx, subject="s", strings=strings)  # complete: renders
    del ctx["deadline"]
    with pytest.raises(jinja2.UndefinedError):
        template.render(ctx, subject="s", strings=strings)
    assert messages._environment(True).undefined is jinja2.StrictUndefined


def test_environment_is_lazy_and_cached():
    assert messages._environment(True) is messages._environment(True)
    assert messages._environment(False) is not messages._environment(True)
    env = messages._environment(False)
    assert env.trim_blocks and env.lstrip_blocks


@pytest.mark.parametrize("locale", LOCALES)
def test_html_escapes_customer_data_and_text_keeps_it(locale, seller):
    lines = [line(number="INV<1>&2"), line(number="RE-2"), line(number="RE-3", pay_url=PAY_URL + '?x="y"')]
    email = render_reminder_email(
        "firm", locale, "<script>alert(1)</script> A & B", lines, seller, TODAY, contact_name="<b>Bob</b>",
    )
    assert "<script>" not in email.html and "<b>Bob" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; A &amp; B" in email.html
    assert "&lt;b&gt;Bob&lt;/b&gt;" in email.html
    assert "INV&lt;1&gt;&amp;2" in email.html
    assert 'href="https://pay.acme.example/i/7Hk2x9QpL4?x=&#34;y&#34;"' in email.html
    assert "<script>alert(1)</script> A & B" in email.text and "INV<1>&2" in email.text
    assert "&lt;" not in email.text and "&amp;" not in email.text


def test_html_escapes_the_seller_too(seller):
    evil = Seller("Evil <i>Co</i> & Sons", "a@b.example", None, None, None, ("<br>",))
    email = render_reminder_email("friendly", "en", "X", [line(-3)], evil, TODAY)
    assert "Evil &lt;i&gt;Co&lt;/i&gt; &amp; Sons" in email.html and "<i>" not in email.html
    assert "&lt;br&gt;" in email.html


def test_pay_url_must_be_http():
    with pytest.raises(ValueError, match="http"):
        messages._validate("firm", [line(pay_url="javascript:alert(1)")])


def test_unknown_tone_and_no_lines_are_refused(seller):
    with pytest.raises(ValueError, match="tone"):
        render_reminder_email("rude", "en", "X", [line()], seller, TODAY)
    with pytest.raises(ValueError, match="at least one"):
        render_reminder_sms("firm", "en", "X", [], seller, TODAY)


def test_money_must_be_decimal(seller):
    bad = line()
    object.__setattr__(bad, "balance", 1234.5)
    with pytest.raises(TypeError, match="Decimal"):
        render_reminder_email("firm", "en", "X", [bad], seller, TODAY)


# ---------------------------------------------------------------------------------------------- money, dates

@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "€1,234.50"),
        ("de", "1.234,50\u00a0€"),
        ("fr", "1\u202f234,50\u00a0€"),  # narrow no-break space between thousands, no-break space before €
        ("es", "1.234,50\u00a0€"),
        ("de-AT", "€\u00a01.234,50"),
    ],
)
def test_money_in_the_customer_locale(locale, expected, seller):
    assert format_money(Decimal("1234.5"), "EUR", messages.message_locale(locale).formatting) == expected
    email = render_reminder_email("firm", locale, "X", [line()], seller, TODAY)
    assert expected in email.text and expected in email.html


def test_money_is_quantised_half_up_before_babel():
    en = messages.message_locale("en").formatting
    assert format_money(Decimal("2.125"), "EUR", en) == "€2.13"  # babel alone: €2.12 (half-even)
    assert format_money(Decimal("1234.5"), "JPY", en) == "¥1,235"
    assert format_money(Decimal("1.2345"), "BHD", en) == "BHD1.235"  # 3 minor digits (ISO 4217)
    assert format_money(Decimal("10"), "USD", en) == "$10.00"
    with pytest.raises(TypeError):
        format_money(2.5, "EUR", en)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("locale", "long_date", "medium_date"),
    [
        ("en", "March 7, 2025", "Mar 7, 2025"),
        ("de", "7. März 2025", "07.03.2025"),
        ("fr", "7 mars 2025", "7 mars 2025"),
        ("es", "7 de marzo de 2025", "7 mar 2025"),
    ],
)
def test_dates_are_localised(locale, long_date, medium_date, seller):
    email = render_reminder_email("firm", locale, "X", [line(13)], seller, TODAY)  # due 2025-03-07
    assert long_date in email.text and medium_date in email.text


def test_totals_per_currency(seller):
    lines = [
        line(number="A-1", amount="1000.00", charges=(("late_fee", Decimal("5.00")),)),
        line(number="A-2", currency="USD", amount="250.25"),
        line(number="A-3", amount="234.50"),
        line(number="A-4", currency="USD", amount="49.75"),
    ]
    text = render_reminder_email("firm", "en", "X", lines, seller, TODAY).text
    assert "Total due (EUR): €1,239.50 (including fees and interest of €5.00)" in text
    assert "Total due (USD): $300.00" in text
    de = render_reminder_email("firm", "de", "X", lines, seller, TODAY).text
    assert "Gesamtbetrag (EUR): 1.239,50\u00a0€" in de and "Gesamtbetrag (USD): 300,00\u00a0$" in de
    sms = render_reminder_sms("firm", "en", "X", lines, seller, TODAY)
    assert "4 invoices, total €1,239.50 + $300.00, are overdue." in sms


def test_single_currency_total_has_no_currency_suffix(seller):
    text = render_reminder_email("firm", "en", "X", [line(), line(number="B")], seller, TODAY).text
    assert "Total due: €2,469.00" in text and "(EUR)" not in text


def test_final_notice_mentions_statutory_charges_and_next_steps(seller):
    email = render_reminder_email(
        "final", "de", "X", [line(30, charges=STATUTORY)], seller, TODAY, deadline=date(2025, 3, 31)
    )
    assert "Verzugszinsen" in email.text and "Pauschale für Beitreibungskosten: 40,00\u00a0€" in email.text
    assert "gesetzlichen Vorschriften" in email.text and "Inkassounternehmen" in email.text
    assert "bis zum 31. März 2025" in email.text
    assert "Zu zahlen: 1.278,12\u00a0€" in email.text
    en = render_reminder_email("final", "en", "X", [line(30, charges=STATUTORY)], seller, TODAY)
    assert "statutory provisions" in en.text and "without further delay" in en.text
    assert "Fixed compensation for recovery costs: €40.00" in en.text


# ---------------------------------------------------------------------------------------------- discount

def test_pre_due_discount_appears_only_when_given(seller):
    with_discount = line(-5, discount=(Decimal("24.69"), date(2025, 3, 22)))
    email = render_reminder_email("friendly", "en", "X", [with_discount], seller, TODAY)
    assert "Early-payment discount: pay €1,209.81 by March 22, 2025 and save €24.69." in email.text
    assert "save €24.69" in email.html
    de = render_reminder_email("friendly", "de", "X", [with_discount], seller, TODAY)
    expected = "Skonto: Bei Zahlung bis zum 22. März 2025 zahlen Sie nur 1.209,81\u00a0€ und sparen 24,69\u00a0€."
    assert expected in de.text
    plain = render_reminder_email("friendly", "en", "X", [line(-5)], seller, TODAY)
    assert "discount" not in plain.text.lower() and "discount" not in plain.html.lower()


def test_expired_discount_and_overdue_reminders_do_not_offer_it(seller):
    expired = line(-5, discount=(Decimal("24.69"), date(2025, 3, 19)))
    assert "discount" not in render_reminder_email("friendly", "en", "X", [expired], seller, TODAY).text.lower()
    overdue = line(13, discount=(Decimal("24.69"), date(2025, 3, 25)))
    assert "discount" not in render_reminder_email("firm", "en", "X", [overdue], seller, TODAY).text.lower()


def test_due_today_wording(seller):
    email = render_reminder_email("friendly", "en", "X", [line(0)], seller, TODAY)
    assert email.subject == "Invoice RE-2025-0142 is due today"
    assert "is due today" in email.text and "due today" in email.html


# ---------------------------------------------------------------------------------------------- pay instructions

def test_pay_links_per_invoice_replace_the_bank_details(seller):
    lines = [line(number="A-1", pay_url="https://pay.example/a1"), line(number="A-2", pay_url="https://pay.example/a2")]
    email = render_reminder_email("firm", "en", "X", lines, seller, TODAY)
    assert 'href="https://pay.example/a1"' in email.html and 'href="https://pay.example/a2"' in email.html
    assert "Pay online: https://pay.example/a1" in email.text
    assert "IBAN" not in email.text and "IBAN" not in email.html


def test_bank_details_with_reference_when_some_invoices_have_no_link(seller):
    lines = [line(number="A-1", pay_url="https://pay.example/a1"), line(number="A-2", pay_url=None)]
    email = render_reminder_email("firm", "en", "X", lines, seller, TODAY)
    assert "For invoices without a payment link, please transfer" in email.text
    assert "IBAN: DE89 3704 0044 0532 0130 00" in email.text and "BIC: COBADEFFXXX" in email.text
    assert "Reference: A-1, A-2" in email.text
    custom = render_reminder_email("firm", "en", "X", lines, seller, TODAY, payment_reference="K-4711")
    assert "Reference: K-4711" in custom.text and "K-4711" in custom.html


def test_no_link_and_no_bank_details_points_to_the_contact(seller):
    bare = Seller("Acme", "ar@acme.example", None, None, None, ())
    email = render_reminder_email("firm", "en", "X", [line(pay_url=None)], bare, TODAY)
    assert "please contact us using the details below" in email.text
    assert "contact us at ar@acme.example." in email.text  # no phone: no "or by phone"


def test_promise_and_plan_wording(seller):
    promise = render_reminder_email(
        "promise_missed", "fr", "X", [line(20)], seller, TODAY, promise_date=date(2025, 3, 15)
    )
    assert "pour le 15 mars 2025" in promise.text and "Règlement annoncé non reçu" in promise.subject
    plan = render_reminder_email("plan_instalment", "es", "X", [line(5)], seller, TODAY)
    assert "cuota de su plan de pagos" in plan.text and plan.subject == "Plan de pagos: cuota vencida"
