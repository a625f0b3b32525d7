"""Blocking work (AWS calls, JWKS fetches) from async routes: inline in Lambda, threadpool elsewhere.

A Lambda container serves one request at a time, so a worker thread buys nothing there, and it
costs a thread start on every invocation: anyio's idle workers do not outlive the root task that
Mangum creates per event. FastAPI's own way (plain `def` routes and dependencies, run in its
threadpool) was measured against this at the chosen memory size (docs/performance.md). Under
uvicorn, where requests are concurrent, blocking calls go to the threadpool as usual.
"""

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking[**P, T](
    connection: HTTPConnection, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    if "aws.event" in connection.scope:  # set by Mangum: this is a Lambda invocation
        return func(*args, **kwargs)
    return await run_in_threadpool(func, *args, **kwargs)
