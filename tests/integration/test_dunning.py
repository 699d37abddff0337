"""The dunning sweep against moto: sends, claims, catch-up, holds, charges, crashes, bounces, the kill switch."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from chalicelib import bootstrap, config
from chalicelib.adapters.models import DunningMessageModel, EventModel
from chalicelib.services.ports import Claim, Claimed, SendFailed
from tests.integration.helpers import drop, dunwell_csv, get_json

REGION = "eu-west-1"
HEADER_ROW = ("{number},invoice,{customer},{name},{email},{phone},{language},Europe/Berlin,DE,{issued},"
              "{due},,EUR,{total},0,,open,")


def row(number: str, *, customer: str = "acme", due: str = "2026-12-01", total: str = "1000.00",
        email_address: str = "ap@acme.example", phone: str = "", language: str = "en",
        issued: str = "2026-11-01") -> str:
    return HEADER_ROW.format(number=number, customer=customer, name=f"{customer.title()} GmbH", email=email_address,
                             phone=phone, language=language, due=due, total=total, issued=issued)


def mails() -> list[Any]:
    backend = ses_backends[DEFAULT_ACCOUNT_ID][config.settings().region]
    return [email.message_from_string(m.raw_data, policy=email.policy.default) for m in backend.sent_messages]


def sms() -> list[tuple[str, str]]:
    backend = sns_backends[DEFAULT_ACCOUNT_ID][config.settings().region]
    return list(backend.sms_messages.values())


def run(client: Any, headers: dict[str, str], as_of: str) -> dict[str, Any]:
    response = client.http.post("/dunning/runs", headers={**headers, "Content-Type": "application/json"},
                                body=json.dumps({"as_of": as_of}))
    assert response.status_code == 200, response.body
    return dict(json.loads(response.body))


def text_of(message: Any) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode())
    raise AssertionError("no text part")


def test_a_ladder_unfolds_once_per_step_and_catches_up(client: Any, s3: Any, bucket: str, dunning: None,
                                                         admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1"), row("INV-2", total="250.00")))

    first = run(client, admin_headers, "2026-11-24")  # due - 7, a Tuesday
    assert first["sent"] == {"email": 1, "sms": 0}
    assert first["reminders"] == {"upcoming": 2}
    [message] = mails()
    assert message["To"] == "ap@acme.example"
    assert "INV-1" in text_of(message) and "INV-2" in text_of(message)  # one statement for both invoices
    assert message["X-Dunwell-Message-Key"] == "acme#2026-11-24#email"

    again = run(client, admin_headers, "2026-11-24")
    assert again["sent"] == {"email": 0, "sms": 0}
    assert again["invoices_considered"] == 0  # rescheduled: the index no longer lists them
    assert len(mails()) == 1

    assert run(client, admin_headers, "2026-12-01")["reminders"] == {"due_today": 2}
    # Missed runs: on 2027-01-20 (due + 50) the ladder goes on one step a week from where it was, never a burst:
    # no final notice or escalation as the next word after "due today".
    late = [run(client, admin_headers, day) for day in ("2027-01-20", "2027-01-27", "2027-02-03", "2027-02-10")]
    assert [r["reminders"] for r in late] == [{"overdue_7": 2}, {"overdue_21": 2}, {"final_notice": 2},
                                              {"escalation": 2}]
    assert [r["actions"] for r in late] == [{}, {}, {}, {"collector_task": 2, "credit_hold": 2, "notify_finance": 2}]
    assert len(mails()) == 6

    status, invoice = get_json(client, "/invoices/INV-1", admin_headers)
    assert status == 200 and {"escalation:action:credit_hold", "escalation:email", "final_notice:email",
                              "overdue_21:email", "overdue_7:email"} <= set(invoice["reminders_sent"])
    assert invoice["next_action_at"] is None  # the ladder is done
    status, customer = get_json(client, "/customers/acme", admin_headers)
    assert customer["credit_hold"] is True
    status, tasks = get_json(client, "/tasks", admin_headers)
    assert {t["invoice_id"] for t in tasks["items"]} == {"INV-1", "INV-2"}
    export = get_json(client, "/invoices/INV-1/agency-export", admin_headers)[1]
    assert list(dict.fromkeys(n["step"] for n in export["notices"])) == [
        "upcoming", "due_today", "overdue_7", "overdue_21", "final_notice", "escalation"]
    assert all(n["provider_message_id"] for n in export["notices"])


def test_preview_explains_and_writes_nothing(client: Any, s3: Any, bucket: str, dunning: None,
                                             admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    status, body = get_json(client, "/dunning/preview?as_of=2026-12-08", admin_headers)
    assert status == 200
    [item] = body["items"]
    # Nothing was ever sent about it: the first word is the neutral statement at the first overdue step.
    assert (item["action"], item["step"], item["reason"]) == ("send", "overdue_7", "first_contact")
    assert item["skipped_steps"] == [{"step": "upcoming", "reason": "superseded"},
                                     {"step": "due_today", "reason": "superseded"}]
    assert mails() == []
    assert get_json(client, "/dunning/preview?as_of=2026-12-08", admin_headers)[1] == body


def test_paid_invoices_are_not_chased(client: Any, s3: Any, bucket: str, dunning: None,
                                      admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    response = client.http.post("/payments", headers={**admin_headers, "Content-Type": "application/json",
                                                      "Idempotency-Key": "wire-1"},
                                body=json.dumps({"amount": "1000.00", "currency": "EUR", "customer_id": "acme",
                                                 "invoice_numbers": ["INV-1"], "method": "wire",
                                                 "received_on": "2026-11-20"}))
    assert response.status_code in (200, 201), response.body
    summary = run(client, admin_headers, "2026-12-08")
    assert summary["sent"] == {"email": 0, "sms": 0}
    assert mails() == []


def test_final_notice_charges_statutory_compensation_and_interest_once(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    from chalicelib.domain.dunning.policy import default_policy

    policy = default_policy("eu_2011_7").to_dict()
    response = client.http.put("/policies/default", headers={**admin_headers, "Content-Type": "application/json"},
                               body=json.dumps(policy))
    assert response.status_code == 200, response.body
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1", due="2026-03-03", issued="2026-02-01")))
    # Imported at due + 35: a neutral first notice, a second one a week later, then the final notice.
    assert run(client, admin_headers, "2026-04-07")["reminders"] == {"overdue_7": 1}
    assert run(client, admin_headers, "2026-04-14")["reminders"] == {"overdue_21": 1}
    summary = run(client, admin_headers, "2026-04-21")
    assert summary["reminders"] == {"final_notice": 1}
    assert summary["charges_added"] == 2
    invoice = get_json(client, "/invoices/INV-1", admin_headers)[1]
    # 1000.00 principal, EUR 40, and 49 days at 2.15 + 8 = 10.15 % : 1000 * 0.1015 * 49 / 365 = 13.63
    assert invoice["charged"] == "53.63"
    assert invoice["balance"] == "1053.63"
    assert "40,00" in text_of(mails()[-1]) or "40.00" in text_of(mails()[-1])
    assert run(client, admin_headers, "2026-04-21")["charges_added"] == 0


def test_a_crash_between_send_and_record_is_repaired_without_a_second_send(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    service = bootstrap.dunning_service()

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("process died")

    monkeypatch.setattr(service, "_record", crash)
    with pytest.raises(RuntimeError):
        service.run(as_of=date(2026, 11, 24))
    monkeypatch.undo()
    claim = DunningMessageModel.get("acme#2026-11-24#email")
    assert (claim.status, claim.recorded) == ("sent", False)
    summary = service.run(as_of=date(2026, 11, 24))
    assert summary.repaired == 1 and summary.messages_sent["email"] == 0
    assert len(mails()) == 1
    invoice = get_json(client, "/invoices/INV-1", admin_headers)[1]
    assert invoice["reminders_sent"] == ["upcoming:email"]


def test_a_crash_while_sending_is_never_sent_twice_but_flagged(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    claims = bootstrap.dunning_service().claims
    stuck = Claim("acme#2026-11-24#email", "acme", "email", date(2026, 11, 24), "dead-run",
                  [{"invoice_id": "INV-1", "step": "upcoming", "charges": [], "next_action_at": None, "actions": []}],
                  lease_until=datetime(2026, 11, 24, 0, 5, tzinfo=UTC))  # the dead run's lease ran out at night
    assert isinstance(claims.claim(stuck, datetime(2026, 11, 23, 23, 55, tzinfo=UTC)), Claimed)
    summary = bootstrap.dunning_service().run(as_of=date(2026, 11, 24))
    assert summary.unconfirmed == 1 and summary.messages_sent["email"] == 0
    assert mails() == []
    assert DunningMessageModel.get("acme#2026-11-24#email").status == "unconfirmed"
    tasks = get_json(client, "/tasks", admin_headers)[1]["items"]
    assert [t["kind"] for t in tasks] == ["unconfirmed_reminder"]
    export = get_json(client, "/invoices/INV-1/agency-export", admin_headers)[1]
    assert export["notices"][0]["confirmed"] is False


def test_a_refused_send_is_released_and_retried(client: Any, s3: Any, bucket: str, dunning: None,
                                                admin_headers: dict[str, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    service = bootstrap.dunning_service()

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise SendFailed("SES refused the message: Throttling")

    monkeypatch.setattr(service.sender, "send_email", refuse)
    failed = service.run(as_of=date(2026, 11, 24))
    assert [f["channel"] for f in failed.failed] == ["email"]
    monkeypatch.undo()
    with pytest.raises(DunningMessageModel.DoesNotExist):
        DunningMessageModel.get("acme#2026-11-24#email")
    retried = service.run(as_of=date(2026, 11, 25))
    assert retried.messages_sent["email"] == 1
    assert len(mails()) == 1


def test_kill_switch_stops_everything_and_release_catches_up(client: Any, s3: Any, bucket: str, dunning: None,
                                                             admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    put = client.http.put("/dunning/settings", headers={**admin_headers, "Content-Type": "application/json"},
                          body=json.dumps({"kill_switch": True}))
    assert put.status_code == 200 and json.loads(put.body)["kill_switch"] is True
    assert run(client, admin_headers, "2026-12-08")["kill_switch"] is True
    assert mails() == []
    client.http.put("/dunning/settings", headers={**admin_headers, "Content-Type": "application/json"},
                    body=json.dumps({"kill_switch": False}))
    assert run(client, admin_headers, "2026-12-08")["reminders"] == {"overdue_7": 1}


def test_a_bounced_address_is_suppressed_and_the_next_reminder_goes_by_sms(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1", phone="+4915112345678")))
    run(client, admin_headers, "2026-11-24")
    [message] = mails()
    notification = {"eventType": "Bounce",
                    "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                               "bouncedRecipients": [{"emailAddress": "ap@acme.example"}]},
                    "mail": {"messageId": "ses-1", "headers": [
                        {"name": "X-Dunwell-Message-Key", "value": message["X-Dunwell-Message-Key"]}]}}
    event = client.events.generate_sns_event(message=json.dumps(notification), subject="bounce")
    outcome = client.lambda_.invoke("ses_notifications", event).payload
    assert outcome["outcome"] == "suppressed"
    customer = get_json(client, "/customers/acme", admin_headers)[1]
    assert customer["contacts"][0]["email_suppressed"] is True
    tasks = get_json(client, "/tasks", admin_headers)[1]["items"]
    assert [t["kind"] for t in tasks] == ["email_bounce"]
    summary = run(client, admin_headers, "2026-12-01")  # due_today: email only, the address bounced -> SMS
    assert summary["sent"] == {"email": 0, "sms": 1}
    [(phone, text)] = sms()
    assert phone == "+4915112345678" and "INV-1" in text


def test_simulated_clock_is_refused_where_not_allowed(client: Any, aws: None, admin_headers: dict[str, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNWELL_ALLOW_SIMULATED_CLOCK", "false")
    config.reset()
    response = client.http.post("/dunning/runs", headers={**admin_headers, "Content-Type": "application/json"},
                                body=json.dumps({"as_of": "2026-12-01"}))
    assert response.status_code == 403
    assert json.loads(response.body)["error"]["field"] == "as_of"


def test_an_invoice_paid_after_the_sweep_read_it_gets_no_reminder(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1"), row("INV-2", total="250.00")))
    service = bootstrap.dunning_service()
    stale = service.due.due_for_action(datetime(2026, 11, 26, tzinfo=UTC), 100)  # read before the payment
    assert {i.invoice_id for i in stale} == {"INV-1", "INV-2"}
    paid = client.http.post("/payments", headers={**admin_headers, "Content-Type": "application/json",
                                                  "Idempotency-Key": "wire-2"},
                            body=json.dumps({"amount": "1000.00", "currency": "EUR", "customer_id": "acme",
                                             "invoice_numbers": ["INV-1"], "method": "wire"}))
    assert paid.status_code in (200, 201), paid.body
    monkeypatch.setattr(service.due, "due_for_action", lambda until, limit: stale)
    summary = service.run(as_of=date(2026, 11, 24))
    assert summary.skipped["changed_before_send"] == 1
    [message] = mails()
    assert "INV-2" in text_of(message) and "INV-1" not in text_of(message)


def test_the_scheduled_sweep_fans_out_per_customer_and_workers_send(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="dunwell-test-dunning-work")["QueueUrl"]
    monkeypatch.setenv("DUNNING_QUEUE_URL", url)
    bootstrap.reset()
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(
        row("INV-1"), row("INV-2", total="250.00"), row("INV-3", customer="bolt", email_address="ap@bolt.example")))
    summary = bootstrap.dunning_service().dispatch(bootstrap.dunning_queue(), as_of=date(2026, 11, 24))
    assert (summary.dispatched, summary.invoices_considered, summary.customers_considered) == (2, 3, 2)
    assert mails() == []  # the sweep only selects; the workers send
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 2
    event = client.events.generate_sqs_event(message_bodies=[m["Body"] for m in messages],
                                             queue_name="dunwell-test-dunning-work")
    outcome = client.lambda_.invoke("send_reminders", event).payload
    assert outcome == {"batchItemFailures": []}
    assert sorted(m["To"] for m in mails()) == ["ap@acme.example", "ap@bolt.example"]
    # Delivered again (SQS is at least once): nothing more is sent.
    assert client.lambda_.invoke("send_reminders", event).payload == {"batchItemFailures": []}
    assert len(mails()) == 2


def test_a_broken_work_message_is_reported_alone(client: Any, dunning: None) -> None:
    event = client.events.generate_sqs_event(message_bodies=["not json"], queue_name="q")
    outcome = client.lambda_.invoke("send_reminders", event).payload
    assert len(outcome["batchItemFailures"]) == 1


def deliver_stream(client: Any, payment_id: str, times: int = 1) -> None:
    """What the events table's stream does in AWS: hand the payment's new audit events to publish_events."""
    records = [{"eventID": str(n), "eventName": "INSERT", "eventSource": "aws:dynamodb",
                "dynamodb": {"SequenceNumber": str(n), "NewImage": m.serialize(), "StreamViewType": "NEW_IMAGE"}}
               for n, m in enumerate(EventModel.query(f"payment#{payment_id}"))]
    assert records, "the payment wrote no audit event"
    for _ in range(times):
        outcome = client.lambda_.invoke("publish_events", {"Records": records}).payload
        assert outcome == {"batchItemFailures": []}


def test_a_customer_who_asked_for_receipts_gets_one_per_payment(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1", language="de"), row("INV-2", total="250.00",
                                                                                 language="de")))
    headers = {**admin_headers, "Content-Type": "application/json"}
    patched = client.http.patch("/customers/acme", headers=headers, body=json.dumps({"payment_receipts": True}))
    assert patched.status_code == 200 and json.loads(patched.body)["payment_receipts"] is True
    body = json.dumps({"amount": "1100.00", "currency": "EUR", "customer_id": "acme", "method": "wire",
                       "invoice_numbers": ["INV-1", "INV-2"], "received_on": "2026-11-20"})
    for _ in range(2):  # the same request again (same Idempotency-Key): one payment, one receipt
        paid = client.http.post("/payments", headers={**headers, "Idempotency-Key": "wire-9"}, body=body)
        assert paid.status_code in (200, 201), paid.body
    assert mails() == []  # not on the payment's own path: the events stream brings it
    deliver_stream(client, json.loads(paid.body)["id"], times=2)  # at least once: the stream may repeat a batch
    [receipt] = mails()
    assert receipt["To"] == "ap@acme.example"
    assert receipt["Subject"] == "Zahlungseingang: 1.100,00 €"
    text = text_of(receipt)
    assert "INV-1: 1.000,00\xa0€ (vollständig bezahlt)" in text
    assert "INV-2: 100,00\xa0€ (150,00\xa0€ noch offen)" in text
    assert DunningMessageModel.get(f"receipt#{json.loads(paid.body)['id']}").status == "sent"


def test_no_receipt_unless_asked(client: Any, s3: Any, bucket: str, dunning: None,
                                 admin_headers: dict[str, str]) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    paid = client.http.post("/payments", headers={**admin_headers, "Content-Type": "application/json",
                                                  "Idempotency-Key": "wire-10"},
                            body=json.dumps({"amount": "1000.00", "currency": "EUR", "customer_id": "acme",
                                             "invoice_numbers": ["INV-1"], "method": "wire"}))
    assert paid.status_code in (200, 201)
    deliver_stream(client, json.loads(paid.body)["id"])
    assert mails() == []


def test_a_refused_receipt_is_counted_and_not_retried(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1")))
    headers = {**admin_headers, "Content-Type": "application/json"}
    client.http.patch("/customers/acme", headers=headers, body=json.dumps({"payment_receipts": True}))
    paid = client.http.post("/payments", headers={**headers, "Idempotency-Key": "wire-11"},
                            body=json.dumps({"amount": "1000.00", "currency": "EUR", "customer_id": "acme",
                                             "invoice_numbers": ["INV-1"], "method": "wire"}))

    def refuse(*_args: Any, **_kwargs: Any) -> str:
        raise SendFailed("MessageRejected")

    with monkeypatch.context() as patched:
        patched.setattr(bootstrap.receipts().sender, "send_email", refuse)
        deliver_stream(client, json.loads(paid.body)["id"])
    deliver_stream(client, json.loads(paid.body)["id"])  # the batch again: the claim says it was tried
    assert mails() == []
    assert DunningMessageModel.get(f"receipt#{json.loads(paid.body)['id']}").status == "failed"


def test_a_stage_without_a_way_to_pay_sends_no_reminder_says_why_and_alerts_finance(
        client: Any, s3: Any, bucket: str, dunning: None, admin_headers: dict[str, str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="finance-alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="finance-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    monkeypatch.setenv("FINANCE_ALERTS_TOPIC", topic)
    monkeypatch.delenv("SELLER_IBAN")
    monkeypatch.delenv("SELLER_BIC")
    bootstrap.reset()
    drop(client, s3, bucket, "incoming/a.csv", dunwell_csv(row("INV-1", phone="+4915112345678")))

    refused = run(client, admin_headers, "2026-12-08")
    assert refused["refused"] and "SELLER_IBAN" in refused["refused"] and "PAY_URL_TEMPLATE" in refused["refused"]
    assert refused["plans"]["refused"] == refused["refused"]
    assert refused["sent"] == {"email": 0, "sms": 0} and refused["invoices_considered"] == 0
    assert mails() == [] and sms() == []
    [alert] = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
    notification = json.loads(alert["Body"])
    assert "reminders refused" in notification["Subject"]
    assert json.loads(notification["Message"])["reason"] == refused["refused"]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    refusals = [m for m in metrics if "RemindersRefused" in m]
    assert {(m["reason"], m["run"]) for m in refusals} == {("no_way_to_pay", "plans"), ("no_way_to_pay", "invoices")}

    # A queued work item is consumed without a send too.
    from chalicelib.services.ports import WorkItem
    invoices = bootstrap.ledger().get_invoices(["INV-1"])
    worked = bootstrap.dunning_service().work(WorkItem("run-1", "acme", date(2026, 12, 8), list(invoices.values())))
    assert worked.refused == refused["refused"] and mails() == []

    # With an account set, the next run catches up: the step reached by now goes out once, with the bank details.
    monkeypatch.setenv("SELLER_IBAN", "DE89 3704 0044 0532 0130 00")
    bootstrap.reset()
    caught_up = run(client, admin_headers, "2026-12-08")
    assert caught_up["refused"] is None and caught_up["reminders"] == {"overdue_7": 1}
    [message] = mails()
    assert "DE89 3704 0044 0532 0130 00" in text_of(message)
