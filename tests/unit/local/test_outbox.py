"""Mail the local stack writes to `.dunwell/outbox/` carries a Date header, as delivered mail would."""

from __future__ import annotations

import email
import email.policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from chalicelib.adapters.dunning import AwsSender
from chalicelib.local.outbox import Mail, Outbox, Sent
from chalicelib.services.ports import OutgoingEmail

RAW_WITHOUT_DATE = "From: ar@example.com\r\nTo: ap@acme.example\r\nSubject: Reminder\r\n\r\nPlease pay.\r\n"
RAW_WITH_DATE = "Date: Tue, 01 Dec 2026 09:00:00 +0100\nFrom: ar@example.com\nSubject: Reminder\n\nPlease pay.\n"


def _written(tmp_path: Path, *mail: Mail) -> list[Any]:
    outbox = Outbox(tmp_path / "outbox", lambda: Sent(mail=list(mail)))
    assert outbox.collect() == len(mail)
    return [email.message_from_string(p.read_text(), policy=email.policy.default)
            for p in sorted((tmp_path / "outbox").glob("*.eml"))]


def test_raw_mail_without_a_date_gets_one_and_keeps_the_rest(tmp_path: Path) -> None:
    [message] = _written(tmp_path, Mail("m-1", "raw", "ar@example.com", ["ap@acme.example"], raw=RAW_WITHOUT_DATE))
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert (message["Subject"], message["To"]) == ("Reminder", "ap@acme.example")
    assert message.get_content().strip() == "Please pay."


def test_a_date_the_sender_set_is_kept(tmp_path: Path) -> None:
    [message] = _written(tmp_path, Mail("m-2", "raw", "ar@example.com", ["ap@acme.example"], raw=RAW_WITH_DATE))
    assert message.get_all("Date") == ["Tue, 01 Dec 2026 09:00:00 +0100"]


def test_simple_mail_has_a_date(tmp_path: Path) -> None:
    [message] = _written(tmp_path, Mail("m-3", "simple", "ar@example.com", ["ap@acme.example"], subject="Hi",
                                        body="Hello"))
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None


class RecordingSes:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def send_email(self, **request: Any) -> dict[str, str]:
        self.requests.append(request)
        return {"MessageId": "ses-1"}


def test_reminders_leave_with_a_date_header() -> None:
    ses = RecordingSes()
    AwsSender(ses, None, "ar@example.com", "Example GmbH", None).send_email(
        OutgoingEmail("ap@acme.example", "Reminder", "<p>Please pay.</p>", "Please pay.", "acme#2026-12-01#email"))
    raw = ses.requests[0]["Content"]["Raw"]["Data"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
