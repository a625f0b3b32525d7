"""Per-request context (request id, log correlation id, API Gateway stage prefix) and the
last-resort 500, as plain ASGI middleware."""

import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import deadline
from app.errors import internal_error_response
from app.observability import logger, request_id_var

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.encode()


def _request_id(scope: Scope, event: dict[str, Any]) -> str:
    gateway_id = event.get("requestContext", {}).get("requestId")
    if gateway_id:
        return str(gateway_id)
    client_id = next((v.decode("latin-1") for k, v in scope["headers"] if k == _REQUEST_ID_KEY), "")
    return client_id if _CLIENT_REQUEST_ID.match(client_id) else str(uuid.uuid4())


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
    """Outermost: every response, CORS preflights included, carries the request id, and every log
    line of the request its correlation id."""

    def __init__(self, app: ASGIApp, deadline_seconds: float) -> None:
        self.app = app
        self.deadline_seconds = deadline_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        event = scope.get("aws.event") or {}
        prefix = stage_prefix(event)
        if prefix:
            scope["root_path"] = prefix  # in place: Mangum and uvicorn build a scope per request
        request_id = _request_id(scope, event)
        token = request_id_var.set(request_id)
        budget = deadline.start(self.deadline_seconds)
        logger.set_correlation_id(request_id)
        header = (_REQUEST_ID_KEY, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            deadline.reset(budget)
            request_id_var.reset(token)


class LastResortMiddleware:
    """Innermost of the app's layers: an exception no handler turned into a response becomes the
    one format's 500 here, inside the CORS layer, so that browsers can read it (Starlette's own
    500 comes from its outermost layer, without CORS headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("Unhandled error")
            if started:
                raise
            await internal_error_response()(scope, receive, send)
