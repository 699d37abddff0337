"""Structured logging shared by every handler (Powertools). Nothing here touches AWS at import."""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools import Logger
from chalice import ConvertToMiddleware

from chalicelib.domain.masking import mask_emails_in

logger = Logger(service="dunwell")

# Adds the Lambda request id and cold-start flag to every log line of the invocation.
observe = ConvertToMiddleware(logger.inject_lambda_context(clear_state=True))

# What every LogRecord has; anything else on a record came in through `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_emails_in(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_scrub(item) for item in value)
    return value


class MaskAddresses(logging.Filter):
    """The last line of defence: call sites mask the addresses they log (chalicelib/domain/masking.py); this
    masks any a message, its arguments or its `extra` fields still carry, so a new log line cannot leak one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_emails_in(record.msg)
        if isinstance(record.args, dict):
            record.args = _scrub(record.args)
        elif record.args:
            record.args = tuple(_scrub(arg) for arg in record.args)
        for name, value in list(vars(record).items()):
            if name not in _RECORD_FIELDS:
                setattr(record, name, _scrub(value))
        return True


def mask_addresses_in_logs(*handlers: logging.Handler) -> None:
    """Installs MaskAddresses on these handlers, or on Powertools' and the root logger's (Lambda's own)."""
    targets = handlers or (logger.registered_handler, *logging.getLogger().handlers)
    for handler in targets:
        if not any(isinstance(f, MaskAddresses) for f in handler.filters):
            handler.addFilter(MaskAddresses())


mask_addresses_in_logs()
