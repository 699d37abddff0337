"""Writes the mail and SMS the app "sent" through moto to `.dunwell/outbox/`, once each, for a human to read.

Mail: `outbox/<UTC time>-<message id>.eml` (open it with any mail client, or read it: it is text). Templated
SES sends have no rendered body in moto: they are written as `.json` (template name and data).
SMS: `outbox/sms/<UTC time>-<message id>.txt`.
Sources: the embedded moto's backends (cheap), or `GET <endpoint>/moto-api/data.json` for an external moto.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from chalicelib.domain.masking import mask

log = logging.getLogger("dw_local.outbox")


@dataclass(frozen=True)
class Mail:
    id: str
    kind: str  # "simple" | "raw" | "template"
    source: str
    destinations: Any
    subject: str = ""
    body: str = ""
    raw: str = ""
    template: str = ""
    template_data: str = ""


@dataclass(frozen=True)
class Sms:
    id: str
    phone_number: str
    message: str


@dataclass
class Sent:
    mail: list[Mail] = field(default_factory=list)
    sms: list[Sms] = field(default_factory=list)


def embedded_source() -> Sent:
    """Reads what the in-process moto server recorded (every account and region)."""
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    sent = Sent()
    for account in list(dict.values(ses_backends)):
        for backend in list(dict.values(account)):
            for message in list(backend.sent_messages):
                sent.mail.append(_mail_from(vars(message)))
    for sns_account in list(dict.values(sns_backends)):
        for sns in list(dict.values(sns_account)):
            for message_id, (phone, text) in list(sns.sms_messages.items()):
                sent.sms.append(Sms(message_id, phone, text))
    return sent


def http_source(endpoint: str) -> Callable[[], Sent]:
    """Reads an external moto server's `/moto-api/data.json`."""
    url = endpoint.rstrip("/") + "/moto-api/data.json"
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) endpoint: {endpoint}")

    def read() -> Sent:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - http(s) checked above
            data = json.load(response)
        sent = Sent()
        ses = data.get("ses") or {}
        for model in ("Message", "RawMessage", "TemplateMessage"):
            sent.mail.extend(_mail_from(item) for item in ses.get(model) or [])
        for item in (data.get("sns") or {}).get("SMS") or []:
            sent.sms.append(Sms(str(item.get("message_id")), str(item.get("phone_number")), str(item.get("message"))))
        return sent

    return read


def _mail_from(item: dict[str, Any]) -> Mail:
    identity, source, destinations = str(item.get("id")), str(item.get("source") or ""), item.get("destinations")
    if "raw_data" in item:
        return Mail(identity, "raw", source, destinations, raw=str(item["raw_data"]))
    if "template" in item:
        data = str(item.get("template_data"))
        return Mail(identity, "template", source, destinations, template=str(item["template"]), template_data=data)
    subject, body = str(item.get("subject") or ""), str(item.get("body") or "")
    return Mail(identity, "simple", source, destinations, subject=subject, body=body)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Outbox:
    def __init__(self, directory: Path, source: Callable[[], Sent]) -> None:
        self.directory = directory
        self.sms_directory = directory / "sms"
        self.sms_directory.mkdir(parents=True, exist_ok=True)
        self._source = source
        self._seen = {self._id_of(p) for p in [*directory.iterdir(), *self.sms_directory.iterdir()] if p.is_file()}
        self._lock = threading.Lock()
        self._failures = 0

    @staticmethod
    def _id_of(path: Path) -> str:
        return path.stem.partition("-")[2]

    def collect(self) -> int:
        """Writes every message not written yet; returns how many were written."""
        with self._lock:
            try:
                sent = self._source()
            except Exception as error:
                self._failures += 1
                if self._failures in (1, 10, 100):
                    log.warning("cannot read sent mail/SMS (%d failures): %s", self._failures, error)
                return 0
            written = 0
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            for mail in sent.mail:
                safe_id = _UNSAFE.sub("_", mail.id)
                if safe_id not in self._seen:
                    self._write_mail(f"{stamp}-{safe_id}", mail)
                    self._seen.add(safe_id)
                    written += 1
            for sms in sent.sms:
                safe_id = _UNSAFE.sub("_", sms.id)
                if safe_id not in self._seen:
                    text = f"To: {sms.phone_number}\nMessage-Id: {sms.id}\n\n{sms.message}\n"
                    path = self.sms_directory / f"{stamp}-{safe_id}.txt"
                    path.write_text(text, encoding="utf-8")
                    log.info("SMS to %s -> %s", _mask_phone(sms.phone_number), path)
                    self._seen.add(safe_id)
                    written += 1
            return written

    def _write_mail(self, stem: str, mail: Mail) -> None:
        if mail.kind == "template":
            path = self.directory / f"{stem}.json"
            payload = {"id": mail.id, "from": mail.source, "destinations": mail.destinations,
                       "template": mail.template, "template_data": mail.template_data}
            path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
        else:
            path = self.directory / f"{stem}.eml"
            path.write_text(_with_date(mail.raw) if mail.kind == "raw" else _render(mail), encoding="utf-8")
        log.info("mail from %s -> %s", mask(mail.source), path)

    def run(self, stop: threading.Event, interval: float) -> threading.Thread:
        def loop() -> None:
            while not stop.wait(interval):
                self.collect()
            self.collect()  # what was sent just before shutdown

        thread = threading.Thread(target=loop, name="dunwell-outbox", daemon=True)
        thread.start()
        return thread


_DATE_HEADER = re.compile(r"^date:", re.IGNORECASE | re.MULTILINE)


def _with_date(raw: str) -> str:
    """A raw message as SES would deliver it: with a Date header (SES adds one when the sender left it out; moto
    keeps the bytes as sent). The time the outbox saw it stands in for the time SES would have stamped."""
    newline = "\r\n" if "\r\n" in raw else "\n"
    head, separator, body = raw.partition(newline + newline)
    if _DATE_HEADER.search(head):
        return raw
    return f"Date: {formatdate(usegmt=True)}{newline}{head}{separator}{body}"


def _render(mail: Mail) -> str:
    message = EmailMessage()
    message["From"] = mail.source
    destinations = mail.destinations if isinstance(mail.destinations, dict) else {"ToAddresses": mail.destinations}
    for header, key in (("To", "ToAddresses"), ("Cc", "CcAddresses"), ("Bcc", "BccAddresses")):
        addresses = destinations.get(key) or []
        if addresses:
            message[header] = ", ".join(addresses)
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{mail.id}@moto.local>"
    message["X-Dunwell-Outbox"] = "local stack (moto SES keeps one body: the HTML one when both were sent)"
    looks_html = bool(re.search(r"<(html|body|p|div|table|br|a)\b", mail.body, re.IGNORECASE))
    message.set_content(mail.body, subtype="html" if looks_html else "plain")
    return message.as_string()


def _mask_phone(phone: str) -> str:
    return phone[:4] + "*" * max(0, len(phone) - 6) + phone[-2:]
