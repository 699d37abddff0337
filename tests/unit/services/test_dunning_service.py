"""DunningService with in-memory ports: which invoices go in a customer's message, and what the sweep does with
the ones that do not (a payment meanwhile, a first contact beside a final notice, a debt held for review)."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.dunning.policy import DEFAULT_POLICY
from chalicelib.services.dunning import DunningService, DunningSettings, WorkItem, window_start
from tests.unit.dunning.factories import customer, invoice
from tests.unit.services import sending_fakes as fakes
from tests.unit.services.fakes import Ledger

TODAY = date(2026, 11, 24)  # a Tuesday, no holiday in DE
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
ACME = customer()
TOMORROW_9_BERLIN = window_start(TODAY + timedelta(days=1), ACME, DEFAULT_POLICY)


def due(number, due_date, **kw):
    """An invoice of Acme's the sweep looks at today."""
    return invoice(number=number, due=due_date, first_seen_on=date(2026, 1, 5), version=1,
                   next_action_at=NOW - timedelta(hours=1), **kw)


def world(*invoices, settings=None):
    ledger = Ledger(*invoices)
    ports = {"ledger": ledger, "claims": fakes.Claims(ledger), "sender": fakes.Sender(),
             "renderer": fakes.Renderer(), "tasks": fakes.Tasks(), "recorded": fakes.Recorded()}
    recorded = ports["recorded"]
    ports["service"] = DunningService(
        ledger, ledger, fakes.Customers(ACME), lambda _policy_id: DEFAULT_POLICY,
        lambda: settings or DunningSettings(), ports["claims"], ports["sender"], ports["renderer"], ports["tasks"],
        recorded, recorded, recorded, recorded, clock=lambda: NOW)
    return ports


def test_a_customer_with_invoices_at_different_steps_gets_one_message_listing_each():
    ports = world(due("INV-1", date(2026, 12, 1)), due("INV-2", TODAY))  # upcoming, and due today
    summary = ports["service"].run(as_of=TODAY)
    assert len(ports["sender"].emails) == 1 and ports["sender"].sms == []
    assert ports["renderer"].messages == [("email", "friendly", ["INV-1", "INV-2"])]
    invoices = ports["ledger"].invoices
    assert (invoices["INV-1"].reminders_sent, invoices["INV-2"].reminders_sent) == (
        {"upcoming:email"}, {"due_today:email"})
    assert summary.reminders == {"upcoming": 1, "due_today": 1} and summary.messages_sent["email"] == 1


def test_a_second_sweep_the_same_day_sends_nothing_again():
    ports = world(due("INV-1", date(2026, 12, 1)))
    ports["service"].run(as_of=TODAY)
    again = ports["service"].work(WorkItem("run-2", "acme", TODAY, [due("INV-1", date(2026, 12, 1))]))
    assert len(ports["sender"].emails) == 1 and again.messages_sent["email"] == 0


def test_a_payment_landing_mid_sweep_drops_the_invoice_from_the_message():
    first, second = due("INV-1", date(2026, 12, 1)), due("INV-2", TODAY)
    ports = world(first, second)
    ports["ledger"].pay("INV-2")  # after the sweep read it, before the worker's claim
    summary = ports["service"].work(WorkItem("run-1", "acme", TODAY, [first, second]))
    assert ports["renderer"].messages == [("email", "friendly", ["INV-1"])]
    assert summary.skipped["changed_before_send"] == 1
    assert ports["ledger"].invoices["INV-2"].reminders_sent == frozenset()


def test_an_invoice_never_mentioned_waits_a_day_rather_than_appear_in_a_final_notice():
    chased = due("INV-1", TODAY - timedelta(days=35), reminders_sent=frozenset(
        {"upcoming:email", "due_today:email", "overdue_7:email", "overdue_21:email"}),
        last_notice_on=TODAY - timedelta(days=14))
    new = due("INV-2", TODAY - timedelta(days=14))  # overdue, never contacted
    ports = world(chased, new)
    summary = ports["service"].run(as_of=TODAY)
    assert ports["renderer"].messages == [("email", "final", ["INV-1"])]
    assert summary.skipped["first_contact_deferred"] == 1
    assert ports["ledger"].invoices["INV-2"].next_action_at == TOMORROW_9_BERLIN


def test_a_first_contact_alone_is_an_overdue_statement_not_a_reminder():
    ports = world(due("INV-2", TODAY - timedelta(days=14)))
    ports["service"].run(as_of=TODAY)
    assert [(channel, tone) for channel, tone, _lines in ports["renderer"].messages] == [
        ("email", "overdue_statement"), ("sms", "overdue_statement")]


def test_a_debt_far_past_due_at_import_waits_for_a_collector_then_gets_a_neutral_first_notice():
    old = replace(due("INV-1", TODAY - timedelta(days=400)), first_seen_on=TODAY)
    ports = world(old)
    held = ports["service"].run(as_of=TODAY)
    ports["service"].run(as_of=TODAY)
    assert ports["sender"].emails == [] and held.skipped["needs_review"] == 1
    assert list(ports["tasks"].tasks) == ["review:INV-1"]  # once, however many sweeps
    assert ports["recorded"].counted.count(("InvoicesHeldForReview", 1)) == 1
    assert ports["ledger"].invoices["INV-1"].next_action_at is None  # out of the sweep's index

    ports["service"].release_for_review("INV-1", "key:collector")
    ports["service"].run(as_of=TODAY)
    assert ports["renderer"].messages[0][:2] == ("email", "overdue_statement")
    assert ports["tasks"].tasks["review:INV-1"].status == "done"


def test_the_kill_switch_reads_and_sends_nothing():
    ports = world(due("INV-1", TODAY), settings=DunningSettings(kill_switch=True))
    summary = ports["service"].run(as_of=TODAY)
    assert summary.kill_switch and summary.invoices_considered == 0 and ports["sender"].emails == []
