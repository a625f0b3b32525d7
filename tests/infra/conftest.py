"""Fixtures of the script tests: moto's server as an empty account, a copy of the repository."""

from pathlib import Path

import pytest
from moto.iam.models import IAMBackend
from moto.logs.responses import LogsResponse

from devtools.moto import MotoEndpoint
from tests.infra.scripts import aws_managed_policies_as_aws, copy_repo, describe_log_groups_as_aws


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the repository's files, so nothing here is touched."""
    return copy_repo(tmp_path)


@pytest.fixture
def moto_aws(moto_endpoint: MotoEndpoint, monkeypatch: pytest.MonkeyPatch) -> MotoEndpoint:
    """moto's server, reset to an empty account, as this process's AWS endpoint too."""
    monkeypatch.setattr(IAMBackend, "_init_aws_policies", aws_managed_policies_as_aws)
    moto_endpoint.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint.url)
    monkeypatch.setattr(LogsResponse, "describe_log_groups", describe_log_groups_as_aws)
    return moto_endpoint
