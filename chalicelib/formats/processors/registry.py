"""The payment processors Dunwell takes webhooks from: one module each, listed once in `BUILT_IN`.

A processor's module declares `PROCESSOR = Processor(...)`. Everything else that differs per processor is read
from here, so adding one touches its module and one line below:

* the route: `POST /webhooks/{name}` (chalicelib/api/webhooks.py) verifies, parses and acknowledges through it;
* the secrets: the environment variable named by `variable` (local stack, tests), else the `name` key of
  the Secrets Manager document at WEBHOOK_SECRETS_ARN;
* the OpenAPI document's webhook operations (chalicelib/api/openapi.py);
* the local stack's default secrets (chalicelib/local/options.py, `.dunwell/local.json` `webhook_secrets`).

Importing the processors costs about 10 ms; callers outside the webhook route (settings, the OpenAPI document)
import this module where they first need it, so no other function pays for it at cold start.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.formats.processors.base import WebhookBatch

BUILT_IN = (
    "chalicelib.formats.processors.stripe",
    "chalicelib.formats.processors.gocardless",
    "chalicelib.formats.processors.adyen",
)


@dataclass(frozen=True)
class Delivery:
    """One webhook request as the processor sent it."""

    body: bytes  # raw, as received: a signature never verifies over re-serialised JSON
    headers: Mapping[str, str]  # names lower-cased
    secrets: Sequence[str]  # one, or two while a secret is rotated; any may match
    now: datetime
    # The deployment's chalicelib.config.Settings, for a processor with options of its own (Adyen's manual
    # capture accounts); typed loosely so the formats do not depend on the configuration module.
    settings: Any = None


@dataclass(frozen=True)
class Acknowledgement:
    """The answer the processor expects once every event is recorded."""

    status: int
    body: Any  # a dict is sent as JSON
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Processor:
    name: str  # the URL segment, the key of its secrets and the prefix of its events' dedupe keys
    title: str  # as the processor spells itself, for the documentation
    variable: str  # where the local stack and tests put its secrets (comma-separated while rotating)
    local_default: str  # `make run`'s secret, documented so scripts can sign test webhooks; never used in AWS
    signature_header: str | None  # None: the signature travels inside the body
    invalid_signature_status: int  # what the processor expects for a forged, tampered or stale request
    # Raises SignatureError (answered invalid_signature_status), MalformedWebhook (400) or ValueError (500).
    verify_and_parse: Callable[[Delivery], WebhookBatch]
    acknowledge: Callable[[WebhookBatch], Acknowledgement]
    # OpenAPI responses for the acknowledgements, by status code.
    documented_acknowledgements: Mapping[str, Mapping[str, Any]]


# A name is a URL segment and a key in the secrets document: lower-case letters and digits keep both unambiguous.
_NAME = re.compile(r"[a-z][a-z0-9]{0,31}")
_built_in: dict[str, Processor] = {}
_added: dict[str, Processor] = {}


def _load_built_in() -> dict[str, Processor]:
    if not _built_in:
        for module_name in BUILT_IN:
            processor: Processor = importlib.import_module(module_name).PROCESSOR
            _built_in[processor.name] = processor
    return _built_in


def processors() -> Mapping[str, Processor]:
    """Every processor by name: the built-in ones in `BUILT_IN` order, then any `register`ed."""
    return {**_load_built_in(), **_added}


def find(name: str) -> Processor | None:
    return processors().get(name)


def register(processor: Processor) -> Processor:
    """Adds a processor defined outside this package (a test's, say); the built-in ones are listed in BUILT_IN."""
    if not _NAME.fullmatch(processor.name):
        raise ValueError(f"a payment processor's name is lower-case letters and digits, not {processor.name!r}")
    if processor.name in processors():
        raise ValueError(f"a payment processor named {processor.name!r} is already registered")
    _added[processor.name] = processor
    return processor


def unregister(name: str) -> None:
    _added.pop(name, None)
