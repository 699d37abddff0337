"""WebhookArchive: the body is kept byte for byte under a content-addressed key, so a redelivery overwrites it."""

import hashlib
from datetime import UTC, datetime

from chalicelib.services.webhook_archive import WebhookArchive


class Files:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = (body, content_type)


def test_the_body_is_kept_as_received_under_its_hash():
    files = Files()
    archive = WebhookArchive(files, clock=lambda: datetime(2026, 3, 4, 23, 59, tzinfo=UTC))
    raw = b'{"id": "evt_1", "amount": 100}'
    key = archive.keep("stripe", raw)
    assert key == f"webhooks/stripe/2026/03/04/{hashlib.sha256(raw).hexdigest()}.json"
    assert archive.keep("stripe", raw) == key
    assert files.objects == {key: (raw, "application/json")}
