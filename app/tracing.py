"""X-Ray subsegments for each request's route and each of its AWS calls (Powertools Tracer, whose
provider is the X-Ray SDK's recorder): Lambda's own segment (Tracing: Active) then shows where a
request's time went instead of one box. Where TRACING_ENABLED (every environment's config) and in
Lambda (the tracer disables itself elsewhere), and only for the requests Lambda samples: the
others cost a look at the trace header. The SDK records nothing for calls outside a request (the
health probes' threads, SnapStart's priming): AWS_XRAY_CONTEXT_MISSING=IGNORE_ERROR, set by the
template. With TRACING_ENABLED=false nothing imports the SDK; its costs are in docs/performance.md.

The AWS calls are traced by botocore event hooks (app/aws.py, observe_calls) rather than the SDK's
patch of botocore, which wraps every call of every request, sampled or not: a warm list of 20 was
8 % more instructions with it, unsampled (docs/performance.md, Tracing).
"""

import os
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from app import SERVICE_NAME, parallel
from app.aws import AwsClients, observe_calls

_SUBSEGMENT = "xray_subsegment"  # where a call's subsegment waits in botocore's request context


def sampled() -> bool:
    """Whether Lambda samples this invocation: its runtime sets the header before each one."""
    return "Sampled=1" in os.environ.get("_X_AMZN_TRACE_ID", "")


def install(app: FastAPI, clients: AwsClients) -> None:
    """Last in create_app: the route layer is then the outermost."""
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=SERVICE_NAME, auto_patch=False)
    if tracer.disabled:
        return
    calls = AwsCallSubsegments(tracer.provider)
    observe_calls(calls.begin, calls.end, calls.failed, [clients.dynamodb, clients.s3])
    parallel.carry(_current_entity)
    app.add_middleware(RouteSubsegments, recorder=tracer.provider)


def _current_entity() -> Callable[[], None]:
    """The SDK keeps the current trace entity per thread: a call a worker makes for this request
    (app/parallel.py) belongs under the same route subsegment."""
    if not sampled():
        return _unchanged
    from aws_xray_sdk.core import xray_recorder  # Powertools Tracer's provider

    entity = xray_recorder.context.get_trace_entity()
    return lambda: xray_recorder.context.set_trace_entity(entity)


def _unchanged() -> None:
    return None


class AwsCallSubsegments:
    """A subsegment per AWS call, as X-Ray shows AWS services: namespace "aws", named for the
    service, with the operation, region, request id and status."""

    def __init__(self, recorder: Any) -> None:
        self._recorder = recorder

    def begin(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if sampled():
            subsegment = self._recorder.begin_subsegment(model.service_model.endpoint_prefix, namespace="aws")
            if subsegment is not None:  # None: no trace in this thread (IGNORE_ERROR)
                context[_SUBSEGMENT] = subsegment

    def end(
        self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        subsegment = context.pop(_SUBSEGMENT, None)
        if subsegment is None:
            return
        metadata = parsed.get("ResponseMetadata", {})
        subsegment.put_http_meta("status", http_response.status_code)
        subsegment.set_aws(
            {
                "operation": model.name,
                "region": context.get("client_region"),
                "request_id": metadata.get("RequestId"),
            }
        )
        self._recorder.end_subsegment()

    def failed(self, exception: Exception, context: dict[str, Any], **_: Any) -> None:
        """No answer (a timeout, a refused connection, the request's deadline spent)."""
        subsegment = context.pop(_SUBSEGMENT, None)
        if subsegment is not None:
            subsegment.add_exception(exception, [], remote=False)
            self._recorder.end_subsegment()


class RouteSubsegments:
    """A subsegment per sampled request, named for the route it matched (`## GET
    /api/v1/echoes/{echo_id}`: one name per route, never per echo)."""

    def __init__(self, app: ASGIApp, recorder: Any) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not sampled():
            await self.app(scope, receive, send)
            return
        subsegment = self.recorder.begin_subsegment(f"## {scope['method']}")
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")  # set by the router, in this same scope
            if subsegment is not None:
                if route is not None:
                    subsegment.name = f"## {scope['method']} {route.path}"
                self.recorder.end_subsegment()
