"""The local AWS: fake credentials in the environment, and moto's server in-process unless an endpoint is given."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import MutableMapping
from typing import Any

from chalicelib.local.provision import ClientFactory

log = logging.getLogger("dw_local.aws")

START_TIMEOUT_SECONDS = 60
FAKE_CREDENTIAL = "testing"  # what moto documents; any value works


class LocalStackError(RuntimeError):
    """The local stack cannot start; the message says what to do."""


def use_local_aws(environ: MutableMapping[str, str], endpoint_url: str, region: str) -> None:
    """Points every AWS SDK of this process (boto3, PynamoDB, Powertools) at the local endpoint.

    Credentials are always fake, whatever the shell has: the local stack must never reach a real account.
    """
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN"):
        environ.pop(name, None)
    environ.update(
        AWS_ACCESS_KEY_ID=FAKE_CREDENTIAL,
        AWS_SECRET_ACCESS_KEY=FAKE_CREDENTIAL,
        AWS_SESSION_TOKEN=FAKE_CREDENTIAL,
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
        AWS_ENDPOINT_URL=endpoint_url,
    )


def client_factory(endpoint_url: str, region: str) -> ClientFactory:
    """boto3 clients for the local endpoint, one per service (boto3 clients are thread-safe)."""
    import boto3

    session = boto3.session.Session(region_name=region)
    cache: dict[str, Any] = {}
    lock = threading.Lock()

    def client(service: str) -> Any:
        with lock:
            if service not in cache:
                cache[service] = session.client(service, endpoint_url=endpoint_url, region_name=region)
            return cache[service]

    return client


def check_port_free(host: str, port: int, variable: str) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            raise LocalStackError(
                f"port {port} on {host} is taken ({error.strerror}): set {variable} to a free port, or 0 for any"
            ) from error


class EmbeddedMoto:
    """moto's ThreadedMotoServer in this process, on 127.0.0.1."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.requested_port = port
        self._server: Any = None

    def start(self) -> str:
        check_port_free(self.host, self.requested_port, "DUNWELL_AWS_PORT")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
        from moto.server import ThreadedMotoServer

        from chalicelib.local.moto_dynamodb import install

        # The server answers each request on a thread of its own: transactions must be atomic and cost what
        # DynamoDB's do, or a bank statement takes hours and parallel writes lose updates.
        install()

        server = ThreadedMotoServer(ip_address=self.host, port=self.requested_port, verbose=False)
        # start() waits for the server without a timeout, forever if the socket cannot be bound.
        starter = threading.Thread(target=server.start, name="dunwell-moto-start", daemon=True)
        starter.start()
        starter.join(START_TIMEOUT_SECONDS)
        if starter.is_alive():
            raise LocalStackError(f"moto did not start on {self.host}:{self.requested_port}")
        self._server = server
        host, port = server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

