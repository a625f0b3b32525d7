"""Warm requests of two or more versions of the code, interleaved, under one memory size's CPU share:
how each lever or idiom was measured before and after.

    python -m benchmarks.compare --memory 1024 BEFORE_REF AFTER_REF [...]
    python -m benchmarks.compare --cold --memory 1024 BEFORE_REF AFTER_REF [...]

With --cold: cold starts instead, each ref packaged by its own scripts/package-function.sh (its
code and its requirements-lambda.txt), with baseline (b) of the last bench run interleaved.

A ref is a git commit (exported with `git archive` to build/bench/compare/) or `.` for the working
tree. Each version runs in its own process under the quota (benchmarks/warm.py), in alternating
rounds, with the dev virtualenv's packages.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.builds import ROOT, RUNTIME_PYTHON, WORK
from benchmarks.cold import COLD, B, cold_start, events
from benchmarks.cpu_share import CpuShares
from benchmarks.stack import seed, start_aws
from benchmarks.warm_runs import percentiles, warm_samples


def checkout(ref: str) -> Path:
    if ref == ".":
        return ROOT
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref], capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = WORK / "compare" / commit
    if not (folder / "lambda_handler.py").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def cold_build(ref: str, source: Path) -> Path:
    """`source`'s function as its own scripts/package-function.sh packages it for this machine
    (x86_64): its code with its requirements-lambda.txt, since a lever may change the packages.
    Kept per commit; the working tree (`.`) is packaged again each time."""
    folder = WORK / "compare" / ("cold-worktree" if ref == "." else f"cold-{source.name}")
    if ref == "." or not (folder / "lambda_handler.py").exists():
        shutil.rmtree(folder, ignore_errors=True)
        packaged = subprocess.run(
            [str(source / "scripts" / "package-function.sh"), str(folder)],
            env={**os.environ, "ARCH": "x86_64"},
            capture_output=True,
            text=True,
            check=False,
        )
        if packaged.returncode != 0:
            raise SystemExit(f"packaging {ref} failed:\n{packaged.stderr[-2000:]}")
    return folder


def compare_cold(args: argparse.Namespace, sources: dict[str, Path]) -> None:
    folders = {ref: cold_build(ref, source) for ref, source in sources.items()}
    runtime, baseline = RUNTIME_PYTHON, WORK / "baseline"
    env = start_aws()
    try:
        seed(env.stack.table_name, env.user_id, 25)
        requests = events(env.token)
        runs: dict[str, list[float]] = {}
        with CpuShares() as shares:
            print(shares.description, file=sys.stderr)
            for _ in range(args.rounds):
                _, module, event = COLD[B]
                ms, _ = cold_start(
                    runtime, baseline, module, requests[event], env.app_env(), shares.preexec(args.memory)
                )
                runs.setdefault(B, []).append(ms)
                for ref, folder in folders.items():
                    for name in ("health", "list"):
                        ms, _ = cold_start(
                            runtime,
                            folder,
                            "lambda_handler",
                            requests[name],
                            env.app_env(),
                            shares.preexec(args.memory),
                        )
                        runs.setdefault(f"{ref} {name}", []).append(ms)
    finally:
        env.endpoint.stop()
    b = statistics.median(runs[B])
    print(f"cold, {args.memory or 'unlimited'} MB share, {args.rounds} interleaved rounds; medians\n")
    for name, values in runs.items():
        print(f"{name:50s} {statistics.median(values):8.0f} ms  {statistics.median(values) / b:.2f} x (b)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("refs", nargs="+")
    parser.add_argument("--memory", type=int, help="MB whose CPU share to run under (default: unlimited)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--cold", action="store_true", help="cold starts instead of warm invocations")
    parser.add_argument("--invocations", type=int, default=500, help="per variant, ref and round")
    args = parser.parse_args()
    sources = {ref: checkout(ref) for ref in args.refs}
    if args.cold:
        compare_cold(args, sources)
        return
    samples: dict[str, dict[str, list[int]]] = {ref: {} for ref in args.refs}
    env = start_aws()
    try:
        seed(env.stack.table_name, env.user_id, 25)
        with CpuShares() as shares:
            print(shares.description, file=sys.stderr)
            for _ in range(args.rounds):
                for ref, source in sources.items():
                    block = min(args.invocations, 250)
                    measured = warm_samples(env, source, args.invocations, block, shares.preexec(args.memory))
                    for name, values in measured.items():
                        samples[ref].setdefault(name, []).extend(values)
    finally:
        env.endpoint.stop()
    first = args.refs[0]
    print(
        f"warm, {args.memory or 'unlimited'} MB share, {args.rounds} rounds x {args.invocations} "
        "invocations per variant and ref; p50 / p99 / mean in ms, p50 ratio to the first ref\n"
    )
    print("| variant | " + " | ".join(args.refs) + " |")
    print("|---|" + "---|" * len(args.refs))
    for name in samples[first]:
        base = percentiles(samples[first][name])["p50"]
        cells = []
        for ref in args.refs:
            figures = percentiles(samples[ref][name])
            cells.append(
                f"{figures['p50']:.3f} / {figures['p99']:.3f} / {figures['mean']:.3f} ({figures['p50'] / base:.3f} x)"
            )
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
