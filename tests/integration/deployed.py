"""The deployed code path's handle for the integration tests: lambda_handler's handler, the stack
it runs on, moto's endpoint."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devtools.events import LambdaContext, response_headers
from devtools.local_aws import LocalStack
from devtools.moto import MotoEndpoint
from tests.support import User, sign_up


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
