"""Each request's time budget, so that a slow or hung dependency gives a prompt 503, not a hang.

The middleware starts the budget when a request arrives; AWS calls (a botocore hook in app/aws.py)
and the store's retries check it. Code outside a request (scripts, the health probe's own thread
pool before a request sets one) has no deadline and is bounded by the clients' timeouts alone.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)


class DeadlineExceeded(Exception):
    """The request's time budget ran out before its work was done."""


def start(seconds: float) -> Token[float | None]:
    return _deadline.set(time.monotonic() + seconds)


def reset(token: Token[float | None]) -> None:
    _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left in the current request's budget, or None outside a request."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def check() -> None:
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded()


@contextmanager
def grace(seconds: float) -> Iterator[None]:
    """Clean-up after a failure may run SECONDS past the deadline (still bounded by timeouts)."""
    deadline = _deadline.get()
    if deadline is None:
        yield
        return
    token = _deadline.set(max(deadline, time.monotonic()) + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)
