"""Payment processor webhooks: verify the signature on the raw body, archive the body, record each
event (deduplicated by its provider id), then answer 2xx. Anything that fails before the record is
written answers 5xx, so the provider retries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.errors import error_answer
from chalicelib.api.http import error_response
from chalicelib.domain.errors import Kind
from chalicelib.observability import logger

blueprint = Blueprint(__name__)
JSON = ["application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"]


def _record(provider: str, raw: bytes, batch: Any) -> list[str]:
    from chalicelib.domain.errors import DomainError

    raw_key = bootstrap.webhook_archive().keep(provider, raw)
    service = bootstrap.payment_service()
    outcomes = []
    for event in batch.events:
        try:
            outcomes.append(service.receive(event, raw_key).outcome)
        except DomainError as exc:
            # Authentic, but its values break a rule of the ledger (an amount too large to add to a balance):
            # kept for a person, and acknowledged, since a retry would fail the same way.
            logger.warning("webhook event kept for review", extra={"provider": provider, "reason": exc.message})
            outcomes.append(service.record_ignored(event.dedupe_key, event.raw_type, exc.message, raw_key,
                                                   needs_review=True).outcome)
    for ignored in batch.ignored:
        service.record_ignored(f"{provider}:{ignored.event_id}", ignored.type, ignored.reason, raw_key,
                               ignored.needs_review)
    logger.info("webhook recorded", extra={"provider": provider, "outcomes": outcomes,
                                           "ignored": len(batch.ignored)})
    return outcomes


def _secrets(provider: str) -> list[str]:
    secrets: list[str] = bootstrap.webhook_secrets().for_provider(provider)
    if not secrets:
        # A configuration fault, not the sender's: 5xx so the provider keeps retrying until it is fixed.
        raise RuntimeError(f"no {provider} webhook secret is configured")
    return secrets


@blueprint.route("/webhooks/{provider}", methods=["POST"], content_types=JSON)
def webhook(provider: str) -> Response:
    """Every processor at its own URL; chalicelib/formats/processors/registry.py says which exist and how each is
    verified, parsed and acknowledged."""
    from chalicelib import config
    from chalicelib.formats.processors import MAX_WEBHOOK_BYTES, MalformedWebhook, SignatureError
    from chalicelib.formats.processors.registry import Delivery, find

    request = blueprint.current_request
    unknown = sorted(request.query_params or ())
    if unknown:  # processors send none: a query string is a misconfigured endpoint URL
        return error_response(400, "invalid_parameter", f"unknown query parameter {unknown[0]!r}; this route "
                              "takes none", unknown[0])
    processor = find(provider)
    if processor is None:
        return error_response(404, "not_found", "no payment processor sends webhooks to this URL")
    body = request.raw_body or b""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > MAX_WEBHOOK_BYTES:
        return error_response(413, "body_too_large", f"the body is at most {MAX_WEBHOOK_BYTES} bytes")
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    try:
        batch = processor.verify_and_parse(Delivery(raw, headers, _secrets(provider), datetime.now(UTC),
                                                    config.settings()))
        _record(provider, raw, batch)
        ack = processor.acknowledge(batch)
        return Response(body=ack.body, status_code=ack.status, headers=dict(ack.headers) or None)
    except (SignatureError, MalformedWebhook) as exc:
        # Only what the sender got wrong is answered by its kind (4xx: not retried); anything else, a version
        # conflict included, is 500 below so the processor retries until the event is recorded.
        if isinstance(exc, SignatureError):
            logger.warning("webhook signature rejected", extra={"provider": provider, "reason": str(exc)})
        # Each processor expects its own status for a bad signature.
        known = error_answer(exc, {Kind.UNAUTHENTICATED: processor.invalid_signature_status})
        assert known is not None  # both classes declare a kind
        return error_response(known.status, known.code, known.message, known.field)
    except Exception:
        logger.exception("webhook not recorded", extra={"provider": provider})
        return error_response(500, "internal", "the event was not recorded; please retry")
