"""The deployed code path: lambda_handler imported from its environment, against moto's server."""

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.settings import get_settings
from devtools.events import LambdaContext, response_headers
from devtools.local_aws import LocalStack, provision
from devtools.moto import MotoEndpoint
from tests.support import ORIGINS, User, sign_up


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[MotoEndpoint]:
    endpoint = MotoEndpoint().start()
    yield endpoint
    endpoint.stop()


@dataclass
class Deployed:
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    stack: LocalStack
    endpoint: MotoEndpoint

    def invoke(self, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        response = self.handler(event, LambdaContext.fresh())
        headers = {name.lower(): value for name, value in response_headers(response).items()}
        body = response.get("body") or ""
        is_json = headers.get("content-type", "").startswith("application/json")
        return response["statusCode"], headers, json.loads(body) if is_json and body else body

    def user(self, email: str) -> User:
        return sign_up(self.stack.user_pool_id, self.stack.app_client_id, email)


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
