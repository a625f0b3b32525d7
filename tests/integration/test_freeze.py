"""Fail fast: with the local AWS frozen (SIGSTOP of moto's server and of DynamoDB Local, both
subprocesses of this test), a request answers 503 + Retry-After within 5 s instead of hanging,
and the API recovers once they resume (SIGCONT).

A hung endpoint is what a frozen process looks like to a client: the kernel still accepts the
TCP connection, and no byte ever comes back. The bound asserted here is the feature itself (the
request deadline plus one read timeout, app/aws.py), not a speed measurement."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from devtools.dynamodb_local import DynamoDBLocal
from devtools.local_aws import provision
from devtools.moto import free_port
from tests.support import ORIGINS, moto_jwks, settings_for, sign_up

FAIL_FAST_SECONDS = 5


class MotoProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto server did not start")

    def stop(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def frozen_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, dict, list[int]]]:
    moto, dynamodb = MotoProcess(), DynamoDBLocal().start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
        stack = provision("dev", ORIGINS, dynamodb_endpoint=dynamodb.url)
        user = sign_up(stack.user_pool_id, stack.app_client_id, "frozen@example.com")
        client = TestClient(
            create_app(settings_for(stack), fetch_jwks=moto_jwks), raise_server_exceptions=False
        )
        yield client, user.headers, [moto.process.pid, dynamodb.pid]
    finally:
        dynamodb.stop()
        moto.stop()


def _timed(call) -> tuple[object, float]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.slow  # starts its own moto server and DynamoDB Local
def test_a_frozen_aws_gives_503_within_5_s_and_the_api_recovers(
    frozen_aws: tuple[TestClient, dict, list[int]],
) -> None:
    client, headers, pids = frozen_aws
    requests = {
        "list (DynamoDB Query)": lambda: client.get("/api/v1/echoes", headers=headers),
        "init-upload (DynamoDB PutItem)": lambda: client.post(
            "/api/v1/echoes/init-upload",
            json={"file_extension": "wav", "content_type": "audio/wav", "file_size": 100},
            headers=headers,
        ),
        "cursor (Secrets Manager)": lambda: client.get("/api/v1/echoes?cursor=e30.AAAA", headers=headers),
    }
    assert client.get("/api/v1/echoes", headers=headers).status_code == 200
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        for name, call in requests.items():
            response, elapsed = _timed(call)
            assert response.status_code == 503, (name, response.text)  # type: ignore[attr-defined]
            assert response.headers["Retry-After"], name  # type: ignore[attr-defined]
            assert elapsed < FAIL_FAST_SECONDS, f"{name} took {elapsed:.1f}s"
            print(f"frozen AWS: {name} answered 503 in {elapsed:.2f}s")  # shown with pytest -s
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert client.get("/api/v1/echoes", headers=headers).status_code == 200
    assert requests["init-upload (DynamoDB PutItem)"]().status_code == 200  # type: ignore[attr-defined]
    assert requests["cursor (Secrets Manager)"]().status_code == 400, "the key loads: a bad cursor is 400"  # type: ignore[attr-defined]
