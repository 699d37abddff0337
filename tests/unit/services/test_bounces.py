"""Reading SES bounce and complaint notifications (both SES event publishing and identity notifications)."""

import json

from chalicelib.services.bounces import parse_notification

KEY = {"name": "X-Dunwell-Message-Key", "value": "acme#2026-11-24#email"}


def test_permanent_bounce_from_event_publishing() -> None:
    feedback = parse_notification(json.dumps({
        "eventType": "Bounce", "mail": {"messageId": "m-1", "headers": [KEY]},
        "bounce": {"bounceType": "Permanent", "bounceSubType": "NoEmail",
                   "bouncedRecipients": [{"emailAddress": "AP@Acme.example"}]}}))
    assert feedback is not None
    assert (feedback.kind, feedback.permanent, feedback.addresses) == ("bounce", True, ("ap@acme.example",))
    assert feedback.message_key == "acme#2026-11-24#email" and feedback.ses_message_id == "m-1"


def test_transient_bounce_is_not_permanent() -> None:
    feedback = parse_notification(json.dumps({
        "notificationType": "Bounce", "mail": {"messageId": "m-2"},
        "bounce": {"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": "a@b.example"}]}}))
    assert feedback is not None and not feedback.permanent and feedback.message_key is None


def test_complaint_counts_as_permanent() -> None:
    feedback = parse_notification(json.dumps({
        "notificationType": "Complaint", "mail": {"messageId": "m-3", "headers": [KEY]},
        "complaint": {"complainedRecipients": [{"emailAddress": "ap@acme.example"}],
                      "complaintFeedbackType": "abuse"}}))
    assert feedback is not None and (feedback.kind, feedback.permanent) == ("complaint", True)


def test_other_messages_are_ignored() -> None:
    assert parse_notification("not json") is None
    assert parse_notification(json.dumps({"eventType": "Delivery"})) is None
    assert parse_notification(json.dumps([1, 2])) is None


class _Deliveries:
    def __init__(self):
        self.bounced_keys = []

    def customer_of(self, message_key):
        return "acme" if message_key.startswith("delivery#INV-1#") else None

    def bounced(self, message_key, addresses, ses_message_id):
        self.bounced_keys.append((message_key, tuple(addresses), ses_message_id))
        return {"invoice_id": "INV-1", "fallback": "sent", "delivered": True}


def test_a_bounced_invoice_delivery_is_matched_through_its_invoice_and_falls_back() -> None:
    from chalicelib.services.bounces import BounceHandler
    from tests.unit.dunning.factories import customer
    from tests.unit.services import sending_fakes as fakes

    acme = customer()  # its contact: ada@example.com
    customers, tasks, recorded, deliveries = fakes.Customers(acme), fakes.Tasks(), fakes.Recorded(), _Deliveries()
    handler = BounceHandler(customers, tasks, recorded, recorded, deliveries=lambda: deliveries)
    key = "delivery#INV-1#0123456789abcdef"
    outcome = handler.handle(json.dumps({
        "eventType": "Bounce", "mail": {"messageId": "m-9", "headers": [{"name": "X-Dunwell-Message-Key",
                                                                         "value": key}]},
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "ada@example.com"}]}}))
    assert outcome["customer_id"] == "acme" and outcome["delivery"]["fallback"] == "sent"
    assert deliveries.bounced_keys == [(key, ("ada@example.com",), "m-9")]
    [task] = tasks.tasks.values()
    assert task.title.startswith("Invoice email bounce")
    assert customers.stored["acme"].customer.contacts[0].email_suppressed
