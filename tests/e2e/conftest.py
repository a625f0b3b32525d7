"""The local stack as a user runs it: ./scripts/local.sh's program in a subprocess, on free ports."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.moto import free_port, port_is_free
from tests.e2e.stack import RunningStack, stop, wait_until_up

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", params=["uvicorn", "lambda"])
def local_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    mode = request.param
    workdir = tmp_path_factory.mktemp(f"stack-{mode}")
    aws_port, api_port, page_port, demo_port = free_port(), free_port(), free_port(), free_port()
    origin = f"http://127.0.0.1:{page_port}"
    log = workdir / "stack.log"
    state_file = workdir / "state.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_PORT": str(aws_port),
        "API_PORT": str(api_port),
        "DEMO_PORT": str(demo_port),
        "LOCAL_RELOAD": "false",
        "ECHOES_LOCAL_STATE": str(state_file),
        "CORS_ALLOW_ORIGINS": f"{origin},http://localhost:3000",
    }
    command = [sys.executable, "-m", "devtools.local_stack", *(["--lambda"] if mode == "lambda" else [])]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{api_port}" + ("/dev" if mode == "lambda" else "")
    demo_url = f"http://127.0.0.1:{demo_port}/demo/"
    stack = RunningStack(mode, base_url, (aws_port, api_port), state_file, log, origin, demo_url)
    try:
        wait_until_up(process, f"{base_url}/health", log)
        yield stack
    finally:
        stop(process)
    assert process.returncode is not None
    assert all(map(port_is_free, (aws_port, api_port, demo_port))), "something was left running"
    assert not state_file.exists(), "the stack's state file was left behind"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, which ./scripts/test.sh installs (lib.sh ensure_chromium), never a test."""
    found = shutil.which("chromium")
    if not found:
        pytest.skip("Chromium is not installed: ./scripts/test.sh installs it (as root, with apt-get)")
    return found
