from dataclasses import replace
from datetime import UTC, datetime

from chalicelib.services.api_keys import ApiKeys
from chalicelib.services.ports import AuditEvent, KeyRecord, Role


class MemoryKeys:
    def __init__(self):
        self.records: dict[str, KeyRecord] = {}
        self.events: list[AuditEvent] = []
        self.reads = 0

    def put(self, record, event):
        self.records[record.key_id] = record
        self.events.append(event)

    def get(self, key_id):
        self.reads += 1
        return self.records.get(key_id)

    def list(self, limit, cursor):
        records = sorted(self.records.values(), key=lambda r: r.created_at, reverse=True)
        return records[:limit], None

    def revoke(self, key_id, at, actor, event):
        self.records[key_id] = replace(self.records[key_id], revoked_at=at, revoked_by=actor)
        self.events.append(event)
        return self.records[key_id]


def test_issued_key_authenticates_and_only_a_hash_is_stored():
    store = MemoryKeys()
    keys = ApiKeys(store)
    issued = keys.issue("alice", "collector", actor="system:test")
    assert issued.api_key.startswith("dwk_")
    stored = store.records[issued.key_id]
    assert issued.api_key.split("_", 2)[2] not in repr(stored)
    principal = keys.authenticate(issued.api_key)
    assert principal is not None and principal.role is Role.COLLECTOR and principal.actor == "key:alice"


def test_wrong_secret_unknown_id_and_garbage_fail():
    store = MemoryKeys()
    keys = ApiKeys(store)
    issued = keys.issue("alice", "admin", actor="t")
    tampered = issued.api_key[:-1] + ("A" if issued.api_key[-1] != "A" else "B")
    for token in (tampered, "dwk_ffffffffffffffff_secret", "nonsense", "dwk__", ""):
        assert keys.authenticate(token) is None


def test_successes_are_cached_for_a_short_time():
    store = MemoryKeys()
    now = [0.0]
    keys = ApiKeys(store, cache_seconds=60, monotonic=lambda: now[0])
    issued = keys.issue("alice", "viewer", actor="t")
    keys.authenticate(issued.api_key)
    keys.authenticate(issued.api_key)
    assert store.reads == 1
    now[0] = 61
    keys.authenticate(issued.api_key)
    assert store.reads == 2


def test_roles_are_ordered():
    assert Role.VIEWER < Role.COLLECTOR < Role.ADMIN
    assert Role.parse("Admin") is Role.ADMIN


def test_issue_and_revoke_write_audit_events_without_the_secret():
    store = MemoryKeys()
    at = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    keys = ApiKeys(store, clock=lambda: at)
    issued = keys.issue("alice", "viewer", actor="key:root")
    assert issued.created_at == at and issued.created_by == "key:root"
    keys.revoke(issued.key_id, actor="key:root")
    keys.revoke(issued.key_id, actor="key:other")  # idempotent: no second event, the first revocation stands
    assert [(e.entity, e.type, e.actor, dict(e.data)) for e in store.events] == [
        (f"api_key#{issued.key_id}", "api_key.issued", "key:root", {"name": "alice", "role": "viewer"}),
        (f"api_key#{issued.key_id}", "api_key.revoked", "key:root", {"name": "alice", "role": "viewer"}),
    ]
    assert store.records[issued.key_id].revoked_by == "key:root"
    assert issued.api_key.split("_", 2)[2] not in repr(store.events)


def test_revoking_drops_the_key_from_the_cache_at_once():
    store = MemoryKeys()
    keys = ApiKeys(store, cache_seconds=60, monotonic=lambda: 0.0)
    revoked, kept = keys.issue("alice", "viewer", actor="t"), keys.issue("bob", "viewer", actor="t")
    assert keys.authenticate(revoked.api_key) is not None and keys.authenticate(kept.api_key) is not None
    reads = store.reads
    assert keys.revoke(revoked.key_id, actor="t") is not None
    assert keys.authenticate(revoked.api_key) is None
    assert keys.authenticate(kept.api_key) is not None
    assert store.reads == reads + 2  # the revoke's read and the revoked key's re-check; bob came from the cache


def test_revoking_an_unknown_or_malformed_id_finds_nothing():
    store = MemoryKeys()
    keys = ApiKeys(store)
    assert keys.revoke("0123456789abcdef", actor="t") is None
    assert keys.revoke("../../etc", actor="t") is None
    assert store.reads == 1  # a malformed id never reaches the store
