"""Payment processor webhooks: verify the signature on the raw body, archive the body, record each
event (deduplicated by its provider id), then answer 2xx. Anything that fails before the record is
written answers 5xx, so the provider retries."""

from __future__ import annotations

from collections.abc import Callable
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


def _handle(provider: str, bad_signature_status: int, work: Callable[[bytes, dict[str, str]], Response]) -> Response:
    from chalicelib.formats.processors import MAX_WEBHOOK_BYTES, MalformedWebhook, SignatureError

    request = blueprint.current_request
    unknown = sorted(request.query_params or ())
    if unknown:  # processors send none: a query string is a misconfigured endpoint URL
        return error_response(400, "invalid_parameter", f"unknown query parameter {unknown[0]!r}; this route "
                              "takes none", unknown[0])
    body = request.raw_body or b""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > MAX_WEBHOOK_BYTES:
        return error_response(413, "body_too_large", f"the body is at most {MAX_WEBHOOK_BYTES} bytes")
    try:
        return work(raw, {k.lower(): v for k, v in (request.headers or {}).items()})
    except (SignatureError, MalformedWebhook) as exc:
        # Only what the sender got wrong is answered by its kind (4xx: not retried); anything else, a version
        # conflict included, is 500 below so the processor retries until the event is recorded.
        if isinstance(exc, SignatureError):
            logger.warning("webhook signature rejected", extra={"provider": provider, "reason": str(exc)})
        # Each processor expects its own status for a bad signature.
        known = error_answer(exc, {Kind.UNAUTHENTICATED: bad_signature_status})
        assert known is not None  # both classes declare a kind
        return error_response(known.status, known.code, known.message, known.field)
    except Exception:
        logger.exception("webhook not recorded", extra={"provider": provider})
        return error_response(500, "internal", "the event was not recorded; please retry")


@blueprint.route("/webhooks/stripe", methods=["POST"], content_types=JSON)
def stripe_webhook() -> Response:
    def work(raw: bytes, headers: dict[str, str]) -> Response:
        from chalicelib.formats.processors import parse_stripe, verify_stripe

        verify_stripe(raw, headers.get("stripe-signature"), _secrets("stripe"), datetime.now(UTC))
        _record("stripe", raw, parse_stripe(raw))
        return Response(body={"received": True}, status_code=200)

    return _handle("stripe", 400, work)


@blueprint.route("/webhooks/gocardless", methods=["POST"], content_types=JSON)
def gocardless_webhook() -> Response:
    def work(raw: bytes, headers: dict[str, str]) -> Response:
        from chalicelib.formats.processors import parse_gocardless, verify_gocardless

        verify_gocardless(raw, headers.get("webhook-signature"), _secrets("gocardless"))
        batch = parse_gocardless(raw)
        _record("gocardless", raw, batch)
        # GoCardless: 204 when none of the events is one we act on, 200 otherwise.
        return Response(body="", status_code=200 if batch.events else 204)

    return _handle("gocardless", 498, work)


@blueprint.route("/webhooks/adyen", methods=["POST"], content_types=JSON)
def adyen_webhook() -> Response:
    def work(raw: bytes, headers: dict[str, str]) -> Response:
        from chalicelib import config
        from chalicelib.formats.processors import verify_and_parse_adyen

        manual = config.settings().adyen_manual_capture_accounts
        _record("adyen", raw, verify_and_parse_adyen(raw, _secrets("adyen"), manual_capture_accounts=manual))
        return Response(body="[accepted]", status_code=200, headers={"Content-Type": "text/plain"})

    return _handle("adyen", 401, work)
