"""What a benchmark run measures, built the way it ships: the Echoes artifact (package-function.sh),
the baselines packaged the same way, and a runtime virtualenv holding only what Lambda's python3.13
runtime provides (boto3 and snapshot-restore-py, not even pip)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench"
UV = ROOT / ".uv" / "bin" / "uv"  # scripts/bench.sh installs it (scripts/lib.sh, ensure_uv)
RUNTIME_PYTHON = WORK / "runtime" / "bin" / "python"


def pins(requirements: str) -> dict[str, str]:
    """Package name -> its pinned requirement line, from a requirements file at the root."""
    return {
        line.split("==")[0].split("[")[0]: line.split("#")[0].strip()
        for line in (ROOT / requirements).read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }


def run_measuring_child(script: str, spec: dict[str, Any], preexec: Any, what: str) -> Any:
    """Run benchmarks/SCRIPT with SPEC (JSON) in the dev virtualenv (the app's requirements plus
    devtools'), under PREEXEC's CPU quota; the JSON of its last output line."""
    process = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=preexec,
        check=False,
    )
    if process.returncode != 0:
        raise SystemExit(f"{what} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.splitlines()[-1])


LAMBDA_PINS = pins("requirements-lambda.txt")
BASELINE_PACKAGES = [LAMBDA_PINS[name] for name in ("fastapi", "starlette", "mangum", "pydantic")]
# What the managed runtime holds besides the standard library (the dev pins of the same packages).
RUNTIME_PACKAGES = ("boto3", "snapshot-restore-py")


def run(command: list[str], **kwargs: Any) -> str:
    """COMMAND's standard output; a failure ends the run with its output."""
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def package_function(folder: Path, arch: str | None = None) -> Path:
    """scripts/package-function.sh's artifact in FOLDER (ARCH x86_64 to run it here)."""
    shutil.rmtree(folder, ignore_errors=True)
    env = {**os.environ, "ARCH": arch} if arch else None
    run([str(ROOT / "scripts" / "package-function.sh"), str(folder)], env=env)
    return folder


def build_baselines() -> Path:
    """Baselines (a) and (b) with their packages, compiled as the artifact is (.pyc included)."""
    baseline = WORK / "baseline"
    shutil.rmtree(baseline, ignore_errors=True)
    command = [str(UV), "pip", "install", "--quiet", "--python", sys.executable, "--target", str(baseline)]
    run([*command, *BASELINE_PACKAGES])
    for module in ("hello.py", "hello_boto3.py"):
        shutil.copy(ROOT / "benchmarks" / "baselines" / module, baseline / module)
    run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(baseline),
        ]
    )
    return baseline


def build_runtime() -> Path:
    """The runtime's Python: a virtualenv with RUNTIME_PACKAGES at their dev pins, kept between runs
    (remade when a pin changes)."""
    dev = pins("requirements-dev.txt")
    wanted = sorted(dev[name] for name in RUNTIME_PACKAGES)
    stamp = WORK / "runtime" / "pins.txt"
    if RUNTIME_PYTHON.exists() and stamp.exists() and stamp.read_text().split() == wanted:
        return RUNTIME_PYTHON
    shutil.rmtree(WORK / "runtime", ignore_errors=True)
    run(
        [
            str(UV),
            "venv",
            "--quiet",
            "--no-python-downloads",
            "--python",
            sys.executable,
            str(WORK / "runtime"),
        ]
    )
    run(
        [str(UV), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(RUNTIME_PYTHON), *wanted]
    )
    stamp.write_text("\n".join(wanted))
    return RUNTIME_PYTHON


def build_all() -> dict[str, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    return {
        "echoes": package_function(WORK / "echoes-x86_64", "x86_64"),
        "baseline": build_baselines(),
        "runtime": build_runtime(),
    }


def commit() -> str:
    return run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]).strip()
