"""DynamoDB Local's wiring: what happens where it cannot run, and the process it starts."""

from pathlib import Path

import pytest

from devtools import dynamodb_local, local_stack
from devtools.dynamodb_local import DynamoDBLocal


def test_without_java_the_local_stack_warns_once_and_uses_moto(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no java on the PATH
    assert dynamodb_local.available() is not None
    assert local_stack.start_dynamodb_local() is None
    captured = capsys.readouterr()
    warning = captured.err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning: DynamoDB runs on moto")
    assert captured.out == ""


def test_it_runs_in_memory_shared_on_a_free_port_without_telemetry(dynamodb_local: DynamoDBLocal) -> None:
    command = Path(f"/proc/{dynamodb_local.pid}/cmdline").read_bytes().split(b"\0")
    assert b"-inMemory" in command and b"-sharedDb" in command and b"-disableTelemetry" in command
    assert command[command.index(b"-port") + 1] == str(dynamodb_local.port).encode()
    assert dynamodb_local.client().list_tables()["TableNames"] is not None  # type: ignore[attr-defined]
