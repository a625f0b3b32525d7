"""Two independent AWS calls of one request at the same time, so that a request waits for one
round trip instead of two (a list's Query and the counters it needs; delete's tagging and its
version listing).

The second call runs in a small pool of threads kept for the process (a Lambda environment serves
one request at a time and keeps its threads between invocations, so after the first request no
thread is started); botocore's clients may be shared between threads. It runs in a copy of the
caller's context: a worker does not inherit context variables, and the request's deadline
(app/deadline.py) is one.
"""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from functools import cache

# Per request at most one call runs beside the caller's; under uvicorn requests run concurrently.
WORKERS = 8


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(WORKERS, thread_name_prefix="echoes-parallel")


def alongside[T, U](here: Callable[[], T], there: Callable[[], U]) -> tuple[T, U]:
    """HERE in this thread while THERE runs in a worker; both results. When either fails, its
    error is raised (HERE's first), and only after THERE has ended: no call outlives the request."""
    future: Future[U] = _pool().submit(copy_context().run, there)
    try:
        mine = here()
    except BaseException:
        future.exception()  # wait for it to end; its own outcome no longer matters
        raise
    return mine, future.result()
