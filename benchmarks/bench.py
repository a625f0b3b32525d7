"""Echoes benchmark: cold start and warm requests at each memory size's CPU share, cost, the
memory pick, artifact size, memory, DynamoDB work per request (on DynamoDB Local), parallel writes by
one user.

Cold starts are medians of interleaved runs (baseline (a), baseline (b), Echoes /health, Echoes
list, at each size in turn, then again), and the targets are ratios to baseline (b) measured in
the same run and at the same size, so a noisy machine cancels out as far as it can.

    python -m benchmarks.bench [--quick] [--memory 128,256,512,1024,1769] [--json FILE]
"""

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import features
from benchmarks.builds import ROOT, WORK, build_all, commit, package_function
from benchmarks.cold import COLD, cold_start, events, import_time_top
from benchmarks.cpu_share import CpuShares
from benchmarks.latency import DEFAULT_RTT_MS, latency_run
from benchmarks.parallel import parallel_deletes
from benchmarks.report import chosen_size, column_name, report
from benchmarks.restore import RESTORED, restored_start
from benchmarks.stack import Environment, dynamodb_local_table, seed, start_aws, writes_counters_in_index
from benchmarks.warm_runs import percentiles, warm_samples
from benchmarks.work import read_work
from devtools.local_stack import read_env_file
from scripts.artifact_size import measure

# The latency mode runs at the size the function is deployed with.
LATENCY_MB = int(read_env_file(ROOT / "config" / "prod.env")["FUNCTION_MEMORY_MB"])


@dataclass(frozen=True)
class Plan:
    cold_rounds: int
    warm_rounds: int
    warm_per_round: int  # invocations per variant per round
    block: int
    work_sizes: list[int]
    parallel_writers: int  # parallel DELETEs by one user, on DynamoDB Local
    erase_echoes: int  # echoes of the user whose account erasure is timed
    latency_requests: int  # warm requests per route in the latency mode


# --quick proves that every section still runs (the test command runs it): one cold run of each
# variant, a few warm invocations, small users. Its figures mean nothing.
QUICK = Plan(
    cold_rounds=1,
    warm_rounds=1,
    warm_per_round=20,
    block=10,
    work_sizes=[10, 100],  # more than a page of 20: the list's next page by cursor is measured
    parallel_writers=4,
    erase_echoes=50,
    latency_requests=3,
)
FULL = Plan(
    cold_rounds=10,
    warm_rounds=2,
    warm_per_round=1_000,
    block=250,
    work_sizes=[10, 1_000, 10_000],
    parallel_writers=16,
    erase_echoes=10_000,
    latency_requests=50,
)


@dataclass
class Run:
    """What every section of a run shares: the plan, the columns, the builds, the local AWS."""

    plan: Plan
    columns: list[int | None]  # None: two whole cores, then each memory size
    shares: CpuShares
    builds: dict[str, Path]
    env: Environment


def cold_runs(run: Run) -> dict[str, Any]:
    """Cold starts, interleaved: a, b, echoes /health, echoes list and the list after a SnapStart
    restore at each column, then again."""
    requests = events(run.env.token)
    cold = {column_name(c): {name: [] for name in [*COLD, RESTORED]} for c in run.columns}
    hooks: dict[str, list[float]] = {column_name(c): [] for c in run.columns}
    rss: dict[str, list[int]] = {name: [] for name in COLD}
    for _ in range(run.plan.cold_rounds):
        for memory in run.columns:
            column = column_name(memory)
            for name, (build, module, event) in COLD.items():
                ms, kb = cold_start(
                    run.builds["runtime"],
                    run.builds[build],
                    module,
                    requests[event],
                    run.env.app_env(),
                    run.shares.preexec(memory),
                )
                cold[column][name].append(ms)
                if memory is None:
                    rss[name].append(kb)
            ms, hooks_ms = restored_start(
                run.builds["runtime"],
                run.builds["echoes"],
                requests["list"],
                run.env.app_env(),
                run.shares.preexec(memory),
            )
            cold[column][RESTORED].append(ms)
            hooks[column].append(hooks_ms)
    return {"cold_ms": cold, "rss_kb": rss, "restore_hooks_ms": hooks}


