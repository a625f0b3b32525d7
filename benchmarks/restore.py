"""A SnapStart restore, emulated as far as it can be: a fresh process of the runtime's Python runs
init and the before-snapshot hooks, then (where Lambda would snapshot, and later resume a new
environment) the after-restore hooks and the first authenticated list. Timed from the start of the
after-restore hooks to the answer: the restore itself (the microVM's memory brought back) cannot be
emulated here; AWS publishes its own figures for it (docs/performance.md)."""

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from benchmarks.builds import ROOT
from benchmarks.cold import child_env

RESTORED = "echoes first authenticated list after restore"
RUNNER = ROOT / "devtools" / "snapstart.py"  # the runtime's order of the hooks

CHILD = """
import importlib.util, json, sys, time
event, runner_path = json.loads(sys.argv[1]), sys.argv[2]
import lambda_handler  # init
spec = importlib.util.spec_from_file_location("snapstart_runner", runner_path)
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)
runner.run_before_snapshot()

class Context:
    function_name = "bench"; memory_limit_in_mb = 1024; aws_request_id = "restored"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self): return 10000

started = time.perf_counter()  # the snapshot is taken, and an environment resumed from it, here
runner.run_after_restore()
hooked = time.perf_counter()
status = lambda_handler.handler(event, Context())["statusCode"]
answered = time.perf_counter()
print("RESTORED " + json.dumps({"status": status, "hooks_ms": (hooked - started) * 1000,
                                "ms": (answered - started) * 1000}), flush=True)
"""


def restored_start(
    python: Path,
    folder: Path,
    event: dict,
    env: dict[str, str],
    preexec: Callable[[], None] | None = None,
) -> tuple[float, float]:
    """Milliseconds from the after-restore hooks to the first answer, and the hooks' share of them;
    the whole process (init included) under `preexec`'s CPU quota."""
    result = subprocess.run(
        [str(python), "-c", CHILD, json.dumps(event), str(RUNNER)],
        capture_output=True,
        text=True,
        cwd="/",
        env=child_env(env, folder),
        preexec_fn=preexec,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESTORED ")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"restored start failed:\n{result.stderr[-3000:]}")
    answer = json.loads(lines[-1].removeprefix("RESTORED "))
    if answer["status"] != 200:
        raise SystemExit(f"the list after restore answered {answer['status']}:\n{result.stderr[-2000:]}")
    return answer["ms"], answer["hooks_ms"]
