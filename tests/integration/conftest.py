"""The deployed code path: lambda_handler imported from its environment, against moto's server."""

import importlib
import sys

import pytest

from app.settings import get_settings
from devtools.local_aws import LocalStack, provision
from devtools.moto import MotoEndpoint
from tests.integration.deployed import Deployed
from tests.support import ORIGINS


@pytest.fixture
def aws(moto_endpoint: MotoEndpoint, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """The prod stack provisioned on moto's server, which AWS_ENDPOINT_URL names."""
    moto_endpoint.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint.url)
    return provision("prod", ORIGINS)


@pytest.fixture
def deployed(moto_endpoint: MotoEndpoint, monkeypatch: pytest.MonkeyPatch) -> Deployed:
    moto_endpoint.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint.url)
    stack = provision("dev", ORIGINS)
    for name, value in stack.app_env(moto_endpoint.url, "dev", ORIGINS).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    sys.modules.pop("lambda_handler", None)
    module = importlib.import_module("lambda_handler")  # as the runtime does at init
    return Deployed(module.handler, stack, moto_endpoint)
