"""Per-request context: request id, API Gateway stage prefix, and a last-resort 500."""

import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import internal_error_response
from app.observability import logger, request_id_var

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REQUEST_ID_HEADER = "x-request-id"


def _request_id(scope: Scope, event: dict[str, Any]) -> str:
    gateway_id = event.get("requestContext", {}).get("requestId")
    if gateway_id:
        return str(gateway_id)
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode() and _CLIENT_REQUEST_ID.match(value.decode("latin-1")):
            return value.decode("latin-1")
    return str(uuid.uuid4())


def stage_prefix(event: dict[str, Any]) -> str:
    """The '/<stage>' the client's URL had in front of the route, or '' (custom domain, $default).

    Mangum gives the app the path without the stage for REST events, so pages such as /docs that
    link to /openapi.json need it as root_path (Mangum issues #142, #318).
    """
    context = event.get("requestContext", {})
    stage = context.get("stage")
    if not stage or stage == "$default":
        return ""
    requested = context.get("path") or event.get("rawPath") or ""
    prefix = f"/{stage}"
    return prefix if requested == prefix or requested.startswith(prefix + "/") else ""


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        event = scope.get("aws.event") or {}
        prefix = stage_prefix(event)
        if prefix:
            scope = {**scope, "root_path": prefix}
        request_id = _request_id(scope, event)
        token = request_id_var.set(request_id)
        logger.set_correlation_id(request_id)
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            logger.exception("Unhandled error")
            if response_started:
                raise
            await internal_error_response()(scope, receive, send_with_request_id)
        finally:
            request_id_var.reset(token)
