"""Day one on `make run`'s stack: a seller imports its whole ledger, overdue invoices included, and the sweep runs
weekly for eight weeks. Nobody is told "despite our previous reminders" before two real reminders; nothing older
than a year at import is chased until a collector releases it; credit holds come only from escalations sent.

One customer per invoice, so each mail is about one invoice. The weekly runs fall on German business days (the
go-live day G is chosen from today). Days overdue are counted at G; at import (today, a few days before G) the
two old invoices are still more than a year overdue."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.domain.dunning.calendar import is_business_day
from tests.e2e.stack import RunningStack
from tests.e2e.user_tools import COUNTRY, HEADER, Outbox, call, import_invoices, mail_of, module_stack, run_dunning

pytestmark = pytest.mark.e2e

WEEKS = 8
DAYS_OVERDUE = (10, 40, 75, 120, 400, 3300)
RELEASED_AT_WEEK = 4  # the collector releases the 400-day invoice before this run

stack = module_stack("day-one-home")


def go_live(today: date) -> date:
    day = today + timedelta(days=1)
    while not all(is_business_day(day + timedelta(weeks=w), COUNTRY) for w in range(WEEKS)):
        day += timedelta(days=1)
    return day


def ledger(start: date) -> str:
    rows = [f"D1-{days},invoice,d1-{days},Day One {days} Ltd,{mail_of(f'd1-{days}')},,en,Europe/Berlin,{COUNTRY},"
            f"{start - timedelta(days=days + 30)},{start - timedelta(days=days)},,EUR,{days}.00,0,,open,"
            for days in DAYS_OVERDUE]
    return "\n".join([HEADER, *rows]) + "\n"


def kind(subject: str) -> str:
    for prefix, name in (("Statement:", "statement"), ("Payment overdue:", "overdue"),
                         ("Final notice:", "final"), ("Handed over to collections:", "escalation")):
        if subject.startswith(prefix):
            return name
    raise AssertionError(f"unexpected subject {subject!r}")


def test_an_imported_ledger_is_chased_honestly_for_eight_weeks(stack: RunningStack) -> None:
    start = go_live(date.today())
    outbox = Outbox.of(stack)
    import_invoices(stack, "incoming/ledger.csv", ledger(start), [f"D1-{d}" for d in DAYS_OVERDUE])

    expected = {  # week -> {days overdue: mail}
        0: {10: "statement", 40: "statement", 75: "statement", 120: "statement"},
        1: {40: "overdue", 75: "overdue", 120: "overdue"},
        2: {10: "overdue", 40: "final", 75: "final", 120: "final"},
        3: {40: "escalation", 75: "escalation", 120: "escalation"},
        4: {10: "final", 400: "statement"},
        5: {400: "overdue"},
        6: {10: "escalation", 400: "final"},
        7: {400: "escalation"},
    }
    seen: dict[int, list[str]] = {d: [] for d in DAYS_OVERDUE}
    for week in range(WEEKS):
        if week == RELEASED_AT_WEEK:
            held = call(stack, "GET", "/dunning/review")["items"]
            assert sorted(h["invoice"]["number"] for h in held) == ["D1-3300", "D1-400"]
            assert {h["reason"] for h in held} == {"needs_review"}
            released = call(stack, "POST", "/invoices/D1-400/release")
            assert released["number"] == "D1-400"
            assert [h["invoice"]["number"] for h in call(stack, "GET", "/dunning/review")["items"]] == ["D1-3300"]
        run_dunning(stack, start + timedelta(weeks=week))
        mails = outbox.new(len(expected[week]))
        got = {int(m.to.split("@")[1].split(".")[0].removeprefix("d1-")): kind(m.subject) for m in mails}
        assert got == expected[week], f"week {week}: {got}"
        for days, mail in got.items():
            seen[days].append(mail)
        for mail in mails:
            if kind(mail.subject) == "statement":
                assert "reminder" not in mail.text.lower() and "despite" not in mail.text.lower(), mail.text
                assert "is still open" in mail.text
        for days in DAYS_OVERDUE:
            held = call(stack, "GET", f"/customers/d1-{days}")["credit_hold"]
            assert held == ("escalation" in seen[days]), (week, days)
    assert seen[3300] == []
    timeline = call(stack, "GET", "/invoices/D1-400/timeline")["items"]
    assert "invoice.review_released" in {e["type"] for e in timeline}
