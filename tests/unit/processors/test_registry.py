"""The processor registry: the built-in processors in one list, checked names, and nothing loaded at import."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.formats.processors import registry
from chalicelib.formats.processors.stripe import PROCESSOR as STRIPE

ROOT = Path(__file__).resolve().parents[3]


def test_the_built_in_processors_in_their_listed_order():
    assert list(registry.processors())[:3] == ["stripe", "gocardless", "adyen"]
    assert len(registry.processors()) == len(registry.BUILT_IN)
    assert registry.find("adyen") is registry.processors()["adyen"]
    assert registry.find("paypal") is None


@pytest.mark.parametrize("name", ["stripe", "Stripe", "pay-pal", "pay.pal", "", "9pay", "p" * 33])
def test_a_taken_or_unsafe_name_is_refused(name):
    before = list(registry.processors())
    with pytest.raises(ValueError, match="payment processor"):
        registry.register(replace(STRIPE, name=name))
    assert list(registry.processors()) == before


def test_register_and_unregister():
    registry.register(replace(STRIPE, name="stripe2"))
    try:
        assert list(registry.processors())[-1] == "stripe2"
    finally:
        registry.unregister("stripe2")
    assert registry.find("stripe2") is None


def test_importing_the_app_loads_no_processor():
    # Every Lambda function imports app.py; only a webhook needs the processors (cold start budget, bench coldstart).
    script = ("import sys, app\n"
              "print(sorted(m for m in sys.modules if m.startswith('chalicelib.formats.processors')))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                            env={"AWS_DEFAULT_REGION": "eu-west-1", "PATH": ""})
    assert result.stdout.strip().splitlines()[-1] == "[]"
