"""The latency mode's counting of the calls one after the other on a request's critical path, on
calls placed either side of overlapping, and its round trips as given on the command line."""

import argparse

import pytest

from benchmarks.latency import DEFAULT_RTT_MS, rtt_list
from benchmarks.latency_run import Call, critical_path


def calls(*spans: tuple[float, float]) -> list[Call]:
    return [Call("dynamodb", f"op{n}", start, end) for n, (start, end) in enumerate(spans)]


def test_calls_one_after_the_other_are_all_on_the_critical_path() -> None:
    assert len(critical_path(calls((0, 5), (5, 10), (11, 16)))) == 3


def test_calls_in_parallel_count_once() -> None:
    # a counters GetItem and a Query started together, then a third call after both
    assert [c.operation for c in critical_path(calls((0, 5), (0.1, 6), (6, 11)))] == ["op0", "op2"]
    assert len(critical_path(calls((0, 5), (4.9, 10)))) == 1  # overlapping by a hair: parallel


def test_round_trips_are_the_defaults_unless_given() -> None:
    assert rtt_list("") == DEFAULT_RTT_MS
    assert rtt_list("s3=40,secrets-manager=8") == DEFAULT_RTT_MS | {"s3": 40.0, "secrets-manager": 8.0}
    with pytest.raises(argparse.ArgumentTypeError):
        rtt_list("dynamodb")
