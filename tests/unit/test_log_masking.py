"""Log lines mask email addresses, whatever part of the record carries them."""

from __future__ import annotations

import logging

import pytest

from chalicelib.domain.masking import mask, mask_all, mask_emails_in
from chalicelib.observability import MaskAddresses


def test_mask() -> None:
    assert mask("jane.doe@example.com") == "j***@example.com"
    assert mask("+4915112345678") == "+491***78"
    assert mask_all(["ap@acme.example", "b@x.example"]) == ["a***@acme.example", "b***@x.example"]
    assert mask_emails_in("bounce for Jane <jane@acme.example>, cc ap@acme.example") == \
        "bounce for Jane <j***@acme.example>, cc a***@acme.example"
    assert mask_emails_in(mask_emails_in("ap@acme.example")) == "a***@acme.example"  # masking twice changes nothing
    assert mask_emails_in("no address; 10 @ 5 EUR") == "no address; 10 @ 5 EUR"


def test_the_filter_masks_message_arguments_and_extra_fields(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.masking")
    caplog.handler.addFilter(MaskAddresses())
    with caplog.at_level(logging.INFO, logger="tests.masking"):
        log.info("mail to jane@acme.example via %s", "ap@acme.example",
                 extra={"outcome": {"addresses": ["ap@acme.example"], "count": 1}, "to": ("x@y.example",)})
        log.info("mapping %(who)s", {"who": "ap@acme.example"})
    first, second = caplog.records
    assert first.getMessage() == "mail to j***@acme.example via a***@acme.example"
    assert first.outcome == {"addresses": ["a***@acme.example"], "count": 1}
    assert first.to == ("x***@y.example",)
    assert second.getMessage() == "mapping a***@acme.example"


def test_portal_link_tokens_never_reach_a_log_line() -> None:
    from chalicelib.domain.masking import mask_emails_in, mask_portal_tokens_in

    token = "Ab-_9" * 8 + "xyz"
    line = f'"GET /api/portal/open/{token}?x=1 HTTP/1.1" 303 for ap@acme.example'
    masked = mask_emails_in(line)
    assert token not in masked and "/portal/open/***?x=1" in masked and "a***@acme.example" in masked
    assert mask_portal_tokens_in("no link here") == "no link here"


def test_the_local_api_server_logs_request_lines_without_portal_tokens(capsys) -> None:
    from chalicelib.local.gateway import RequestHandler

    handler = RequestHandler.__new__(RequestHandler)
    handler.client_address = ("127.0.0.1", 5000)
    handler.requestline = "GET /portal/open/" + "A" * 43 + " HTTP/1.1"
    handler.log_request(303)
    assert "A" * 43 not in capsys.readouterr().err
