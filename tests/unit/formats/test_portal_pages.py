"""The portal's wording and pages (formats/portal.py, templates/portal/): every language has every key, the pages
render in each with Babel's formatting, `lang` on <html>, and everything is escaped."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.customer import Customer
from chalicelib.domain.money import Money
from chalicelib.domain.terms import PaymentTerms
from chalicelib.formats.portal import LANGUAGES, FormState, Page, available, locale_for, negotiate, strings
from chalicelib.services.statement import StatementCredit, StatementPayment, build_statement
from tests.unit.services.test_statement import invoice


def test_every_language_has_the_english_keys_and_placeholders():
    assert set(LANGUAGES) <= available()
    english = strings("en")
    for language in LANGUAGES:
        theirs = strings(language)
        assert set(theirs) == set(english), language
        for key, text in english.items():
            assert set(re.findall(r"{(\w+)}", theirs[key])) == set(re.findall(r"{(\w+)}", text)), (language, key)


def test_accept_language_picks_a_portal_language():
    assert negotiate("de-DE,de;q=0.9,en;q=0.8") == "de"
    assert negotiate("ja, fr;q=0.5, es;q=0.7") == "es"
    assert negotiate("ja") is None and negotiate(None) is None


@pytest.mark.parametrize("language, total", [("en", "€1,210.00"), ("de", "1.210,00\xa0€"), ("fr", "1\u202f210,00\xa0€"),
                                             ("es", "1.210,00\xa0€")])
def test_the_statement_renders_in_each_language(language, total):
    customer = Customer("acme", "Acme <script>alert(1)</script> GmbH", language=language,
                        payment_terms=PaymentTerms.parse("2/10 net 30"))
    lines = [invoice("INV-1", "1000.00", date(2026, 10, 1), date(2026, 10, 31)),
             invoice("INV-2", "250.00", date(2026, 12, 1), date(2026, 12, 31))]
    statement = build_statement(customer, date(2026, 12, 7), lines, [], [])
    statement = type(statement)(statement.customer, statement.as_of, statement.lines,
                                (StatementCredit("CN-1", date(2026, 11, 1), Money.of("40.00", "EUR")),),
                                (StatementPayment(date(2026, 12, 1), Money.of("10.00", "EUR"), "INV-0"),),
                                {"EUR": Money.of("1210.00", "EUR")})
    page = Page(locale_for(language, "Europe/Berlin"), "")
    html = page.render("statement", page_title="x", seller="Seller", customer_name=customer.name, csrf_token="t",
                       session_until=datetime(2026, 12, 7, 9, 30, tzinfo=UTC), idle_minutes=30, statement=statement,
                       totals=[("EUR", [Money.of("1250.00", "EUR"), None, None, Money.of("1210.00", "EUR")])],
                       notice=None, can_act=True, can_pay=True)
    assert f'<html lang="{language}">' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert total in html
    assert "INV-1" in html and "CN-1" in html
    assert "10:30" in html  # the idle timeout in the customer's time zone


def test_a_form_error_is_linked_to_its_field():
    page = Page(locale_for("en"), "")
    html = page.render("expired", page_title="x", seller="S", token="", sent=False, form_token="f",
                       form=FormState({"email": "bad"}, {"email": "Enter an email address"}), signed_out=False)
    assert 'href="#email"' in html and 'id="email-error"' in html and 'aria-invalid="true"' in html
    assert 'aria-describedby="email-hint email-error"' in html
