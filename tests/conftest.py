"""Fixtures shared by every suite: fake credentials, Amazon's DynamoDB Local once per session,
and a moto-only stack for the tests that check resources against template.yaml."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from devtools.dynamodb_local import DynamoDBLocal
from devtools.local_aws import LocalStack, provision
from devtools.moto import MotoEndpoint
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


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    """How ./scripts/test.sh's parallel run (pytest-xdist, --dist loadgroup) shares the tests out.
    The tests of one running local stack (tests/e2e, per mode) form a group, which xdist gives to
    one worker: it starts that stack once. The order: slow tests first, so that none of them starts
    last while the other worker idles, then the e2e groups, then the rest as collected. tests/api
    keeps its place: its stack is provisioned once per package, so on each worker its tests must
    run one after the other."""
    for item in items:  # before the other implementations: xdist reads the groups in its own
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "local_stack" in callspec.params:
            item.add_marker(pytest.mark.xdist_group(f"local-stack-{callspec.params['local_stack']}"))
    yield  # pytest orders the tests by their parametrized fixtures, xdist names the groups
    api = Path(__file__).parent / "api"
    items.sort(key=lambda item: _start_order(item, api))


def _start_order(item: pytest.Item, api: Path) -> int:
    if item.path.is_relative_to(api):
        return 2
    if item.get_closest_marker("slow"):
        return 0
    return 1 if item.get_closest_marker("e2e") else 2


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


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[MotoEndpoint]:
    """moto's HTTP server, for the tests that run a process of their own against it."""
    endpoint = MotoEndpoint().start()
    yield endpoint
    endpoint.stop()
