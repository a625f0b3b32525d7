"""app/parallel.py: two calls at once, both results or the first error, the request's deadline in
the worker too, and nothing left running when the call returns."""

import threading
import time

import pytest

from app import deadline
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
