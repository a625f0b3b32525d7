"""The local stack in a subprocess, as ./scripts/local.sh runs it: what the e2e fixtures and the
script tests' local API share (tests/e2e/conftest.py, tests/infra/local_api.py)."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

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


def wait_until_up(process: subprocess.Popen, health_url: str, log: Path) -> None:
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


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C, as a developer would; kill only if it does not stop by itself."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("the local stack did not stop on Ctrl-C")
