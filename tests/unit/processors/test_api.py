"""The package's uniform entry point, and its purity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.formats.processors import (
    SIGNATURE_HEADERS,
    SignatureError,
    UnknownProvider,
    verify_and_parse,
)

from .conftest import NOW, adyen_body, adyen_sign, example, gocardless_signature, stripe_header

ROOT = Path(__file__).resolve().parents[3]


def test_stripe_through_the_dispatcher_with_any_header_case():
    raw = example("stripe-payment_intent.succeeded.json")
    header = stripe_header(raw, "whsec_x", timestamp=1795597200)
    batch = verify_and_parse("stripe", raw, {"stripe-SIGNATURE": header}, ["whsec_x"],
                             NOW.replace(day=25, hour=9, minute=0, second=30))
    assert [e.payment_ref for e in batch.events] == ["pi_3SFkq2LkdIwHu7ix0n1Hq8Zt"]
    with pytest.raises(SignatureError):
        verify_and_parse("stripe", raw, {}, ["whsec_x"], NOW)


def test_gocardless_through_the_dispatcher():
    raw = example("gocardless-payments.json")
    batch = verify_and_parse("gocardless", raw, {"Webhook-Signature": gocardless_signature(raw, "gc")}, ["gc"], NOW)
    assert len(batch.events) == 1 and len(batch.ignored) == 1


def test_adyen_through_the_dispatcher():
    key = "ab" * 32
    item = {"pspReference": "P1", "merchantAccountCode": "M", "merchantReference": "INV-2026-1008",
            "amount": {"currency": "USD", "value": 100}, "eventCode": "AUTHORISATION", "success": "true",
            "eventDate": "2026-11-25T16:02:11+01:00"}
    raw = adyen_body(adyen_sign(item, key))
    assert len(verify_and_parse("adyen", raw, {}, [key], NOW).events) == 1
    assert verify_and_parse("adyen", raw, {}, [key], NOW, adyen_manual_capture_accounts={"M"}).events == ()


def test_unknown_provider():
    with pytest.raises(UnknownProvider):
        verify_and_parse("paypal", b"{}", {}, ["x"], NOW)
    assert set(SIGNATURE_HEADERS) == {"stripe", "gocardless", "adyen"}


def test_importing_and_running_loads_no_cloud_library_and_not_the_stripe_sdk():
    script = (
        "import sys\n"
        "from chalicelib.formats.processors import parse_stripe, parse_gocardless\n"
        "from chalicelib.formats.bank import parse_bank_file\n"
        "parse_stripe(open('examples/webhooks/stripe-payment_intent.succeeded.json','rb').read())\n"
        "parse_gocardless(open('examples/webhooks/gocardless-payments.json','rb').read())\n"
        "list(parse_bank_file(open('examples/bank/camt053-example.xml','rb'), 'x.xml').items)\n"
        "list(parse_bank_file(open('examples/bank/statement.csv','rb'), 'x.csv').items)\n"
        "banned = ('boto3', 'botocore', 'pynamodb', 'chalice', 'aws_lambda_powertools', 'stripe', 'requests')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