def warm_runs(run: Run) -> dict[str, Any]:
    """Warm blocks, one process per column and round, the columns interleaved."""
    warm: dict[str, dict[str, list[int]]] = {column_name(c): {} for c in run.columns}
    for _ in range(run.plan.warm_rounds):
        for memory in run.columns:
            samples = warm_samples(
                run.env,
                run.builds["echoes"],
                run.plan.warm_per_round,
                run.plan.block,
                run.shares.preexec(memory),
            )
            for name, values in samples.items():
                warm[column_name(memory)].setdefault(name, []).extend(values)
    return {"warm": {c: {n: percentiles(v) for n, v in by_name.items()} for c, by_name in warm.items()}}


def dynamodb_local_runs(run: Run) -> dict[str, Any]:
    """DynamoDB work per request, parallel writes and account erasure, on DynamoDB Local."""
    env = run.env
    with dynamodb_local_table(env) as dynamodb_endpoint:
        work = read_work(env, run.plan.work_sizes)
        for size, rows in features.feature_work(env.stack.table_name, env.user, run.plan.work_sizes).items():
            work[size] |= rows
        writes = parallel_deletes(env, dynamodb_endpoint, run.plan.parallel_writers)
        erasure = features.erasure_time(
            env.stack.table_name, env.stack.bucket_name, env.user, run.plan.erase_echoes
        )
        latency = latency_run(
            env,
            run.builds["echoes"],
            DEFAULT_RTT_MS,
            run.plan.latency_requests,
            run.shares.preexec(LATENCY_MB),
        )
    return {
        "latency": {"memory_mb": LATENCY_MB, "rtt_ms": DEFAULT_RTT_MS, "routes": latency},
        "dynamodb": {str(size): row for size, row in work.items()},
        "parallel_writes": writes,
        "account_erasure": erasure,
    }


def measure_all(plan: Plan, memories: list[int], shares: CpuShares) -> dict[str, Any]:
    """Every figure of the run: cold starts and warm blocks for each column (two whole cores, then
    each memory size's CPU share), interleaved so that machine load falls on all of them alike."""
    builds = build_all()
    env = start_aws()
    try:
        # More than a page: the list also signs a cursor. The counters as this tree writes them.
        seed(env.stack.table_name, env.user_id, 25, writes_counters_in_index(ROOT))
        run = Run(plan, [None, *memories], shares, builds, env)
        figures = cold_runs(run) | warm_runs(run)
        figures["imports_ms"] = import_time_top(builds["runtime"], builds["echoes"], env.app_env())
        figures |= dynamodb_local_runs(run)
    finally:
        env.endpoint.stop()
    figures["artifact"] = measure(package_function(WORK / "echoes-aarch64"))
    return figures


def memory_list(text: str) -> list[int]:
    sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    if not sizes or any(size < 128 or size > 10_240 for size in sizes):
        raise argparse.ArgumentTypeError("memory sizes are MB between 128 and 10240, comma-separated")
    return sizes


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="few runs: proves the benchmark works, not the figures"
    )
    parser.add_argument(
        "--memory",
        type=memory_list,
        default=[128, 256, 512, 1024, 1769],
        help="memory sizes (MB) whose CPU share to measure under, e.g. 256,1769",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    plan = QUICK if args.quick else FULL
    version = commit()
    with CpuShares() as shares:
        print(shares.description, flush=True)
        started = time.monotonic()
        figures = measure_all(plan, args.memory, shares)
    header = (
        f"Echoes benchmark, {datetime.now(UTC):%Y-%m-%d}, commit {version}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {shares.description}; "
        f"{plan.cold_rounds} interleaved cold runs and {plan.warm_rounds * plan.warm_per_round} warm "
        f"invocations per variant and column; took {(time.monotonic() - started) / 60:.1f} min"
        + (" (QUICK: figures not meaningful)" if args.quick else "")
    )
    print("\n".join(report(figures, args.memory, header)))
    if args.json:
        chosen = chosen_size(figures, args.memory)
        figures["pick_mb"] = chosen.memory_mb if chosen else None
        figures["commit"] = version
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
