"""Cold starts counted in CPU instructions (valgrind's callgrind), which the machine's load does not
move: baseline (b), then each ref's init alone, /health and first authenticated list, as ratios to (b).

    python -m benchmarks.cold_instructions [REF ...]      (default: `.`, the working tree)

Under a CPU quota a cold start's time is mostly its CPU time, and on a shared machine wall-clock
A/B needs many interleaved rounds to see a few percent; instruction counts of the same work differ
by well under 0.1 % from run to run (hash seed fixed), so one run per variant is enough to measure a
lever. What they leave out: system time (page faults, the kernel's side of I/O) and the wait on AWS,
which `compare --cold` measures in wall time. Each variant takes about 15 s under callgrind, two at
a time. Packages each ref as `compare --cold` does; baseline (b) and the runtime come from the last
bench run (./scripts/bench.sh --quick first).
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.builds import RUNTIME_PYTHON, WORK
from benchmarks.cold import child_env, events
from benchmarks.compare import checkout, cold_build
from benchmarks.stack import seed, start_aws

CHILD = """
import json, os, sys
event, module = json.loads(sys.argv[1]), sys.argv[2]
handler = __import__(module).handler
if event is not None:
    class Context:
        function_name = "bench"; memory_limit_in_mb = 1769; aws_request_id = "cold"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
        def get_remaining_time_in_millis(self): return 10000
    print(json.dumps({"status": handler(event, Context())["statusCode"]}), flush=True)
os._exit(0)  # the interpreter's teardown is no part of a cold start
"""
# Under valgrind the function runs ~50 times slower: its request deadline must not fire.
SLOW_ENV = {"REQUEST_DEADLINE_SECONDS": "20", "PYTHONHASHSEED": "0"}


def instructions(folder: Path, module: str, event: dict | None, env: dict[str, str]) -> int:
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            str(RUNTIME_PYTHON),
            "-c",
            CHILD,
            json.dumps(event),
            module,
        ],
        capture_output=True,
        text=True,
        cwd="/",
        env=child_env({**env, **SLOW_ENV}, folder),
        check=False,
    )
    collected = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or collected is None:
        raise SystemExit(f"{module} failed under callgrind:\n{result.stderr[-2000:]}")
    if event is not None and json.loads(result.stdout)["status"] != 200:
        raise SystemExit(f"{module} answered {result.stdout.strip()}")
    return int(collected[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("refs", nargs="*", default=["."], help="commits, or `.` for the working tree")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    folders = {ref: cold_build(ref, checkout(ref)) for ref in args.refs}
    env = start_aws()
    try:
        seed(env.stack.table_name, env.user_id, 25)
        requests = events(env.token)
        health, listing = requests["health"], requests["list"]
        variants = {"baseline (b) init": (WORK / "baseline", "hello_boto3", None)}
        variants["baseline (b) /health"] = (WORK / "baseline", "hello_boto3", health)
        for ref, folder in folders.items():
            variants[f"{ref} init"] = (folder, "lambda_handler", None)
            variants[f"{ref} /health"] = (folder, "lambda_handler", health)
            variants[f"{ref} first authenticated list"] = (folder, "lambda_handler", listing)
        with ThreadPoolExecutor(max_workers=2) as pool:
            counts = dict(
                zip(
                    variants,
                    pool.map(lambda v: instructions(*v, env.app_env()), variants.values()),
                    strict=True,
                )
            )
    finally:
        env.endpoint.stop()
    b = counts["baseline (b) /health"]
    print(
        "cold starts under callgrind: instructions from process start to the answer (init: to the handler)\n"
    )
    print("| variant | instructions | ratio to (b) /health |\n|---|---|---|")
    for name, count in counts.items():
        print(f"| {name} | {count / 1e6:,.1f} M | {count / b:.3f} x |")


if __name__ == "__main__":
    sys.exit(main())
