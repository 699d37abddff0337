"""Shared test set-up. Integration tests run against moto: the environment is fixed before moto and
the app are imported, as STACK.md requires (moto hooks botocore at import)."""

from __future__ import annotations

import os

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "DUNWELL_STAGE": "test",
    "DUNWELL_RESOURCE_PREFIX": "dunwell-test",
    # A stage without a way to pay sends no reminder; the tests' stage has the documentation example account.
    "SELLER_NAME": "Test Seller GmbH (fictional)",
    "SELLER_IBAN": "DE89370400440532013000",
    "SELLER_BIC": "COBADEFFXXX",
})
for _variable in ("SELLER_ADDRESS", "SELLER_PHONE", "PAY_URL_TEMPLATE"):
    os.environ.pop(_variable, None)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)
