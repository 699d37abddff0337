from chalicelib.services.api_keys import ApiKeys, KeyRecord, Role


class MemoryKeys:
    def __init__(self):
        self.records: dict[str, KeyRecord] = {}
        self.reads = 0

    def put(self, record):
        self.records[record.key_id] = record

    def get(self, key_id):
        self.reads += 1
        return self.records.get(key_id)


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
