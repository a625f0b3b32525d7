"""Per-request context in one ASGI layer: request id, log context, API Gateway stage prefix,
CORS, and a last-resort 500. One layer because each layer with a send wrapper costs microseconds
of every warm request, and a warm /health takes about 80 us (README, Performance)."""

import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import deadline
from app.cors import CorsPolicy, Header
from app.errors import ApiError, ErrorCode, error_response, internal_error_response
from app.observability import LogContext, logger, request_id_var

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.encode()


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


def _request_id(headers: dict[bytes, bytes], event: dict[str, Any]) -> str:
    gateway_id = event.get("requestContext", {}).get("requestId")
    if gateway_id:
        return str(gateway_id)
    client_id = _header(headers, _REQUEST_ID_KEY) or ""
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
    def __init__(self, app: ASGIApp, cors: CorsPolicy, deadline_seconds: float) -> None:
        self.app = app
        self.cors = cors
        self.deadline_seconds = deadline_seconds
        self.log_context = LogContext()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        event = scope.get("aws.event") or {}
        prefix = stage_prefix(event)
        if prefix:
            scope["root_path"] = prefix  # in place: Mangum and uvicorn build a scope per request
        headers = dict(scope["headers"])
        request_id = _request_id(headers, event)
        token = request_id_var.set(request_id)
        budget = deadline.start(self.deadline_seconds)
        self.log_context.bind(request_id, scope.get("aws.context"))
        origin = _header(headers, b"origin")
        added: list[Header] = [(_REQUEST_ID_KEY, request_id.encode())]
        response_started = False

        async def send_with_context(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        try:
            preflight_method = _header(headers, b"access-control-request-method")
            if origin is not None and preflight_method is not None and scope["method"] == "OPTIONS":
                added += self.cors.preflight_headers(origin)
                await self._preflight(origin, preflight_method, headers, scope, receive, send_with_context)
                return
            added += self.cors.response_headers(origin)
            await self.app(scope, receive, send_with_context)
        except Exception:
            logger.exception("Unhandled error")
            if response_started:
                raise
            await internal_error_response()(scope, receive, send_with_context)
        finally:
            deadline.reset(budget)
            request_id_var.reset(token)

    async def _preflight(
        self,
        origin: str,
        method: str,
        headers: dict[bytes, bytes],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Answered here, before routing and authentication: browsers send no token with it."""
        refused = self.cors.preflight_refusals(
            origin, method, _header(headers, b"access-control-request-headers")
        )
        if refused:
            error = ApiError(ErrorCode.VALIDATION_ERROR, "CORS preflight refused", {"refused": refused})
            await error_response(error)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
