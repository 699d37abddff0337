"""The API's own answers to a bad, unknown or underpowered key repeat nothing of the key."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import issue_key

KEY = "dwk_0123456789ab_s3cr3t-value-that-must-not-come-back"


def _echoes(response: Any, secret: str) -> bool:
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    return secret in response.body.decode() or secret in headers


@pytest.mark.parametrize("authorization", [f"Bearer {KEY}", KEY, f"Basic {KEY}", f"Bearer {KEY} {KEY}", "Bearer "])
def test_a_refused_key_is_not_repeated(client: Any, authorization: str) -> None:
    for path in ("/invoices", "/api-keys", "/customers/acme"):
        response = client.http.get(path, headers={"Authorization": authorization})
        assert response.status_code == 401, path
        assert not _echoes(response, KEY) and not _echoes(response, "s3cr3t"), path


def test_a_key_with_too_low_a_role_is_named_not_repeated(client: Any) -> None:
    key = issue_key("collector")
    response = client.http.get("/api-keys", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
    secret = key.rsplit("_", 1)[-1]
    assert not _echoes(response, key) and not _echoes(response, secret)
    assert "test-collector" in response.body.decode()  # the key's name says which one it was
