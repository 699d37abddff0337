"""The local stack's settings: the demo seller it ships, and how the environment overrides or clears it."""

from __future__ import annotations

import pytest

from chalicelib.config import Settings
from chalicelib.local.options import DEMO_SELLER, LocalOptions


def test_the_local_stack_ships_a_fictional_seller_with_bank_details() -> None:
    seller = LocalOptions.from_env({}).seller
    assert seller == DEMO_SELLER
    assert "fictional" in seller["SELLER_NAME"]
    settings = Settings.from_env(dict(seller))  # what the app reads: valid, and enough to send reminders
    assert settings.seller_iban == "DE89370400440532013000" and settings.seller_bic == "COBADEFFXXX"
    assert settings.no_way_to_pay is None


def test_the_environment_overrides_or_clears_the_demo_seller() -> None:
    seller = LocalOptions.from_env({"SELLER_NAME": "Acme GmbH", "SELLER_IBAN": "", "SELLER_BIC": "",
                                    "PAY_URL_TEMPLATE": "https://pay.acme.example/{number}"}).seller
    assert seller["SELLER_NAME"] == "Acme GmbH" and seller["SELLER_IBAN"] == ""
    assert seller["PAY_URL_TEMPLATE"] == "https://pay.acme.example/{number}"
    cleared = LocalOptions.from_env({"SELLER_IBAN": ""}).seller
    assert Settings.from_env(dict(cleared)).no_way_to_pay is not None


@pytest.mark.parametrize(("variable", "value"), [
    ("SELLER_IBAN", "DE89 3704 0044 0532 0130 01"),
    ("SELLER_BIC", "NOTABIC"),
    ("PAY_URL_TEMPLATE", "https://pay.example.com/{customer}"),
])
def test_a_bad_seller_value_stops_make_run_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"^{variable}="):
        LocalOptions.from_env({variable: value})
