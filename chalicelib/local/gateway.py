"""The local API server's answer to a request no route matches, as the deployed API gives it.

Chalice's local server answers an unknown path with a 403 that, when the request carried an Authorization
header, repeats the header ("... Authorization=Bearer dwk_..."): a mistyped URL would echo the API key into a
terminal, a proxy's log or a bug report. API Gateway's own answer (403 "Missing Authentication Token", or with
an Authorization header a message quoting it hashed) is replaced in infra/resources.yaml by the same 404 as here.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from chalice.local import ChaliceRequestHandler, ForbiddenError, LocalGatewayException

from chalicelib.domain.masking import mask_portal_tokens_in

NO_ROUTE_STATUS = 404
NO_ROUTE_BODY = {"error": {"code": "no_such_route",
                           "message": "no route matches this method and path (GET /openapi.json lists them)"}}


class RequestHandler(ChaliceRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # The request line names the path: a personal portal link's token never reaches the terminal.
        super().log_message(format, *(mask_portal_tokens_in(a) if isinstance(a, str) else a for a in args))

    def _send_error_response(self, error: LocalGatewayException) -> None:
        # Dunwell has no Chalice authorizer, so the local gateway's only 403 is "no such route".
        if isinstance(error, ForbiddenError):
            headers = {k: v for k, v in error.headers.items() if k.lower() == "x-amzn-requestid"}
            headers["Content-Type"] = "application/json"
            self._send_http_response(NO_ROUTE_STATUS, headers, json.dumps(NO_ROUTE_BODY).encode())
            return
        super()._send_error_response(error)


def use_quiet_handler(server: Any, app: Any, config: Any) -> None:
    """Makes a server built by chalice.local.create_local_server answer through RequestHandler."""
    server.server.RequestHandlerClass = functools.partial(RequestHandler, app_object=app, config=config)
