"""Fixtures shared by every suite: fake credentials, Amazon's DynamoDB Local once per session,
and a moto-only stack for the tests that check resources against template.yaml."""

import os
from collections.abc import Iterator

import pytest
from moto import mock_aws

from devtools.dynamodb_local import DynamoDBLocal
from devtools.local_aws import LocalStack, provision
from tests.support import ORIGINS

for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_METRICS_NAMESPACE": "Echoes",
}.items():
    os.environ.setdefault(_name, _value)
for _name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_name]  # in-process tests must never reach a real or local endpoint by accident


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """Amazon's DynamoDB Local, started once per session (a JVM takes seconds to start). Tests
    that depend on DynamoDB semantics (transactions, conditions, concurrency, GSIs) run on it:
    moto does not isolate concurrent transactions. Missing Java or the jar fails, never skips."""
    server = DynamoDBLocal().start()
    yield server
    server.stop()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def stack(aws: None) -> LocalStack:
    """Everything on moto, made fresh for one test (tests/api has its own, on DynamoDB Local)."""
    return provision("dev", ORIGINS)
