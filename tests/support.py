"""Helpers shared by the test suites: users with real Cognito tokens, audio, tokens to refuse."""

import gzip
import io
import json
import math
import struct
import time
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import jwt
import moto
import requests
from fastapi.testclient import TestClient

from app.settings import Settings
from app.store.records import EchoRecord
from devtools.cognito import access_token
from devtools.invariants import check_user
from devtools.local_aws import LocalStack

MOTO_KEYS = Path(moto.__file__).parent / "cognitoidp" / "resources"
PASSWORD = "Echoes-Test-Passw0rd"
ORIGINS = "http://localhost:3000,https://app.example.com"


def _moto_key(name: str) -> dict[str, Any]:
    with gzip.open(MOTO_KEYS / name, "rt") as handle:
        return json.load(handle)


@dataclass(frozen=True)
class User:
    email: str
    user_id: str
    access_token: str
    id_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def sign_up(pool_id: str, client_id: str, email: str, region: str = "us-east-1") -> User:
    """Sign a user up, confirm them and log in, through Cognito's own API (moto)."""
    cognito = boto3.client("cognito-idp", region_name=region)
    tokens = access_token(cognito, pool_id, client_id, email, PASSWORD)
    claims = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})
    return User(email, claims["sub"], tokens["AccessToken"], tokens["IdToken"])


def moto_jwks(_url: str) -> dict[str, Any]:
    """The key set moto's Cognito serves at /<pool>/.well-known/jwks.json (for in-process tests)."""
    return _moto_key("jwks-public.json.gz")


def pool_signed_token(claims: dict[str, Any], **header: Any) -> str:
    """A token signed with the pool's real (moto) private key, with the claims a test needs."""
    private = _moto_key("jwks-private.json.gz")
    key = jwt.PyJWK(private).key
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": private["kid"], **header})


def access_claims(issuer: str, client_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": "11111111-2222-3333-4444-555555555555",
        "client_id": client_id,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "iat": now,
        "exp": now + 600,
        **overrides,
    }


def wav_bytes(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A real, small WAV file: a 440 Hz tone."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = (
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
            for n in range(int(seconds * rate))
        )
        out.writeframes(b"".join(frames))
    return buffer.getvalue()


def echo_body(**overrides: Any) -> dict[str, Any]:
    return {
        "emotion": "calm",
        "tags": ["Rain", " forest ", "rain"],
        "transcript": "soft rain on leaves",
        "detected_mood": "serene",
        "file_extension": "wav",
        "duration_seconds": 0.5,
        "location": {"lat": 48.85, "lng": 2.35, "address": "Paris"},
        **overrides,
    }


def settings_for(stack: LocalStack, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "dev",
        "cors_allow_origins": ORIGINS,
        "health_cache_seconds": 0,
        **{name.lower(): value for name, value in stack.settings_env().items()},
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


# make_echo(user, audio=None, **body) -> the created echo as JSON (the fixture in conftest.py)
EchoFactory = Callable[..., dict]


def echo_record(**fields: Any) -> EchoRecord:
    """An EchoRecord with plain defaults (a small calm WAV echo); FIELDS override them."""
    values: dict[str, Any] = {
        "echo_id": "e1",
        "user_id": "u1",
        "emotion": "calm",
        "created_at": "2026-01-01T00:00:00.000Z",
        "s3_key": "k",
        "file_extension": "wav",
        "file_size": 1,
        "content_type": "audio/wav",
        "tags": (),
        "transcript": None,
        "detected_mood": None,
        "duration_seconds": None,
        "location": None,
        **fields,
    }
    return EchoRecord(**values)


def invariant_violations(settings: Settings, user: User) -> list[str]:
    """What devtools/invariants.py finds wrong in USER's data (counters, slots, tags, audio)."""
    return check_user(
        boto3.client("dynamodb"),
        boto3.client("s3"),
        settings.dynamodb_table_name,
        settings.s3_bucket_name,
        user.user_id,
    )


def partition_items(table: str, user: User) -> list[dict[str, Any]]:
    """Every item of the user's partition, as DynamoDB holds it (consistent read, every page)."""
    pages = (
        boto3.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"USER#{user.user_id}"}},
            ConsistentRead=True,
        )
    )
    return [item for page in pages for item in page["Items"]]


def upload_audio(client: TestClient, user: User, audio: bytes) -> str:
    """init-upload with the API guide's body, then PUT AUDIO to the presigned URL as a browser
    would (Content-Type only): the new echo's id."""
    init = client.post(
        "/api/v1/echoes/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav"},
        headers=user.headers,
    )
    assert init.status_code == 200, init.text
    upload = init.json()
    put = requests.put(upload["upload_url"], data=audio, headers=upload["upload_headers"], timeout=10)
    assert put.status_code == 200, put.text
    return str(upload["echo_id"])


def new_user(stack: LocalStack, name: str) -> User:
    """A user of their own for one test: a fresh Cognito sign-up, so a fresh partition."""
    return sign_up(stack.user_pool_id, stack.app_client_id, f"{name}-{uuid.uuid4().hex[:12]}@example.com")


# Settings that validate (names as environment variables), for tests of the settings and of what
# is built from them.
VALID = {
    "ENVIRONMENT": "staging",
    "AWS_REGION": "eu-west-3",
    "DYNAMODB_TABLE_NAME": "echoes-staging",
    "S3_BUCKET_NAME": "echoes-staging-audio",
    "COGNITO_USER_POOL_ID": "eu-west-3_AbC123",
    "COGNITO_APP_CLIENT_ID": "client",
    "APP_SECRET_NAME": "echoes/staging/app",
    "FUNCTION_TIMEOUT_SECONDS": "10",
}
