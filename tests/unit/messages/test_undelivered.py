"""A line for an invoice that never reached the customer says, in the message's language, that it is attached."""

from dataclasses import replace

import pytest

from chalicelib.formats.messages import render_reminder_email
from tests.unit.messages.conftest import LOCALES, TODAY, line

SAID = {"en": "has not reached you before: we attach it to this message",
        "de": "hat Sie bisher nicht erreicht: Wir fügen sie dieser Nachricht bei",
        "fr": "ne vous est pas encore parvenue : nous la joignons à ce message",
        "es": "no le había llegado todavía: se la adjuntamos a este mensaje"}


@pytest.mark.parametrize("lang", LOCALES)
def test_an_undelivered_invoice_is_said_to_be_attached_in_html_and_text(lang, seller):
    undelivered = replace(line(number="RE-1"), undelivered=True)
    rendered = render_reminder_email("firm", lang, "Beispiel AG", [undelivered, line(number="RE-2")], seller, TODAY)
    assert SAID[lang] in rendered.text and SAID[lang] in rendered.html.replace("&#39;", "'")
    assert rendered.text.count(SAID[lang]) == 1 and "RE-1" in rendered.text.split(SAID[lang])[0][-40:]


def test_a_delivered_invoice_says_nothing_of_the_sort(seller):
    rendered = render_reminder_email("firm", "en", "Beispiel AG", [line()], seller, TODAY)
    assert "attach" not in rendered.text
