"""The request's time budget (app/deadline.py) and the retry pauses inside it (app/store/retry.py),
on a clock the test moves."""

import contextvars

import pytest

from app import deadline
from app.store import retry
from app.store.retry import ATTEMPTS_WITHOUT_DEADLINE, Backoff


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(deadline, "time", fake)
    return fake


def test_outside_a_request_there_is_no_deadline(clock: _Clock) -> None:
    assert deadline.remaining() is None
    clock.now += 1e6
    deadline.check()  # never raises without a budget


def test_the_budget_runs_out_at_exactly_its_end(clock: _Clock) -> None:
    token = deadline.start(3.0)
    try:
        clock.now += 2.5
        assert deadline.remaining() == pytest.approx(0.5)
        deadline.check()
        clock.now += 0.5
        with pytest.raises(deadline.DeadlineExceeded):
            deadline.check()
    finally:
        deadline.reset(token)
    assert deadline.remaining() is None, "reset restores the state before the request"


def test_grace_extends_past_a_spent_budget_then_restores_it(clock: _Clock) -> None:
    token = deadline.start(1.0)
    try:
        clock.now += 5  # spent 4 s ago
        with deadline.grace(2.0):
            assert deadline.remaining() == pytest.approx(2.0), "counted from now, not from the old end"
            deadline.check()
        with pytest.raises(deadline.DeadlineExceeded):
            deadline.check()
    finally:
        deadline.reset(token)


def test_grace_adds_to_a_budget_not_yet_spent(clock: _Clock) -> None:
    token = deadline.start(1.0)
    try:
        with deadline.grace(2.0):
            assert deadline.remaining() == pytest.approx(3.0)
        assert deadline.remaining() == pytest.approx(1.0)
    finally:
        deadline.reset(token)


def test_grace_outside_a_request_sets_no_deadline(clock: _Clock) -> None:
    with deadline.grace(2.0):
        assert deadline.remaining() is None


def test_each_request_context_has_its_own_budget(clock: _Clock) -> None:
    def in_request() -> float | None:
        deadline.start(1.0)
        return deadline.remaining()

    assert contextvars.copy_context().run(in_request) == pytest.approx(1.0)
    assert deadline.remaining() is None, "a request's budget does not leak into its caller"


def _pauses(backoff: Backoff) -> list[float]:
    pauses: list[float] = []
    for _ in Backoff(backoff.base_seconds, backoff.cap_seconds, pauses.append, backoff.uniform).attempts():
        pass
    return pauses


def test_backoff_pauses_grow_exponentially_up_to_the_cap() -> None:
    backoff = Backoff(base_seconds=0.01, cap_seconds=0.1, uniform=lambda _low, high: high)
    assert _pauses(backoff)[:5] == pytest.approx([0.02, 0.04, 0.08, 0.1, 0.1])
    assert len(_pauses(backoff)) == ATTEMPTS_WITHOUT_DEADLINE - 1


def test_backoff_pauses_are_jittered_from_zero() -> None:
    """Full jitter: the pause is drawn from [0, cap], so colliding writers spread out."""
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return 0.0

    _pauses(Backoff(base_seconds=0.01, cap_seconds=0.4, uniform=uniform))
    assert all(low == 0 for low, _ in drawn)


def test_backoff_stops_before_a_pause_that_would_outlast_the_deadline(clock: _Clock) -> None:
    assert retry.deadline is deadline
    token = deadline.start(0.1)
    try:
        pauses: list[float] = []

        def sleep(seconds: float) -> None:
            pauses.append(seconds)
            clock.now += seconds

        backoff = Backoff(base_seconds=0.01, cap_seconds=1.0, sleep=sleep, uniform=lambda _low, high: high)
        attempts = list(backoff.attempts())
    finally:
        deadline.reset(token)
    # 0.02 + 0.04 = 0.06 s spent; the next pause (0.08 s) would end after the 0.1 s budget.
    assert pauses == pytest.approx([0.02, 0.04])
    assert attempts == [0, 1, 2]
