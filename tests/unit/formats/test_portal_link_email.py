"""The portal link email (formats/portal_links.py) in every language, the link in both parts, HTML escaped."""

from datetime import UTC, datetime

import pytest

from chalicelib.formats.messages import Seller
from chalicelib.formats.portal_links import render_portal_link_email

SELLER = Seller("Dunwell & Co", "ar@dunwell.example", "+49 30 1234", "DE89370400440532013000", None,
                ("Hauptstr. 1", "10115 Berlin"))
URL = "https://api.example.com/api/portal/open/" + "A" * 43
EXPIRES = datetime(2027, 1, 21, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(("lang", "subject_word", "date_text"), [
    ("en", "personal link", "January 21, 2027"), ("de", "persönlicher Link", "21. Januar 2027"),
    ("fr", "lien personnel", "21 janvier 2027"), ("es", "enlace personal", "21 de enero de 2027"),
    ("de-AT", "persönlicher Link", "21. Jänner 2027")])
def test_each_language(lang, subject_word, date_text):
    mail = render_portal_link_email(lang, "Acme <GmbH>", None, URL, EXPIRES, SELLER)
    assert subject_word in mail.subject and "Dunwell & Co" in mail.subject
    assert URL in mail.text and date_text in mail.text and "Acme <GmbH>" in mail.text
    assert f'href="{URL}"' in mail.html and "Acme &lt;GmbH&gt;" in mail.html and "Dunwell &amp; Co" in mail.html
    assert f'lang="{lang.split("-")[0]}' in mail.html


def test_unknown_language_falls_back_to_english():
    assert "personal link" in render_portal_link_email("ja", "Acme", "Ann", URL, EXPIRES, SELLER).subject


def test_refuses_a_link_that_is_not_http():
    with pytest.raises(ValueError):
        render_portal_link_email("en", "Acme", None, "javascript:alert(1)", EXPIRES, SELLER)
