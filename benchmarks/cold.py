"""Cold starts: a fresh process of the runtime's Python with PYTHONPATH at a built function, from
process start to the first answer, under a memory size's CPU share; and where init time goes."""

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from devtools.events import rest_event

# name -> (build, module, event): the variants a run interleaves, in this order.
COLD = {
    "baseline (a) hello": ("baseline", "hello", "health"),
    "baseline (b) hello + boto3 clients": ("baseline", "hello_boto3", "health"),
    "echoes /health": ("echoes", "lambda_handler", "health"),
    "echoes first authenticated list": ("echoes", "lambda_handler", "list"),
}
B = "baseline (b) hello + boto3 clients"

CHILD = """
import json, sys
event, module = json.loads(sys.argv[1]), sys.argv[2]
handler = __import__(module).handler

class Context:
    function_name = "bench"; memory_limit_in_mb = 256; aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self): return 10000

status = handler(event, Context())["statusCode"]
# VmHWM, not ru_maxrss: Linux carries the forked parent's peak across exec into ru_maxrss.
peak_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"status": status, "rss_kb": peak_kb}), flush=True)
"""


def events(token: str) -> dict[str, dict]:
    """The requests a cold start answers: /health, and the first page of the caller's echoes."""
    return {
        "health": rest_event("GET", "/health"),
        "list": rest_event("GET", "/api/v1/echoes", None, {"Authorization": f"Bearer {token}"}),
    }


def child_env(env: dict[str, str], folder: Path) -> dict[str, str]:
    """The environment of a function's process: the app's, the built function on the path."""
    return {**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"}


def cold_start(
    python: Path,
    folder: Path,
    module: str,
    event: dict,
    env: dict[str, str],
    preexec: Callable[[], None] | None = None,
) -> tuple[float, int]:
    """Milliseconds from process start to the first answer, and the process's peak RSS in KB;
    `preexec` puts the process under a CPU quota before it starts the interpreter."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(python), "-c", CHILD, json.dumps(event), module],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
        env=child_env(env, folder),
        preexec_fn=preexec,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = (time.perf_counter() - started) * 1000
    _, errors = process.communicate()
    if not line:
        raise SystemExit(f"{module} cold start failed:\n{errors[-3000:]}")
    answer = json.loads(line)
    if answer["status"] != 200:
        raise SystemExit(f"{module} answered {answer['status']}:\n{errors[-2000:]}")
    return elapsed, answer["rss_kb"]


def import_time_top(
    python: Path, folder: Path, env: dict[str, str], top: int = 10
) -> list[tuple[str, float]]:
    """`python -X importtime`'s self times summed by top-level package: where init time goes."""
    result = subprocess.run(
        [str(python), "-X", "importtime", "-c", "import lambda_handler"],
        capture_output=True,
        text=True,
        cwd="/",
        env=child_env(env, folder),
        check=False,
    )
    by_package: dict[str, float] = {}
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| \s*(\S+)", line)
        if match:
            package = match[2].split(".")[0]
            by_package[package] = by_package.get(package, 0.0) + int(match[1]) / 1000
    return sorted(by_package.items(), key=lambda row: -row[1])[:top]
