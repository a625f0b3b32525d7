"""API Gateway proxy events, shaped like `sam local generate-event apigateway aws-proxy` (REST, v1)
and `... http-api-proxy` (HTTP API, v2), whose output is kept in devtools/events/."""

import base64
import copy
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mangum.types import LambdaCognitoIdentity, LambdaMobileClientContext

SAMPLES = Path(__file__).resolve().parent / "events"
_REST_SAMPLE = json.loads((SAMPLES / "aws-proxy.json").read_text())
_HTTP_SAMPLE = json.loads((SAMPLES / "http-api-proxy.json").read_text())


@dataclass
class LambdaContext:
    """The runtime's context object, with every attribute Mangum's LambdaContext protocol names."""

    function_name: str = "echoes-local-api"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:echoes-local-api"
    aws_request_id: str = "local"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/echoes-local-api"
    log_stream_name: str = "local"
    identity: LambdaCognitoIdentity | None = None  # set only for mobile SDK invocations
    client_context: LambdaMobileClientContext | None = None

    @classmethod
    def fresh(cls) -> "LambdaContext":
        return cls(aws_request_id=str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _body(body: bytes | None) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def rest_event(
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    stage: str = "dev",
    resource: str = "/{proxy+}",
    path_parameters: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A REST API (v1) proxy event; `path` is the route without the stage, as API Gateway sends it.
    `resource` is the matched route; `claims` what a Cognito authorizer passes on (as strings)."""
    event: dict[str, Any] = copy.deepcopy(_REST_SAMPLE)
    headers = headers or {}
    text, encoded = _body(body)
    event.update(
        httpMethod=method,
        path=path,
        resource=resource,
        pathParameters=(path_parameters or None)
        if path_parameters is not None
        else {"proxy": path.lstrip("/")},
        queryStringParameters=dict(query) if query else None,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
        headers=dict(headers),
        multiValueHeaders={k: [v] for k, v in headers.items()},
        body=text,
        isBase64Encoded=encoded,
        stageVariables=None,
    )
    context = event["requestContext"]
    context.update(
        httpMethod=method,
        path=f"/{stage}{path}",
        stage=stage,
        requestId=request_id or str(uuid.uuid4()),
        requestTimeEpoch=int(time.time() * 1000),
        resourcePath=resource,
    )
    if claims is not None:
        context["authorizer"] = {"claims": {name: _claim(value) for name, value in claims.items()}}
    return event


def _claim(value: Any) -> str:
    """API Gateway hands a Cognito authorizer's claims to the function as strings."""
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def http_api_event(
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    stage: str = "$default",
) -> dict[str, Any]:
    """An HTTP API (v2) event; with a named stage the raw path carries the stage prefix."""
    event: dict[str, Any] = copy.deepcopy(_HTTP_SAMPLE)
    text, encoded = _body(body)
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    event.update(
        routeKey="$default",
        rawPath=raw_path,
        rawQueryString=urlencode(query or {}),
        queryStringParameters=dict(query) if query else None,
        headers={k.lower(): v for k, v in (headers or {}).items()},
        cookies=[],
        body=text,
        isBase64Encoded=encoded,
        pathParameters=None,
        stageVariables=None,
    )
    context = event["requestContext"]
    context["http"].update(method=method, path=raw_path)
    context.update(
        stage=stage, requestId=str(uuid.uuid4()), routeKey="$default", timeEpoch=int(time.time() * 1000)
    )
    context.pop("authorizer", None)
    return event


def response_headers(response: dict[str, Any]) -> dict[str, str]:
    """A proxy response's headers, multi-value ones joined as HTTP joins them ("a, b")."""
    headers = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    return headers
