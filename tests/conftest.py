"""Fixtures for in-process tests: moto's mock_aws, the stack made from template.yaml, the app."""

import os
from collections.abc import Iterator

import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from moto import mock_aws

from app.main import create_app
from app.settings import Settings
from devtools.local_aws import LocalStack, provision
from tests.support import ORIGINS, EchoFactory, User, echo_body, moto_jwks, settings_for, sign_up, wav_bytes

for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_METRICS_NAMESPACE": "Echoes",
}.items():
    os.environ.setdefault(_name, _value)
for _name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_name]  # in-process tests must never reach a real or local endpoint


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def stack(aws: None) -> LocalStack:
    return provision("dev", ORIGINS)


@pytest.fixture
def settings(stack: LocalStack) -> Settings:
    return settings_for(stack, max_audio_bytes=64 * 1024)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, fetch_jwks=moto_jwks)


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def alice(stack: LocalStack) -> User:
    return sign_up(stack.user_pool_id, stack.app_client_id, "alice@example.com")


@pytest.fixture
def bob(stack: LocalStack) -> User:
    return sign_up(stack.user_pool_id, stack.app_client_id, "bob@example.com")


@pytest.fixture
def make_echo(client: TestClient) -> EchoFactory:
    """init-upload, PUT real WAV bytes to the presigned URL, create: the whole happy path."""

    def make(user: User, audio: bytes | None = None, **body: object) -> dict:
        init = client.post(
            "/api/v1/echoes/init-upload",
            json={"file_extension": "wav", "content_type": "audio/wav"},
            headers=user.headers,
        )
        assert init.status_code == 200, init.text
        upload = init.json()
        put = requests.put(
            upload["upload_url"],
            data=audio if audio is not None else wav_bytes(),
            headers=upload["upload_headers"],
            timeout=10,
        )
        assert put.status_code == 200, put.text
        created = client.post(
            f"/api/v1/echoes?echo_id={upload['echo_id']}",
            json=echo_body(**body),
            headers=user.headers,
        )
        assert created.status_code == 201, created.text
        return created.json()

    return make
