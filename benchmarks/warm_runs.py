"""Warm invocations measured from the parent's side: one process per run of benchmarks/warm.py,
under a memory size's CPU quota; and the percentiles of their samples."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.builds import ROOT
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
    process = subprocess.run(  # the dev venv: the app's requirements plus devtools'
        [sys.executable, str(ROOT / "benchmarks" / "warm.py"), json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=preexec,
        check=False,
    )
    if process.returncode != 0:
        raise SystemExit(f"warm run of {source} failed:\n{process.stderr[-3000:]}")
    samples: dict[str, list[int]] = json.loads(process.stdout.splitlines()[-1])
    return samples


def percentiles(samples: list[int]) -> dict[str, float]:
    """p50, p99 and mean of nanosecond samples, in milliseconds."""
    ordered = sorted(samples)
    return {
        "p50": ordered[len(ordered) // 2] / 1e6,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6,
        "mean": sum(ordered) / len(ordered) / 1e6,
    }
