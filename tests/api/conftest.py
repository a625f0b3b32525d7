"""The in-process app: moto's mock_aws for S3, Cognito and Secrets Manager, Amazon's DynamoDB Local
for the table, all made from template.yaml ONCE for this package. Tests stay independent because
each gets new users (one partition each) with unique emails; a test that needs a broken or
differently configured dependency builds its own app from settings_for(stack, ...)."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from moto import mock_aws

from app.main import create_app
from app.settings import Settings
from devtools.dynamodb_local import DynamoDBLocal
from devtools.local_aws import LocalStack, provision
from tests.moto_as_aws import copy_conditions_as_s3
from tests.support import (
    ORIGINS,
    EchoFactory,
    User,
    echo_body,
    moto_jwks,
    new_user,
    settings_for,
    upload_audio,
    wav_bytes,
)


@pytest.fixture(scope="package")
def aws(dynamodb_local: DynamoDBLocal) -> Iterator[None]:
    """mock_aws for everything but DynamoDB, which botocore sends to DynamoDB Local through
    AWS_ENDPOINT_URL_DYNAMODB (moto lets requests to endpoints it does not serve through); its
    CopyObject honours the copy's conditions as S3 does (tests/moto_as_aws.py)."""
    with pytest.MonkeyPatch.context() as patch, mock_aws(), copy_conditions_as_s3():
        patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.url)
        yield


@pytest.fixture(scope="package")
def stack(aws: None, dynamodb_local: DynamoDBLocal) -> LocalStack:
    return provision("dev", ORIGINS, dynamodb_endpoint=dynamodb_local.url)


@pytest.fixture(scope="package")
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
    return new_user(stack, "alice")


@pytest.fixture
def bob(stack: LocalStack) -> User:
    return new_user(stack, "bob")


@pytest.fixture
def make_echo(client: TestClient) -> EchoFactory:
    """init-upload, PUT real WAV bytes to the presigned URL, create: the whole happy path."""

    def make(user: User, audio: bytes | None = None, **body: object) -> dict:
        echo_id = upload_audio(client, user, audio if audio is not None else wav_bytes())
        created = client.post(
            f"/api/v1/echoes?echo_id={echo_id}",
            json=echo_body(**body),
            headers=user.headers,
        )
        assert created.status_code == 201, created.text
        return created.json()

    return make
