"""Where a cold start's time goes: init (the imports and create_app) against the first request, for
baseline (b), Echoes /health and Echoes' first authenticated list, interleaved, with two cores.

    python -m benchmarks.cold_split [--ref COMMIT] [--runs 9]

Packages the ref as `compare --cold` does; baseline (b) and the runtime come from the last bench
run (run ./scripts/bench.sh --quick first).
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.builds import RUNTIME_PYTHON, WORK
from benchmarks.cold import child_env, events
from benchmarks.compare import checkout, cold_build
from benchmarks.stack import seed, start_aws

CHILD = """
import json, sys, time
event, module = json.loads(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
handler = __import__(module).handler
initialised = time.perf_counter()

class Context:
    function_name = "bench"; memory_limit_in_mb = 1769; aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self): return 10000

status = handler(event, Context())["statusCode"]
answered = time.perf_counter()
peak_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"init": (initialised - started) * 1000, "request": (answered - initialised) * 1000,
                  "status": status, "rss_kb": peak_kb}))
"""


def _run(folder: Path, module: str, event: dict, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [str(RUNTIME_PYTHON), "-c", CHILD, json.dumps(event), module],
        capture_output=True,
        text=True,
        cwd="/",
        env=child_env(env, folder),
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{module} failed:\n{result.stderr[-2000:]}")
    answer = json.loads(result.stdout)
    if answer["status"] != 200:
        raise SystemExit(f"{module} answered {answer['status']}:\n{result.stderr[-2000:]}")
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", default=".", help="a commit (default: the working tree)")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    folder = cold_build(args.ref, checkout(args.ref))
    env = start_aws()
    try:
        seed(env.stack.table_name, env.user_id, 25)
        requests = events(env.token)
        health, listing = requests["health"], requests["list"]
        variants = {
            "baseline (b) /health": (WORK / "baseline", "hello_boto3", health),
            "echoes /health": (folder, "lambda_handler", health),
            "echoes first authenticated list": (folder, "lambda_handler", listing),
        }
        runs: dict[str, list[dict]] = {name: [] for name in variants}
        for _ in range(args.runs):
            for name, (path, module, event) in variants.items():
                runs[name].append(_run(path, module, event, env.app_env()))
    finally:
        env.endpoint.stop()
    print(f"cold starts with two cores, {args.runs} interleaved runs, medians (ref {args.ref})\n")
    print("| variant | init | first request | peak RSS |\n|---|---|---|---|")
    for name, values in runs.items():
        init = statistics.median(v["init"] for v in values)
        request = statistics.median(v["request"] for v in values)
        rss = max(v["rss_kb"] for v in values) // 1024
        print(f"| {name} | {init:.0f} ms | {request:.1f} ms | {rss} MB |")


if __name__ == "__main__":
    sys.exit(main())
