"""Two independent AWS calls of one request at the same time, so that a request waits for one
round trip instead of two (a list's Query and the counters it needs; delete's tagging and its
version listing).

The second call runs in a small pool of threads kept for the process (a Lambda environment serves
one request at a time and keeps its threads between invocations, so after the first request no
thread is started); botocore's clients may be shared between threads. It runs in a copy of the
caller's context: a worker does not inherit context variables, and the request's deadline
(app/deadline.py) is one. State kept per thread rather than in context variables (the X-Ray SDK's
current trace entity) is carried by the functions registered with `carry` (app/tracing.py).
"""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from functools import cache

# Per request at most one call runs beside the caller's; under uvicorn requests run concurrently.
WORKERS = 8


# Called in the caller's thread, each returns what takes its per-thread state over in the worker.
type Carrier = Callable[[], Callable[[], None]]
_carriers: list[Carrier] = []


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(WORKERS, thread_name_prefix="echoes-parallel")


def carry(carrier: Carrier) -> None:
    """Have every worker take over what CARRIER captures from the caller's thread (once each)."""
    if carrier not in _carriers:
        _carriers.append(carrier)


def stop() -> None:
    """End the workers (SnapStart's snapshot then holds no thread); the next call starts them."""
    if _pool.cache_info().currsize:
        _pool().shutdown(wait=True)
        _pool.cache_clear()


def alongside[T, U](here: Callable[[], T], there: Callable[[], U]) -> tuple[T, U]:
    """HERE in this thread while THERE runs in a worker; both results. When either fails, its
    error is raised (HERE's first), and only after THERE has ended: no call outlives the request."""
    taking_over = [carrier() for carrier in _carriers]

    def in_the_worker() -> U:
        for take_over in taking_over:
            take_over()
        return there()

    future: Future[U] = _pool().submit(copy_context().run, in_the_worker)
    try:
        mine = here()
    except BaseException:
        future.exception()  # wait for it to end; its own outcome no longer matters
        raise
    return mine, future.result()
