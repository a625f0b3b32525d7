"""app/parallel.py: two calls at once, both results or the first error, the request's deadline in
the worker too, and nothing left running when the call returns."""

import threading
import time
from collections.abc import Callable

import pytest

from app import deadline, parallel
from app.parallel import alongside


def test_both_run_at_once_and_both_results_come_back() -> None:
    both_started = threading.Barrier(2, timeout=5)  # breaks (fails) unless the two overlap

    def here() -> str:
        both_started.wait()
        return "here"

    def there() -> int:
        both_started.wait()
        return 2

    assert alongside(here, there) == ("here", 2)


def test_the_worker_sees_the_callers_deadline() -> None:
    token = deadline.start(30)
    try:
        _, seen = alongside(lambda: None, deadline.remaining)
    finally:
        deadline.reset(token)
    assert seen is not None and 0 < seen <= 30


def test_an_error_here_waits_for_there_to_end() -> None:
    ended = threading.Event()

    def there() -> None:
        time.sleep(0.05)
        ended.set()

    def here() -> None:
        raise LookupError("here")

    with pytest.raises(LookupError):
        alongside(here, there)
    assert ended.is_set()


def test_an_error_there_is_raised() -> None:
    def there() -> None:
        raise PermissionError("there")

    with pytest.raises(PermissionError):
        alongside(lambda: 1, there)


def test_a_worker_takes_over_what_the_carriers_capture() -> None:
    """State kept per thread (the X-Ray SDK's trace entity) follows the call into the worker."""
    local = threading.local()
    local.entity = "route subsegment"

    def carrier() -> Callable[[], None]:
        entity = local.entity
        return lambda: setattr(local, "entity", entity)

    parallel.carry(carrier)
    parallel.carry(carrier)  # once only
    try:
        _, seen = parallel.alongside(lambda: None, lambda: getattr(local, "entity", None))
        assert seen == "route subsegment"
    finally:
        parallel._carriers.remove(carrier)
    assert carrier not in parallel._carriers


def test_stop_ends_the_workers_and_the_next_call_starts_them_again() -> None:
    parallel.alongside(lambda: None, lambda: None)
    parallel.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("echoes-parallel")]
    assert parallel.alongside(lambda: 1, lambda: 2) == (1, 2)
