"""A reminder about an invoice Dunwell was to deliver (invoice_delivery: email) and never did says so and attaches
its PDF; once carried, the invoice counts as delivered. Invoices delivered before, or that the ERP delivered
(customers without invoice_delivery, invoices older than Dunwell), are reminded as ever."""

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.dunning.policy import DEFAULT_POLICY
from chalicelib.domain.errors import NotFound
from chalicelib.services.dunning import DunningService, DunningSettings
from tests.unit.dunning.factories import customer, invoice
from tests.unit.services import sending_fakes as fakes
from tests.unit.services.fakes import Ledger

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Pdf:
    filename: str
    body: bytes


class Documents:
    def __init__(self, missing=()):
        self.missing, self.made = set(missing), []

    def pdf(self, invoice_id):
        if invoice_id in self.missing:
            raise NotFound("invoice", invoice_id)
        self.made.append(invoice_id)
        return Pdf(f"{invoice_id}.pdf", b"%PDF-1.7 " + invoice_id.encode())


def due(number, due_date, *, delivered=False, fresh=True):
    issued = due_date - timedelta(days=30)
    return invoice(number=number, due=due_date, issue=issued, version=1,
                   first_seen_on=issued if fresh else issued + timedelta(days=60),
                   delivered_at=NOW - timedelta(days=30) if delivered else None,
                   next_action_at=NOW - timedelta(hours=1))


def world(*invoices, delivery="email", documents=None):
    ledger = Ledger(*invoices)
    recorded = fakes.Recorded()
    ports = {"ledger": ledger, "sender": fakes.Sender(), "renderer": fakes.Renderer(),
             "documents": documents or Documents()}
    ports["service"] = DunningService(
        ledger, ledger, fakes.Customers(customer(invoice_delivery=delivery)), lambda _p: DEFAULT_POLICY,
        lambda: DunningSettings(), fakes.Claims(ledger), ports["sender"], ports["renderer"], fakes.Tasks(),
        recorded, recorded, recorded, recorded, clock=lambda: NOW, documents=ports["documents"])
    return ports


def test_a_reminder_for_a_never_delivered_invoice_says_so_attaches_it_and_marks_it_delivered():
    ports = world(due("INV-1", TODAY - timedelta(days=3)), due("INV-2", TODAY - timedelta(days=3), delivered=True))
    ports["service"].run(as_of=TODAY)
    [mail] = ports["sender"].emails
    assert [(a.filename, a.content_type) for a in mail.attachments] == [("INV-1.pdf", "application/pdf")]
    assert ports["renderer"].messages[0][2] == ["INV-1 (attached)", "INV-2"]
    delivered = ports["ledger"].invoices["INV-1"]
    assert delivered.delivered_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 9:00 in Berlin: the send window
    [event] = [e for e in ports["ledger"].events if e.type == "invoice.delivered"]
    assert event.entity == "invoice#INV-1" and event.data["with"] == "reminder" and event.data["message_id"]


def test_the_next_reminder_does_not_attach_it_again():
    ports = world(due("INV-1", TODAY - timedelta(days=3)))
    ports["service"].run(as_of=TODAY)
    ledger = ports["ledger"]
    ledger.invoices["INV-1"] = replace(ledger.invoices["INV-1"], next_action_at=NOW - timedelta(minutes=1))
    ports["service"].run(as_of=TODAY + timedelta(days=7))
    assert [len(m.attachments) for m in ports["sender"].emails] == [1, 0]


def test_nothing_is_attached_where_the_erp_delivers_or_the_invoice_predates_dunwell():
    for ports in (world(due("INV-1", TODAY - timedelta(days=3)), delivery="none"),
                  world(due("INV-1", TODAY - timedelta(days=3), fresh=False))):
        ports["service"].run(as_of=TODAY)
        assert [m.attachments for m in ports["sender"].emails] == [()]
        assert ports["documents"].made == [] and ports["ledger"].invoices["INV-1"].delivered_at is None


def test_an_invoice_whose_pdf_cannot_be_made_is_reminded_without_claiming_it_is_attached():
    ports = world(due("INV-1", TODAY - timedelta(days=3)), documents=Documents(missing={"INV-1"}))
    ports["service"].run(as_of=TODAY)
    [mail] = ports["sender"].emails
    assert mail.attachments == () and ports["renderer"].messages[0][2] == ["INV-1"]
    assert ports["ledger"].invoices["INV-1"].delivered_at is None
