"""API keys managed by admins through the API: issue (secret shown once), list (never a secret), revoke."""

from __future__ import annotations

import json

from chalicelib import bootstrap
from chalicelib.adapters.models import ApiKeyModel, EventModel
from tests.integration.conftest import issue_key
from tests.integration.helpers import get_json


def post(client, path, body, headers):
    response = client.http.post(path, body=json.dumps(body),
                                headers={**headers, "Content-Type": "application/json"})
    return response.status_code, json.loads(response.body) if response.body else None


def delete(client, path, headers):
    response = client.http.delete(path, headers=headers)
    return response.status_code, json.loads(response.body) if response.body else None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_issued_key_works_at_once_and_its_secret_is_never_shown_again(client, admin_headers):
    status, issued = post(client, "/api-keys", {"name": "  Bob the collector ", "role": "collector"}, admin_headers)
    assert status == 201
    assert issued["name"] == "Bob the collector" and issued["role"] == "collector"
    assert issued["api_key"].startswith(f"dwk_{issued['id']}_")
    assert issued["created_by"] == "key:test-admin" and issued["revoked_at"] is None
    # The new key has its role: it may complete a task (collector; this one is unknown) but not run dunning (admin).
    assert post(client, "/tasks/no-such-task/complete", {}, bearer(issued["api_key"]))[0] == 404
    assert post(client, "/dunning/runs", {}, bearer(issued["api_key"]))[0] == 403

    status, listed = get_json(client, "/api-keys", admin_headers)
    assert status == 200
    mine = next(k for k in listed["items"] if k["id"] == issued["id"])
    assert mine == {k: v for k, v in issued.items() if k != "api_key"}
    secret = issued["api_key"].split("_", 2)[2]
    assert secret not in json.dumps(listed)
    assert all("api_key" not in k and "secret_sha256" not in k for k in listed["items"])
    # The audit trail names the key and its role, never the secret.
    events = list(EventModel.query(f"api_key#{issued['id']}"))
    assert [(e.type, e.actor, e.data) for e in events] == [
        ("api_key.issued", "key:test-admin", {"name": "Bob the collector", "role": "collector"})]
    assert secret not in json.dumps([e.data for e in events])


def test_list_is_newest_first_and_pages_with_a_cursor(client, admin_headers):
    for index in range(5):
        assert post(client, "/api-keys", {"name": f"k{index}", "role": "viewer"}, admin_headers)[0] == 201
    seen, cursor = [], None
    while True:
        status, body = get_json(client, "/api-keys?limit=2" + (f"&cursor={cursor}" if cursor else ""), admin_headers)
        assert status == 200 and len(body["items"]) <= 2
        seen += [k["name"] for k in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    # The admin key of the fixture was issued first, so it is last.
    assert seen == ["k4", "k3", "k2", "k1", "k0", "test-admin"]


def test_a_key_written_before_the_index_still_works_but_is_not_listed(client, admin_headers):
    old = issue_key("viewer")
    key_id = old.split("_")[1]
    model = ApiKeyModel.get(key_id)
    model.list_key = None
    model.created_key = None
    model.save()
    bootstrap.api_keys().forget(key_id)
    assert get_json(client, "/invoices", bearer(old))[0] == 200
    _, listed = get_json(client, "/api-keys", admin_headers)
    assert key_id not in {k["id"] for k in listed["items"]}


def test_revoking_takes_effect_at_once_in_this_container_and_is_idempotent(client, admin_headers):
    _, issued = post(client, "/api-keys", {"name": "temp", "role": "viewer"}, admin_headers)
    token = issued["api_key"]
    assert get_json(client, "/invoices", bearer(token))[0] == 200  # now cached as verified for 60 s

    status, revoked = delete(client, f"/api-keys/{issued['id']}", admin_headers)
    assert status == 200
    assert revoked["id"] == issued["id"] and revoked["revoked_at"] and revoked["revoked_by"] == "key:test-admin"
    status, body = get_json(client, "/invoices", bearer(token))
    assert status == 401 and body["error"]["code"] == "unauthenticated"

    status, again = delete(client, f"/api-keys/{issued['id']}", admin_headers)
    assert status == 200 and again == revoked  # unchanged: the first revocation stands
    events = [e.type for e in EventModel.query(f"api_key#{issued['id']}")]
    assert events == ["api_key.issued", "api_key.revoked"]
    _, listed = get_json(client, "/api-keys", admin_headers)
    assert next(k for k in listed["items"] if k["id"] == issued["id"])["revoked_at"] == revoked["revoked_at"]


def test_revoking_an_unknown_key_is_404(client, admin_headers):
    for key_id in ("0123456789abcdef", "not-a-key", "x" * 300):
        status, body = delete(client, f"/api-keys/{key_id}", admin_headers)
        assert status == 404 and body["error"]["code"] == "not_found", key_id


INVALID = [
    ({"role": "viewer"}, "name"),
    ({"name": "", "role": "viewer"}, "name"),
    ({"name": "   ", "role": "viewer"}, "name"),
    ({"name": "x" * 101, "role": "viewer"}, "name"),
    ({"name": 7, "role": "viewer"}, "name"),
    ({"name": "n"}, "role"),
    ({"name": "n", "role": "owner"}, "role"),
    ({"name": "n", "role": "Admin"}, "role"),
    ({"name": "n", "role": "viewer", "secret": "mine"}, "secret"),
]


def test_invalid_requests_are_400_with_the_field(client, admin_headers):
    for body, field in INVALID:
        status, answer = post(client, "/api-keys", body, admin_headers)
        assert status == 400, body
        assert answer["error"]["field"] == field and answer["error"]["code"] == "invalid_parameter", (body, answer)
    assert [k["name"] for k in get_json(client, "/api-keys", admin_headers)[1]["items"]] == ["test-admin"]


def test_only_admins_manage_keys(client, aws):
    collector = bearer(issue_key("collector"))
    assert post(client, "/api-keys", {"name": "n", "role": "admin"}, collector)[0] == 403
    assert get_json(client, "/api-keys", collector)[0] == 403
    assert delete(client, "/api-keys/0123456789abcdef", collector)[0] == 403
    assert get_json(client, "/api-keys", {})[0] == 401
