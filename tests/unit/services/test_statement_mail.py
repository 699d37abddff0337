"""The monthly statement by email with in-memory ports: on the first business day of the month in the customer's
time zone, from 08:00 local, once per customer and month, with the PDF attached; nothing read mid-month."""

from datetime import UTC, date, datetime

from chalicelib.domain.customer import Contact, Customer
from chalicelib.formats.messages import Seller
from chalicelib.formats.statement_mail import render_statement_mail
from chalicelib.formats.statement_pdf import render_statement_pdf
from chalicelib.services.statement import build_statement
from chalicelib.services.statement_mail import (
    MonthlyStatements,
    StatementPapers,
    first_business_day,
    near_month_start,
    statement_day,
)
from tests.unit.services import sending_fakes as fakes

SELLER = Seller("Nordlicht GmbH", "ar@nordlicht.example", None, "DE89370400440532013000", None, ("Berlin",))


def customer(customer_id="kunde", timezone="Europe/Berlin", country="DE", email="ap@kunde.example"):
    return Customer(customer_id, "Kunde AG", (Contact("Frau Meier", email, language="de"),) if email else (),
                    timezone=timezone, country=country, statement_delivery="email")


class Recipients:
    def __init__(self, *customers):
        self.customers, self.reads = list(customers), 0

    def opted_in(self, limit, cursor):
        self.reads += 1
        start = cursor["at"] if cursor else 0
        page = self.customers[start:start + limit]
        return page, ({"at": start + limit} if start + limit < len(self.customers) else None)


class Statements:
    def __init__(self, recipients):
        self.recipients, self.asked = recipients, []

    def statement(self, customer_id, as_of):
        self.asked.append((customer_id, as_of))
        found = next(c for c in self.recipients.customers if c.customer_id == customer_id)
        return build_statement(found, as_of, [], [], [])


class Events:
    def __init__(self):
        self.events = []

    def append(self, event):
        self.events.append(event)


def world(*customers):
    recipients = Recipients(*customers)
    statements = Statements(recipients)
    ports = {"recipients": recipients, "statements": statements, "sender": fakes.Sender(), "events": Events(),
             "claims": fakes.Claims()}
    ports["service"] = MonthlyStatements(recipients, StatementPapers(statements, render_statement_pdf, SELLER),
                                         render_statement_mail, ports["sender"], ports["claims"], ports["events"],
                                         fakes.Recorded(), seller_timezone="Europe/Berlin")
    return ports


def test_the_first_business_day_skips_weekends_and_holidays():
    assert first_business_day(2027, 1, "DE") == date(2027, 1, 4)  # New Year on a Friday, then the weekend
    assert first_business_day(2026, 12, "DE") == date(2026, 12, 1)
    assert first_business_day(2027, 5, "DE") == date(2027, 5, 3)  # 1 May (Labour Day) is a Saturday


def test_the_statement_goes_once_on_the_first_business_day_from_eight_local():
    w = world(customer())
    assert w["service"].run(datetime(2026, 12, 1, 6, 0, tzinfo=UTC)).sent == 0  # 07:00 in Berlin
    first = w["service"].run(datetime(2026, 12, 1, 7, 0, tzinfo=UTC))  # 08:00 in Berlin
    assert first.sent == 1
    [mail] = w["sender"].emails
    assert mail.to == "ap@kunde.example" and mail.subject == "Kontoauszug von Nordlicht GmbH zum 01.12.2026"
    assert mail.message_key == "statement#kunde#2026-12" and mail.tag == "statement"
    [attachment] = mail.attachments
    assert attachment.content_type == "application/pdf" and attachment.data.startswith(b"%PDF-")
    assert w["statements"].asked == [("kunde", date(2026, 12, 1))]
    for hour in (8, 12, 20):
        assert w["service"].run(datetime(2026, 12, 1, hour, 0, tzinfo=UTC)).sent == 0
    assert len(w["sender"].emails) == 1
    [event] = w["events"].events
    assert (event.entity, event.type, event.data["month"], event.data["message_id"]) == (
        "customer#kunde", "statement.sent", "2026-12", "ses-1")
    assert w["service"].run(datetime(2026, 12, 2, 9, 0, tzinfo=UTC)).sent == 0  # sent already this month


def test_a_statement_day_the_schedule_missed_is_made_up_until_the_seventh_dated_the_first_business_day():
    w = world(customer())
    assert w["service"].run(datetime(2026, 12, 3, 10, 0, tzinfo=UTC)).sent == 1  # 1 and 2 December were missed
    [mail] = w["sender"].emails
    assert mail.message_key == "statement#kunde#2026-12" and mail.subject.endswith("zum 01.12.2026")
    assert w["statements"].asked == [("kunde", date(2026, 12, 1))]
    assert w["service"].run(datetime(2026, 12, 4, 10, 0, tzinfo=UTC)).sent == 0  # once a month
    late = world(customer())
    assert late["service"].run(datetime(2026, 12, 8, 10, 0, tzinfo=UTC)).sent == 0  # after the 7th: next month
    assert late["sender"].emails == []


def test_each_customer_in_its_own_time_zone():
    tokyo, new_york = customer("tokyo", "Asia/Tokyo", "JP"), customer("ny", "America/New_York", "US")
    w = world(tokyo, new_york)
    # 30 Nov 23:00 UTC: 08:00 on 1 Dec in Tokyo, 18:00 on 30 Nov in New York.
    assert w["service"].run(datetime(2026, 11, 30, 23, 0, tzinfo=UTC)).sent == 1
    assert [m.message_key for m in w["sender"].emails] == ["statement#tokyo#2026-12"]
    assert w["service"].run(datetime(2026, 12, 1, 13, 0, tzinfo=UTC)).sent == 1  # 08:00 in New York
    assert [m.message_key for m in w["sender"].emails][-1] == "statement#ny#2026-12"


def test_mid_month_reads_nothing_and_a_customer_without_email_gets_nothing():
    w = world(customer(email=None))
    assert not near_month_start(datetime(2026, 12, 15, 9, tzinfo=UTC))
    assert w["service"].run(datetime(2026, 12, 15, 9, 0, tzinfo=UTC)).considered == 0 and w["recipients"].reads == 0
    summary = w["service"].run(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert summary.sent == 0 and summary.skipped == {"no_destination": 1} and w["sender"].emails == []


def test_many_customers_are_read_a_page_at_a_time():
    w = world(*[customer(f"c{i:03d}") for i in range(150)])
    summary = w["service"].run(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert (summary.considered, summary.sent, w["recipients"].reads) == (150, 150, 2)


def test_statement_day_is_none_before_eight_and_outside_the_first_days():
    berlin = customer()
    assert statement_day(datetime(2027, 1, 4, 7, 0, tzinfo=UTC), berlin, "UTC") == date(2027, 1, 4)
    assert statement_day(datetime(2027, 1, 1, 9, 0, tzinfo=UTC), berlin, "UTC") is None  # a holiday
    assert statement_day(datetime(2027, 1, 4, 6, 59, tzinfo=UTC), berlin, "UTC") is None
    assert statement_day(datetime(2027, 1, 6, 2, 0, tzinfo=UTC), berlin, "UTC") == date(2027, 1, 4)  # made up
    assert statement_day(datetime(2027, 1, 7, 22, 59, tzinfo=UTC), berlin, "UTC") == date(2027, 1, 4)
    assert statement_day(datetime(2027, 1, 7, 23, 0, tzinfo=UTC), berlin, "UTC") is None  # the 8th in Berlin
