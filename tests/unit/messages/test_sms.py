"""SMS length: GSM-7 vs UCS-2 segment counting, GSM-7 transliteration, one segment per locale and tone."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.formats.messages import TONES, is_gsm7, render_reminder_sms, sms_segments, to_gsm7
from tests.unit.messages.conftest import LOCALES, TODAY, TONE_DAYS, line


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters cost two septets
        ("€" * 81, 2),
        ("a" * 152 + "€" + "a" * 152, 3),  # 306 septets, but an escape pair is never split across parts
        ("Grüße Ñandu à é ü ß Ç" + "a" * 139, 1),  # these accents are GSM-7: still 160 per segment
    ],
)
def test_gsm7_segments(text, segments):
    assert is_gsm7(text)
    assert sms_segments(text) == segments


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("á" * 70, 1),
        ("á" * 71, 2),
        ("á" * 134, 2),
        ("á" * 135, 3),
        ("a" * 159 + "\u00a0", 3),  # one no-break space turns 160 characters into UCS-2
        ("😀" * 35, 1),  # surrogate pairs: 70 UTF-16 units
        ("😀" * 36, 2),
        ("a" * 66 + "😀" + "b" * 66, 3),  # 134 units = 2 x 67, but a surrogate pair is never split
    ],
)
def test_ucs2_segments(text, segments):
    assert not is_gsm7(text)
    assert sms_segments(text) == segments


def test_to_gsm7_keeps_gsm_letters_and_replaces_the_rest():
    assert to_gsm7("Ñandú está aquí") == "Ñandu esta aqui"
    assert to_gsm7("reçu, échéance, fête, Übergabe") == "recu, échéance, fete, Übergabe"
    assert to_gsm7("1\u202f234,50\u00a0€ \u2013 «oui» \u2019") == "1 234,50 € - \"oui\" '"
    assert to_gsm7("Łódź") == "Łodz"  # Ł has no GSM-7 spelling: kept, the SMS goes UCS-2
    assert is_gsm7(to_gsm7("Último aviso, pagué, ¿cuándo?"))


SELLER_NAME = "Acme Industrie GmbH"  # 19 characters


@pytest.mark.parametrize("with_link", [True, False])
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("tone", TONES)
def test_one_invoice_fits_one_segment(tone, locale, with_link, seller):
    lines = [line(TONE_DAYS[tone], pay_url=None if not with_link else "https://pay.acme.example/i/7Hk2x9QpL4")]
    sms = render_reminder_sms(tone, locale, "Müller & Söhne KG", lines, seller, TODAY, deadline=date(2025, 3, 31))
    assert is_gsm7(sms), [c for c in sms if not is_gsm7(c)]
    assert sms_segments(sms) == 1, f"{len(sms)} characters: {sms}"
    assert "RE-2025-0142" in sms or tone == "plan_instalment"
    if with_link:
        assert sms.endswith("https://pay.acme.example/i/7Hk2x9QpL4")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("tone", TONES)
def test_due_today_fits_one_segment(tone, locale, seller):
    sms = render_reminder_sms(tone, locale, "X", [line(0)], seller, TODAY)
    assert sms_segments(sms) == 1, sms


@pytest.mark.parametrize(
    ("locale", "summary"),
    [
        ("en", "3 invoices, total €3,703.50,"),
        ("de", "3 Rechnungen, gesamt 3.703,50 €,"),
        ("fr", "3 factures, total 3 703,50 €,"),
        ("es", "3 facturas, total 3.703,50 €,"),
    ],
)
@pytest.mark.parametrize("tone", ["friendly", "firm", "escalation"])
def test_several_invoices_are_summarised(tone, locale, summary, seller):
    lines = [line(TONE_DAYS[tone], number=f"RE-2025-014{i}", pay_url=None) for i in range(3)]
    sms = render_reminder_sms(tone, locale, "X", lines, seller, TODAY)
    assert summary in sms
    assert "RE-2025-0140" not in sms
    assert sms_segments(sms) == 1, sms


def test_shared_pay_link_is_used_for_several_invoices(seller):
    portal = "https://pay.acme.example/c/K-4711"
    lines = [line(number=f"R{i}", pay_url=portal) for i in range(3)]
    assert render_reminder_sms("firm", "en", "X", lines, seller, TODAY).endswith(f"Pay now: {portal}")
    mixed = [line(number="R1", pay_url=portal), line(number="R2", pay_url="https://pay.acme.example/c/other")]
    assert render_reminder_sms("firm", "en", "X", mixed, seller, TODAY).endswith("Details by email.")


def test_final_sms_states_the_deadline(seller):
    de = render_reminder_sms("final", "de", "X", [line(30)], seller, TODAY, deadline=date(2025, 3, 31))
    assert "Letzte Mahnung vor Inkasso" in de and "Bitte zahlen Sie bis 31. März:" in de
    en = render_reminder_sms("final", "en", "X", [line(30)], seller, TODAY)
    assert "Please pay now:" in en


def test_unicode_kept_when_asked(seller):
    sms = render_reminder_sms("firm", "fr", "X", [line()], seller, TODAY, gsm7=False)
    assert "\u202f" in sms  # babel's narrow no-break space: UCS-2, so the caller must expect more parts
    assert sms_segments(sms) > 1
