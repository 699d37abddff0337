"""List cursors (chalicelib/api/http.py): signed for one list and its filters, payloads checked strictly, and
nothing the API did not issue gets past decode_cursor."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from pynamodb.exceptions import PutError, QueryError

from chalicelib import bootstrap, config
from chalicelib.api.http import (
    INVALID_CURSOR,
    MAX_CURSOR_CHARS,
    MAX_KEY_ATTRIBUTES,
    ApiError,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    is_cursor_payload,
    open_cursor,
    refused_start_key,
    sign_cursor,
)

KEY = b"k" * 32
SCOPE = '["chalicelib.api.invoices.list_invoices",{},{"status":"open"}]'
PAYLOAD: dict[str, Any] = {"p": 1, "k": {"invoice_id": {"S": "INV-007"}, "status": {"S": "open"},
                                         "due_key": {"S": "2026-11-21#INV-007"}}}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forge(body: bytes, key: bytes = KEY, scope: str = SCOPE) -> str:
    """A cursor signed as the API signs them (the documented format), whatever the body holds."""
    tag = hmac.new(key, b"dunwell-cursor-v1\n" + scope.encode() + b"\n" + body, hashlib.sha256).digest()[:16]
    return f"{b64(body)}.{b64(tag)}"


def test_round_trip() -> None:
    cursor = sign_cursor(PAYLOAD, KEY, SCOPE)
    assert open_cursor(cursor, KEY, SCOPE) == PAYLOAD
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")  # URL-safe as is
    assert open_cursor(sign_cursor({"p": 3, "k": None}, KEY), KEY) == {"p": 3, "k": None}
    numbers = {"p": 0, "k": {"n": {"N": "-12.5"}, "id": {"S": "ünïcode ☃"}}}
    assert open_cursor(sign_cursor(numbers, KEY, SCOPE), KEY, SCOPE) == numbers


def test_the_format_is_payload_dot_truncated_hmac() -> None:
    cursor = sign_cursor(PAYLOAD, KEY, SCOPE)
    body = json.dumps(PAYLOAD, sort_keys=True, separators=(",", ":")).encode()
    assert cursor == forge(body)


def test_a_tampered_payload_is_refused() -> None:
    body_text, tag_text = sign_cursor(PAYLOAD, KEY, SCOPE).split(".")
    other = {**PAYLOAD, "p": 2}
    tampered_body = b64(json.dumps(other, sort_keys=True, separators=(",", ":")).encode())
    with pytest.raises(InvalidCursor):
        open_cursor(f"{tampered_body}.{tag_text}", KEY, SCOPE)
    flipped = body_text[:-3] + ("A" if body_text[-3] != "A" else "B") + body_text[-2:]
    with pytest.raises(InvalidCursor):
        open_cursor(f"{flipped}.{tag_text}", KEY, SCOPE)


def test_a_tampered_signature_is_refused() -> None:
    body_text, tag_text = sign_cursor(PAYLOAD, KEY, SCOPE).split(".")
    for tag in (tag_text[:-1] + ("A" if tag_text[-1] != "A" else "B"), tag_text[:-2], tag_text + "AA", "", "A" * 22):
        with pytest.raises(InvalidCursor):
            open_cursor(f"{body_text}.{tag}", KEY, SCOPE)


def test_another_key_or_another_list_is_refused() -> None:
    cursor = sign_cursor(PAYLOAD, KEY, SCOPE)
    with pytest.raises(InvalidCursor):
        open_cursor(cursor, b"x" * 32, SCOPE)
    for scope in ("", SCOPE.replace("open", "paid"), SCOPE.replace("invoices.list_invoices", "payments.list")):
        with pytest.raises(InvalidCursor):
            open_cursor(cursor, KEY, scope)


@pytest.mark.parametrize("garbage", [
    "!!!", "abc", ".", "..", "a.b.c", "a.b", "=.=", "eyJwIjowfQ", "eyJwIjowfQ.", ".AAAAAAAAAAAAAAAAAAAAAA",
    # the unsigned format of before: base64url JSON of a well-formed payload
    b64(json.dumps(PAYLOAD).encode()),
    b64(json.dumps(PAYLOAD).encode()) + ".AAAAAAAAAAAAAAAAAAAAAA",
    "ey+J/w==.AAAAAAAAAAAAAAAAAAAAAA", "eyJwIjowfQ .AAAAAAAAAAAAAAAAAAAAAA", "☃.☃", "\x00.\x00",
])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidCursor):
        open_cursor(garbage, KEY, SCOPE)


def test_oversize_is_refused_before_any_work_and_never_issued() -> None:
    with pytest.raises(InvalidCursor):
        open_cursor("A" * (MAX_CURSOR_CHARS + 1), KEY, SCOPE)
    big = forge(b"A" * MAX_CURSOR_CHARS)
    with pytest.raises(InvalidCursor):
        open_cursor(big, KEY, SCOPE)
    # The largest payload the checks allow still makes a cursor short enough to come back.
    largest = {"p": 100, "k": {f"a{i}" + "x" * 253: {"S": "é" * 1024} for i in range(MAX_KEY_ATTRIBUTES)}}
    assert is_cursor_payload(largest)
    with pytest.raises(ValueError, match="characters"):
        sign_cursor(largest, KEY, SCOPE)


BAD_PAYLOADS: list[Any] = [
    None, [], "x", 1, {}, {"p": 0}, {"k": None}, {"p": 0, "k": None, "x": 1},
    {"p": -1, "k": None}, {"p": 101, "k": None}, {"p": True, "k": None}, {"p": 1.0, "k": None}, {"p": "0", "k": None},
    {"p": 0, "k": {}}, {"p": 0, "k": []}, {"p": 0, "k": "x"},
    {"p": 0, "k": {f"a{i}": {"S": "x"} for i in range(MAX_KEY_ATTRIBUTES + 1)}},
    {"p": 0, "k": {"id": "x"}}, {"p": 0, "k": {"id": {"S": 1}}}, {"p": 0, "k": {"id": {"S": ""}}},
    {"p": 0, "k": {"id": {"S": "x" * 2049}}}, {"p": 0, "k": {"id": {"S": "é" * 1025}}},
    {"p": 0, "k": {"id": {"S": "\ud800"}}}, {"p": 0, "k": {"id": {"S": {"S": "x"}}}},
    {"p": 0, "k": {"id": {"S": "x", "N": "1"}}}, {"p": 0, "k": {"id": {"B": "eA=="}}},
    {"p": 0, "k": {"id": {"BOOL": True}}}, {"p": 0, "k": {"id": {"M": {}}}}, {"p": 0, "k": {"id": {"L": []}}},
    {"p": 0, "k": {"id": {"N": "abc"}}}, {"p": 0, "k": {"id": {"N": "1e"}}}, {"p": 0, "k": {"id": {"N": "NaN"}}},
    {"p": 0, "k": {"id": {"N": "1" * 39}}}, {"p": 0, "k": {"": {"S": "x"}}}, {"p": 0, "k": {"a b": {"S": "x"}}},
    {"p": 0, "k": {"#id": {"S": "x"}}}, {"p": 0, "k": {"a" * 256: {"S": "x"}}},
]


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
def test_a_signed_but_odd_payload_is_refused_and_never_issued(payload: Any) -> None:
    assert not is_cursor_payload(payload)
    body = json.dumps(payload).encode()
    with pytest.raises(InvalidCursor):
        open_cursor(forge(body), KEY, SCOPE)
    with pytest.raises(ValueError):
        sign_cursor(payload, KEY, SCOPE)


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'{"p":0,"k":null,"p":NaN}'])
def test_a_signed_body_that_is_not_a_payload_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidCursor):
        open_cursor(forge(body), KEY, SCOPE)


# ---------------------------------------------------------------------------------------------- the API's key


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("CURSOR_SIGNING_KEY", "CURSOR_SIGNING_KEY_ARN", "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(name, raising=False)
    config.reset()
    yield monkeypatch
    config.reset()


def test_encode_and_decode_use_the_configured_key(env: pytest.MonkeyPatch) -> None:
    env.setenv("CURSOR_SIGNING_KEY", "one")
    config.reset()
    cursor = encode_cursor(PAYLOAD)
    assert cursor is not None and decode_cursor({"cursor": cursor}) == PAYLOAD
    assert encode_cursor(None) is None
    assert decode_cursor({}) is None and decode_cursor({"cursor": ""}) is None
    env.setenv("CURSOR_SIGNING_KEY", "two")
    config.reset()
    with pytest.raises(ApiError) as refused:
        decode_cursor({"cursor": cursor})
    assert (refused.value.status, refused.value.code, refused.value.field) == (400, INVALID_CURSOR, "cursor")


def test_decode_answers_400_for_garbage(env: pytest.MonkeyPatch) -> None:
    for garbage in ("!!!", b64(json.dumps(PAYLOAD).encode()), "A" * 100_000):
        with pytest.raises(ApiError) as refused:
            decode_cursor({"cursor": garbage})
        assert (refused.value.status, refused.value.code) == (400, INVALID_CURSOR)


def test_without_a_key_a_process_signs_with_its_own_random_one(env: pytest.MonkeyPatch) -> None:
    first = bootstrap.cursor_signing_secret()
    assert len(first) >= 32
    bootstrap.reset()
    assert bootstrap.cursor_signing_secret() == first  # the same for the life of the process


def test_in_lambda_the_key_comes_from_secrets_manager_and_never_from_chance(env: pytest.MonkeyPatch) -> None:
    env.setenv("AWS_LAMBDA_FUNCTION_NAME", "dunwell-prod-APIHandler")
    config.reset()
    with pytest.raises(RuntimeError, match="CURSOR_SIGNING_KEY"):
        bootstrap.cursor_signing_secret()
    from aws_lambda_powertools.utilities import parameters

    asked: list[tuple[str, Any]] = []

    def get_secret(name: str, **options: Any) -> str:
        asked.append((name, options.get("max_age")))
        return "from-sm"

    env.setattr(parameters, "get_secret", get_secret)
    env.setenv("CURSOR_SIGNING_KEY_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:s/cursor-signing-key-abc")
    config.reset()
    assert bootstrap.cursor_signing_secret() == "from-sm"
    assert asked == [("arn:aws:secretsmanager:eu-west-1:1:secret:s/cursor-signing-key-abc", 300)]
    env.setenv("CURSOR_SIGNING_KEY", "explicit")
    config.reset()
    assert bootstrap.cursor_signing_secret() == "explicit"


# ---------------------------------------------------------------------------------------------- DynamoDB refusing


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Query")


@pytest.mark.parametrize("message", [
    "The provided starting key is invalid: The provided key element does not match the schema",
    "The provided starting key is outside query boundaries based on provided conditions",
    "The provided starting key does not match the range key predicate",
    "Exclusive Start Key must have same size as table's key schema",
])
def test_dynamodb_refusing_the_start_key_is_recognised(message: str) -> None:
    cause = client_error("ValidationException", message)
    assert refused_start_key(QueryError("Failed to query items", cause))
    assert refused_start_key(cause)
    try:
        try:
            raise QueryError("Failed to query items", cause)
        except QueryError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert refused_start_key(outer)


def test_other_errors_are_not_taken_for_a_refused_start_key() -> None:
    assert not refused_start_key(QueryError("x", client_error("ValidationException", "Query condition missed key")))
    assert not refused_start_key(QueryError("x", client_error("ProvisionedThroughputExceededException", "start key")))
    assert not refused_start_key(PutError("x", client_error("ConditionalCheckFailedException", "failed")))
    assert not refused_start_key(RuntimeError("The provided starting key is invalid"))
    assert not refused_start_key(QueryError("x", ParamValidationError(report="Invalid type for parameter Limit")))
    assert refused_start_key(QueryError("x", ParamValidationError(
        report="Invalid type for parameter ExclusiveStartKey.invoice_id.S, value: {}")))
