from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import bootstrap, config
from chalicelib.adapters.models import ALL_MODELS
from chalicelib.local.moto_dynamodb import install

# DynamoDB's transaction semantics at the cost of the items touched (moto's own copies whole tables).
install()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        bootstrap.reset()
        settings = config.settings()
        bootstrap.bind_tables(settings)
        for model in ALL_MODELS:
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=False)
        boto3.client("s3", region_name=settings.region).create_bucket(
            Bucket=settings.inbox_bucket, CreateBucketConfiguration={"LocationConstraint": settings.region})
        # Versioned, as deployed (infra/resources.yaml): ingestion tells uploads apart by version id.
        boto3.client("s3", region_name=settings.region).put_bucket_versioning(
            Bucket=settings.inbox_bucket, VersioningConfiguration={"Status": "Enabled"})
        yield
        bootstrap.reset()


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name=config.settings().region)


@pytest.fixture
def bucket(aws: None) -> str:
    return config.settings().inbox_bucket


@pytest.fixture
def client(aws: None) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client


def issue_key(role: str = "admin") -> str:
    return str(bootstrap.api_keys().issue(f"test-{role}", role, actor="system:test").api_key)


@pytest.fixture
def admin_headers(aws: None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_key('admin')}"}


@pytest.fixture
def collector_headers(aws: None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_key('collector')}"}


@pytest.fixture
def dunning(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Runs with a simulated clock allowed, and SES ready to send as example.com."""
    monkeypatch.setenv("DUNWELL_ALLOW_SIMULATED_CLOCK", "true")
    bootstrap.reset()
    boto3.client("ses", region_name=config.settings().region).verify_domain_identity(Domain="example.com")
    yield
