"""The local `--lambda` stack (API Gateway as a template declares it, then lambda_handler) as the
API a deploy creates: what deploy.sh's smoke test calls in the script tests."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.moto import free_port, port_is_free
from tests.e2e.stack import stop, wait_until_up


@dataclass(frozen=True)
class LocalApi:
    base_url: str  # the stage's, as the stack's ApiUrl output names it
    state_file: Path

    def state(self) -> dict[str, Any]:
        """What the stack records in .local-stack.json: its endpoint, region and resources."""
        state: dict[str, Any] = json.loads(self.state_file.read_text())
        return state


@contextmanager
def local_lambda_stack(root: Path, workdir: Path, cors_allow_origins: str) -> Iterator[LocalApi]:
    """./scripts/local.sh --lambda's program, run from ROOT (a repository or a copy of it, whose
    template.yaml it serves) on free ports, allowing CORS_ALLOW_ORIGINS."""
    aws_port, api_port, demo_port = free_port(), free_port(), free_port()
    state_file, log = workdir / "local-stack.json", workdir / "local-stack.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_PORT": str(aws_port),
        "API_PORT": str(api_port),
        "DEMO_PORT": str(demo_port),  # the web client's demo page, which the stack serves too
        "LOCAL_RELOAD": "false",
        "ECHOES_LOCAL_STATE": str(state_file),
        "CORS_ALLOW_ORIGINS": cors_allow_origins,
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.local_stack", "--lambda"],
            cwd=root,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    stack = LocalApi(f"http://127.0.0.1:{api_port}/dev", state_file)
    try:
        wait_until_up(process, f"{stack.base_url}/health", log)
        yield stack
    finally:
        stop(process)
    assert all(port_is_free(port) for port in (aws_port, api_port, demo_port)), "something was left running"
