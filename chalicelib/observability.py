"""Structured logging shared by every handler (Powertools). Nothing here touches AWS at import."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from chalice import ConvertToMiddleware

logger = Logger(service="dunwell")

# Adds the Lambda request id and cold-start flag to every log line of the invocation.
observe = ConvertToMiddleware(logger.inject_lambda_context(clear_state=True))
