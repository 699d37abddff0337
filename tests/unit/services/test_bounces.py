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
