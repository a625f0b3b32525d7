"""X-Ray subsegments, as Lambda's X-Ray daemon receives them: a UDP socket here stands for the
daemon (AWS_XRAY_DAEMON_ADDRESS), and each scenario runs in a fresh interpreter, since the X-Ray
SDK patches botocore for the whole process, through SnapStart's hooks as in staging and prod. What this cannot show: Lambda's own segment, its
sampling decision, and the X-Ray console joining it all (the trace header is set here as Lambda's
runtime sets it for each invocation)."""

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.local_aws import LocalStack
from devtools.moto import MotoEndpoint
from devtools.seed import seed_echoes
from tests.support import ORIGINS, User, sign_up

ROOT = Path(__file__).resolve().parents[2]
TRACE_ROOT, LAMBDA_SEGMENT = "1-67891233-abcdef012345678912345678", "53995c3f42cd8ad8"

INVOKE = """
import json, os, sys
import lambda_handler
from devtools.events import LambdaContext, rest_event
from devtools.snapstart import run_after_restore, run_before_snapshot
run_before_snapshot()  # as staging and prod run it: the priming request has no trace context
run_after_restore()
os.environ["_X_AMZN_TRACE_ID"] = sys.argv[1]  # as Lambda's runtime sets it for each invocation
# By emotion: its Query and the counters' GetItem run side by side, the GetItem in a worker thread.
event = rest_event(
    "GET", "/api/v1/echoes", {"emotion": "calm"}, {"Authorization": "Bearer " + sys.stdin.read()}
)
status = lambda_handler.handler(event, LambdaContext.fresh())["statusCode"]
print("RESULT " + json.dumps({"status": status, "sdk_imported": "aws_xray_sdk" in sys.modules}), flush=True)
"""


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.5)
    yield listener
    listener.close()


def _user(stack: LocalStack) -> User:
    user = sign_up(stack.user_pool_id, stack.app_client_id, "traced@example.com")
    seed_echoes(boto3.client("dynamodb"), stack.table_name, user.user_id, 3)
    return user


def _invoke(stack: LocalStack, endpoint: str, daemon: socket.socket, tracing: str, sampled: str) -> dict:
    user = _user(stack)
    port = daemon.getsockname()[1]
    env = {
        **os.environ,
        **stack.app_env(endpoint, "prod", ORIGINS),
        "PYTHONPATH": str(ROOT),
        "TRACING_ENABLED": tracing,
        "AWS_LAMBDA_FUNCTION_NAME": "echoes-prod-api",  # in Lambda, as Powertools and the SDK tell it
        "LAMBDA_TASK_ROOT": str(ROOT),
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",  # as the template sets it
    }
    header = f"Root={TRACE_ROOT};Parent={LAMBDA_SEGMENT};Sampled={sampled}"
    result = subprocess.run(
        [sys.executable, "-c", INVOKE, header],
        input=user.access_token,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return outcome


def _received(daemon: socket.socket) -> list[dict[str, Any]]:
    """The documents sent to the daemon: each datagram a JSON header line, then the document."""
    documents = []
    while True:
        try:
            datagram = daemon.recv(65536)
        except TimeoutError:
            return documents
        header, _, body = datagram.partition(b"\n")
        assert json.loads(header) == {"format": "json", "version": 1}
        documents.append(json.loads(body))


def test_a_sampled_request_sends_a_subsegment_for_its_route_and_each_aws_call(
    aws: LocalStack, moto_endpoint: MotoEndpoint, daemon: socket.socket
) -> None:
    outcome = _invoke(aws, moto_endpoint.url, daemon, tracing="true", sampled="1")
    assert outcome == {"status": 200, "sdk_imported": True}
    documents = _received(daemon)
    assert documents and all(d["trace_id"] == TRACE_ROOT and d["type"] == "subsegment" for d in documents)
    (route,) = [d for d in documents if d["name"].startswith("## ")]
    assert route["name"] == "## GET /api/v1/echoes" and route["parent_id"] == LAMBDA_SEGMENT
    calls = [d for d in documents if d.get("namespace") == "aws"]
    assert {(c["name"], c["aws"]["operation"]) for c in calls} >= {
        ("dynamodb", "Query"),
        ("dynamodb", "GetItem"),
    }
    assert all(c["parent_id"] == route["id"] and c["end_time"] >= c["start_time"] for c in calls)


def test_an_unsampled_request_sends_nothing(
    aws: LocalStack, moto_endpoint: MotoEndpoint, daemon: socket.socket
) -> None:
    assert _invoke(aws, moto_endpoint.url, daemon, tracing="true", sampled="0")["status"] == 200
    assert _received(daemon) == []


def test_without_tracing_the_sdk_is_never_imported(
    aws: LocalStack, moto_endpoint: MotoEndpoint, daemon: socket.socket
) -> None:
    assert _invoke(aws, moto_endpoint.url, daemon, tracing="false", sampled="1") == {
        "status": 200,
        "sdk_imported": False,
    }
    assert _received(daemon) == []
