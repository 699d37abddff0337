"""The local API server never repeats an Authorization header: an unknown route answers the API's own 404."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.client import HTTPConnection

import pytest
from chalice import Chalice
from chalice.config import Config
from chalice.local import create_local_server

from chalicelib.local.gateway import NO_ROUTE_BODY, use_quiet_handler

KEY = "dwk_0123456789ab_s3cr3t-value-that-must-not-come-back"


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    app = Chalice("gateway-test")

    @app.route("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    config = Config(chalice_stage="local", config_from_disk={"version": "2.0", "app_name": "gateway-test"})
    local = create_local_server(app, config, "127.0.0.1", 0)
    use_quiet_handler(local, app, config)
    thread = threading.Thread(target=local.server.serve_forever, daemon=True)
    thread.start()
    yield local.server.server_address[:2]
    local.server.shutdown()
    local.server.server_close()
    thread.join()


def _get(address: tuple[str, int], path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = HTTPConnection(*address, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("authorization", [f"Bearer {KEY}", KEY, f"Basic {KEY}"])
def test_a_mistyped_url_never_echoes_the_key(server: tuple[str, int], authorization: str) -> None:
    status, body = _get(server, "/invoicez", {"Authorization": authorization})
    assert status == 404
    assert json.loads(body) == NO_ROUTE_BODY
    assert KEY.encode() not in body and b"s3cr3t" not in body


def test_without_a_header_the_answer_is_the_same_and_known_routes_still_work(server: tuple[str, int]) -> None:
    status, body = _get(server, "/invoicez", {})
    assert (status, json.loads(body)) == (404, NO_ROUTE_BODY)
    assert _get(server, "/health", {"Authorization": f"Bearer {KEY}"}) == (200, b'{"status":"ok"}')


def test_a_chunked_body_is_read_and_the_connection_stays_usable() -> None:
    app = Chalice("gateway-chunked")

    @app.route("/echo", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
    def echo() -> dict[str, str]:
        raw = app.current_request.raw_body or b""
        return {"body": raw.decode()}

    config = Config(chalice_stage="local", config_from_disk={"version": "2.0", "app_name": "gateway-chunked"})
    local = create_local_server(app, config, "127.0.0.1", 0)
    use_quiet_handler(local, app, config)
    thread = threading.Thread(target=local.server.serve_forever, daemon=True)
    thread.start()
    connection = HTTPConnection(*local.server.server_address[:2], timeout=10)
    try:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for body in ([b"a=1&", b"b=2"], []):  # two chunks, then an empty chunked body (what clients send for {})
            connection.request("POST", "/echo", body=iter(body), headers=form, encode_chunked=True)
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())) == (200, {"body": b"".join(body).decode()})
        connection.request("POST", "/echo", body=b"c=3", headers=form)  # the same connection, still in step
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (200, {"body": "c=3"})
    finally:
        connection.close()
        local.server.shutdown()
        local.server.server_close()
        thread.join()
