"""Per-user upload limits (app/store/limits.py): 429 rate_limit_exceeded with Retry-After, counted
per user and clock hour in one conditional update, nothing else touched."""

from typing import Any

import boto3
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.errors import ApiError
from app.main import create_app
from app.settings import Settings
from app.store.limits import WINDOW_SECONDS, UploadLimit
from app.store.records import UPLOADS_SK
from app.store.uploads import entries
from devtools.local_aws import LocalStack
from tests.support import User, invariant_violations, moto_jwks, partition_items, settings_for

INIT = "/api/v1/echoes/init-upload"
WAV = {"file_extension": "wav", "content_type": "audio/wav", "file_size": 1000}
LIMIT = 2


@pytest.fixture
def settings(stack: LocalStack) -> Settings:
    return settings_for(stack, uploads_per_user_per_hour=LIMIT)


def test_the_upload_over_the_limit_is_refused_with_retry_after_and_leaves_nothing_behind(
    client: TestClient, stack: LocalStack, settings: Settings, alice: User, bob: User
) -> None:
    for _ in range(LIMIT):
        assert client.post(INIT, json=WAV, headers=alice.headers).status_code == 200
    refused = client.post(INIT, json=WAV, headers=alice.headers)
    assert refused.status_code == 429
    body = refused.json()
    assert set(body) == {"error", "message", "details", "timestamp", "request_id"}
    assert body["error"] == "rate_limit_exceeded"
    assert body["details"]["limit"] == LIMIT and body["details"]["window_seconds"] == WINDOW_SECONDS
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW_SECONDS and body["details"]["retry_after_seconds"] == retry_after

    items = partition_items(stack.table_name, alice)
    [ledger] = [item for item in items if item["sk"]["S"] == UPLOADS_SK]
    assert len(entries(ledger)) == LIMIT, "the refused request holds no pending upload"
    assert invariant_violations(settings, alice) == []
    assert not [item for item in items if item["sk"]["S"] == "COUNTS"], "echo counters untouched"
    listing = client.get("/api/v1/echoes", headers=alice.headers).json()
    assert (listing["total_count"], listing["echoes"]) == (0, []), "the limit item is no echo"
    assert client.post(INIT, json=WAV, headers=bob.headers).status_code == 200, "limits are per user"


def test_a_request_refused_for_bad_input_costs_no_upload(client: TestClient, alice: User) -> None:
    for _ in range(LIMIT + 1):
        bad = client.post(INIT, json={**WAV, "file_extension": "exe"}, headers=alice.headers)
        assert bad.status_code == 415
    for _ in range(LIMIT):
        assert client.post(INIT, json=WAV, headers=alice.headers).status_code == 200


def test_reads_and_lists_never_touch_the_limit(app: FastAPI, client: TestClient, alice: User) -> None:
    assert client.post(INIT, json=WAV, headers=alice.headers).status_code == 200
    operations: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        operations.append((model.name, str(params)))

    dynamodb = app.state.aws_clients.dynamodb
    dynamodb.meta.events.register("provide-client-params.dynamodb.*", record)
    try:
        assert client.get("/api/v1/echoes", headers=alice.headers).status_code == 200
        client.get("/api/v1/echoes/random", headers=alice.headers)
    finally:
        dynamodb.meta.events.unregister("provide-client-params.dynamodb.*", record)
    assert operations, "the hook saw the list path's requests"
    assert not [op for op in operations if "LIMIT#" in op[1]]


def test_the_window_is_the_clock_hour_and_retry_after_counts_to_its_end(stack: LocalStack) -> None:
    now = [10 * WINDOW_SECONDS + WINDOW_SECONDS - 0.5]  # half a second before an hour ends
    limit = UploadLimit(boto3.client("dynamodb"), stack.table_name, per_hour=1, clock=lambda: now[0])
    limit.take("u1")
    with pytest.raises(ApiError) as refused:
        limit.take("u1")
    assert refused.value.status_code == 429 and refused.value.headers == {"Retry-After": "1"}
    now[0] += 1  # the next hour
    limit.take("u1")
    item = boto3.client("dynamodb").get_item(
        TableName=stack.table_name,
        Key={"pk": {"S": "USER#u1"}, "sk": {"S": f"LIMIT#uploads#{11 * WINDOW_SECONDS}"}},
    )["Item"]
    assert item["n"] == {"N": "1"}
    assert int(item["expires_at"]["N"]) > 12 * WINDOW_SECONDS, "TTL removes it after its hour"


def test_the_limit_comes_from_the_settings(stack: LocalStack, alice: User) -> None:
    client = TestClient(create_app(settings_for(stack, uploads_per_user_per_hour=1), fetch_jwks=moto_jwks))
    assert client.post(INIT, json=WAV, headers=alice.headers).status_code == 200
    assert client.post(INIT, json=WAV, headers=alice.headers).status_code == 429
