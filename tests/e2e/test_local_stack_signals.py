"""./scripts/local.sh stopped otherwise than by Ctrl-C (kill, a closed terminal) stops everything
it started, as Ctrl-C does: DynamoDB Local runs in a session of its own (so that Ctrl-C in a
terminal reaches the stack first), so no signal to the stack's process group reaches it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from devtools.moto import free_port, port_is_free

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_local_stack_stops_dynamodb_local_too(tmp_path: Path, signum: signal.Signals) -> None:
    aws_port, api_port, demo_port = free_port(), free_port(), free_port()
    state_file = tmp_path / "state.json"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_PORT": str(aws_port),
        "API_PORT": str(api_port),
        "DEMO_PORT": str(demo_port),
        "LOCAL_RELOAD": "false",
        "ECHOES_LOCAL_STATE": str(state_file),
    }
    log = tmp_path / "stack.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools.local_stack", "--lambda"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{api_port}/dev/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        endpoint = json.loads(state_file.read_text()).get("dynamodb_endpoint")
        if not endpoint:
            pytest.skip("DynamoDB Local is not installed: the stack runs on moto alone")
        dynamodb_port = urlsplit(endpoint).port
        assert dynamodb_port is not None
        process.send_signal(signum)
        process.wait(15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stopped = time.monotonic() + 10  # the JVM's own shutdown
    while not port_is_free(dynamodb_port) and time.monotonic() < stopped:
        time.sleep(0.2)
    assert port_is_free(dynamodb_port), "DynamoDB Local was left running"
    assert all(map(port_is_free, (aws_port, api_port, demo_port)))
    assert not state_file.exists(), "the stack's state file was left behind"
