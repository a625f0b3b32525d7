"""The local stack as a user runs it: ./scripts/local.sh's program in a subprocess, on free ports."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devtools.moto import free_port, port_is_free

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class RunningStack:
    mode: str
    base_url: str  # with the stage prefix in --lambda mode
    ports: tuple[int, int]
    state_file: Path
    log: Path
    origin: str  # the first allowed origin: the browser test's page is served from it
    demo_url: str  # the web client's demo page, served by the stack (devtools/demo_server.py)

    def state(self) -> dict:
        import json

        return json.loads(self.state_file.read_text())

    def token(self, email: str, password: str | None = None) -> str:
        """Through the documented command: ./scripts/local.sh token EMAIL [PASSWORD]."""
        result = subprocess.run(
            [str(ROOT / "scripts" / "local.sh"), "token", email, *([password] if password else [])],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "ECHOES_LOCAL_STATE": str(self.state_file)},
        )
        assert result.returncode == 0, result.stderr
        token = result.stdout.strip()
        assert token.count(".") == 2 and "\n" not in token, "stdout must hold the token and nothing else"
        return token


def _wait_until_up(process: subprocess.Popen, health_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"local stack exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(health_url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"local stack not up after {START_TIMEOUT_SECONDS}s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C, as a developer would; kill only if it does not stop by itself."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("the local stack did not stop on Ctrl-C")


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
        _wait_until_up(process, f"{base_url}/health", log)
        yield stack
    finally:
        _stop(process)
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
