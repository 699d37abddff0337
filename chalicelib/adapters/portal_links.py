"""The portal links table (models.PortalLinkModel): links by token hash, each customer's revocation generation, the
address index of the expired-link page, and fixed-window rate-limit counters. Queries only, never a Scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamo import is_conditional_failure
from chalicelib.adapters.models import PortalLinkModel
from chalicelib.services.ports import LinkRecord, address_key

STATE = "state"


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


class DynamoLinkStore:
    def put(self, record: LinkRecord, keep_until: datetime) -> None:
        ttl = _epoch(keep_until)
        expires = record.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with PortalLinkModel.batch_write() as batch:  # three new rows, one request (none is versioned)
            batch.save(PortalLinkModel(
                f"link#{record.token_hash}", "link", customer_id=record.customer_id,
                contact_email=record.contact_email, link_id=record.link_id, generation=record.generation,
                issued_at=record.issued_at, expires_at=record.expires_at, ttl=ttl))
            batch.save(PortalLinkModel(
                f"customer#{record.customer_id}", f"link#{expires}#{record.link_id}", link_id=record.link_id,
                generation=record.generation, expires_at=record.expires_at, ttl=_epoch(record.expires_at)))
            batch.save(PortalLinkModel(
                f"address#{address_key(record.contact_email)}", record.customer_id, customer_id=record.customer_id,
                ttl=ttl))

    def get(self, token_hash: str) -> LinkRecord | None:
        try:
            m = PortalLinkModel.get(f"link#{token_hash}", "link", consistent_read=True)
        except PortalLinkModel.DoesNotExist:
            return None
        assert m.customer_id and m.contact_email is not None and m.link_id and m.issued_at and m.expires_at
        return LinkRecord(token_hash, m.customer_id, m.contact_email, m.link_id, int(m.generation or 0),
                          m.issued_at, m.expires_at)

    def generation(self, customer_id: str) -> int:
        try:
            m = PortalLinkModel.get(f"customer#{customer_id}", STATE, consistent_read=True,
                                    attributes_to_get=["generation"])
        except PortalLinkModel.DoesNotExist:
            return 0
        return int(m.generation or 0)

    def revoke(self, customer_id: str, actor: str, now: datetime) -> int:
        item = PortalLinkModel(f"customer#{customer_id}", STATE)
        item.update(actions=[PortalLinkModel.generation.add(1), PortalLinkModel.revoked_at.set(now),
                             PortalLinkModel.revoked_by.set(actor), PortalLinkModel.customer_id.set(customer_id)])
        return int(item.generation or 0)

    def live_links(self, customer_id: str, generation: int, now: datetime) -> int:
        after = f"link#{now.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
        return sum(1 for _ in PortalLinkModel.query(
            f"customer#{customer_id}", PortalLinkModel.sk.between(after, "link#~"),
            filter_condition=PortalLinkModel.generation == generation, consistent_read=True,
            attributes_to_get=["pk"]))

    def customers_of(self, email: str) -> list[str]:
        return [m.sk for m in PortalLinkModel.query(f"address#{address_key(email)}", limit=20)][:20]


class DynamoRateLimiter:
    """Fixed windows: one counter row per key and window, incremented with a condition that it is under the
    limit; the row expires by TTL after its window. Shared by every container (unlike an in-memory throttle)."""

    def hit(self, key: str, limit: int, window: timedelta, now: datetime) -> int | None:
        seconds = int(window.total_seconds())
        start = _epoch(now) // seconds * seconds
        item = PortalLinkModel(f"rate#{key}", str(start))
        try:
            item.update(actions=[PortalLinkModel.hits.add(1), PortalLinkModel.ttl.set(start + 2 * seconds)],
                        condition=PortalLinkModel.hits.does_not_exist() | (PortalLinkModel.hits < limit))
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise
            return max(1, start + seconds - _epoch(now))
        return None
