"""The built function ships everything it needs and nothing more, and runs as Lambda runs it:
a Python with only what the runtime provides (boto3, snapshot-restore-py), PYTHONPATH at the
function folder, events from `sam local generate-event`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.local_aws import provision
from devtools.moto import MotoEndpoint
from tests.infra.built_function import X86_64, assert_compiled_for, assert_ships_only_the_function
from tests.support import ORIGINS, sign_up

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".uv" / "bin" / "uv"
# What the managed python3.13 runtime holds besides the standard library, at the dev pins.
RUNTIME_PINS = [
    line.split("#")[0].strip()
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
    if line.startswith(("boto3==", "snapshot-restore-py=="))
]

# Runs inside the Lambda-like interpreter: invoke the handler with each event, print the answers.
INVOKE = """
import json, sys
from dataclasses import dataclass
import lambda_handler

@dataclass
class Context:
    function_name: str = "echoes-dev-api"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:echoes-dev-api"
    aws_request_id: str = "artifact-test"

answers = [lambda_handler.handler(event, Context()) for event in json.load(sys.stdin)]
print(json.dumps([{"status": a["statusCode"], "body": a.get("body")} for a in answers]))
"""


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def x86_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("function-x86_64")
    _run([str(ROOT / "scripts" / "package-function.sh"), str(folder)], env={**os.environ, "ARCH": "x86_64"})
    return folder


@pytest.fixture(scope="module")
def lambda_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding only boto3 and snapshot-restore-py (and what they need), as the
    Lambda runtime provides: not even pip. Made with the uv that ./scripts/test.sh installs
    (scripts/lib.sh, ensure_uv)."""
    where = tmp_path_factory.mktemp("runtime")
    _run([str(UV), "venv", "--quiet", "--no-python-downloads", "--python", sys.executable, str(where)])
    python = where / "bin" / "python"
    _run([str(UV), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python), *RUNTIME_PINS])
    return python


def _generated_event(kind: str, method: str, path: str, headers: dict[str, str]) -> dict:
    event = json.loads(_run(["sam", "local", "generate-event", "apigateway", kind], cwd=ROOT).stdout)
    if kind == "aws-proxy":
        event.update(
            httpMethod=method,
            path=path,
            headers=headers,
            multiValueHeaders={k: [v] for k, v in headers.items()},
            queryStringParameters=None,
            multiValueQueryStringParameters=None,
            body=None,
        )
        event["requestContext"].update(httpMethod=method, path=f"/dev{path}", stage="dev")
    else:
        event.update(
            rawPath=path,
            rawQueryString="",
            headers={k.lower(): v for k, v in headers.items()},
            queryStringParameters=None,
            cookies=[],
            body=None,
        )
        event["requestContext"]["http"].update(method=method, path=path)
        event["requestContext"].pop("authorizer", None)
    return event


def test_built_function_runs_with_only_what_the_runtime_provides(
    x86_build: Path, lambda_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_ships_only_the_function(x86_build)
    assert_compiled_for(x86_build, X86_64)
    endpoint = MotoEndpoint().start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        stack = provision("dev", ORIGINS)
        user = sign_up(stack.user_pool_id, stack.app_client_id, "artifact@example.com")
        auth = {"Authorization": f"Bearer {user.access_token}"}
        events = [
            _generated_event(kind, "GET", path, headers)
            for kind in ("aws-proxy", "http-api-proxy")
            for path, headers in (("/health", {}), ("/api/v1/echoes", auth))
        ]
        environment = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(x86_build),  # /var/task in Lambda
            "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's code folder is read-only
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            **stack.app_env(endpoint.url, "dev", ORIGINS),
        }
        result = _run([str(lambda_python), "-c", INVOKE], input=json.dumps(events), env=environment, cwd="/")
    finally:
        endpoint.stop()
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert [a["status"] for a in answers] == [200, 200, 200, 200], answers
    assert json.loads(answers[0]["body"])["status"] == "healthy"
    assert json.loads(answers[1]["body"])["total_count"] == 0
