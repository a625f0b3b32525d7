"""Warm invocations measured from the parent's side: one process per run of benchmarks/warm.py,
under a memory size's CPU quota; and the percentiles of their samples."""

from collections.abc import Callable
from pathlib import Path

from benchmarks.builds import run_measuring_child
from benchmarks.stack import Environment, listed_items


def warm_samples(
    env: Environment,
    source: Path,
    invocations: int,
    block: int,
    preexec: Callable[[], None] | None = None,
) -> dict[str, list[int]]:
    """Nanoseconds per invocation, by variant, from one process running the code in `source`
    (benchmarks/warm.py) under `preexec`'s CPU quota."""
    spec = {
        "source": str(source),
        "env": env.app_env(),
        "token": env.token,
        "listed": listed_items(env),
        "invocations": invocations,
        "block": block,
    }
    samples: dict[str, list[int]] = run_measuring_child("warm.py", spec, preexec, f"warm run of {source}")
    return samples


def percentiles(samples: list[int]) -> dict[str, float]:
    """p50, p99 and mean of nanosecond samples, in milliseconds."""
    ordered = sorted(samples)
    return {
        "p50": ordered[len(ordered) // 2] / 1e6,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6,
        "mean": sum(ordered) / len(ordered) / 1e6,
    }
