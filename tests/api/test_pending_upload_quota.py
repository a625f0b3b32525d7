"""The pending-upload quota (MAX_PENDING_UPLOADS_PER_USER) holds under concurrency (issue 22,
finding 3): parallel init-uploads of one user, against Amazon's DynamoDB Local, which applies
conditional writes to one item one at a time as DynamoDB does (moto does not isolate them)."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import boto3
import pytest
from fastapi.testclient import TestClient

from app.aws import AwsClients, create_client
from app.main import create_app
from app.settings import Settings
from app.store.outcomes import QuotaExceeded
from app.store.records import PendingUpload
from app.store.uploads import PendingUploads, ledger_key, pending_in
from devtools.invariants import Snapshot, snapshot
from devtools.local_aws import LocalStack
from tests.faults import BEFORE, FaultInjector
from tests.support import (
    User,
    echo_body,
    invariant_violations,
    moto_jwks,
    settings_for,
    upload_audio,
    wav_bytes,
)

INIT = "/api/v1/echoes/init-upload"
WAV = {"file_extension": "wav", "content_type": "audio/wav", "file_size": 1000}
PARALLEL = 40


def test_parallel_init_uploads_never_exceed_the_pending_upload_quota(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """Finding 3: 40 parallel init-uploads for a new user all answered 200 against a quota of 20
    (each counted the pending uploads, then inserted its own). The hourly limit is raised out of
    the way and the deadline relaxed: the 40 requests share one interpreter here."""
    quota = settings.max_pending_uploads_per_user
    assert quota < PARALLEL
    relaxed = settings_for(stack, uploads_per_user_per_hour=10 * PARALLEL, request_deadline_seconds=15)
    client = TestClient(create_app(relaxed, fetch_jwks=moto_jwks), raise_server_exceptions=False)
    start = Barrier(PARALLEL)

    def init(_: int) -> tuple[int, str]:
        start.wait()
        response = client.post(INIT, json=WAV, headers=alice.headers)
        return response.status_code, response.json().get("error", "")

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(init, range(PARALLEL)))

    granted = [answer for answer in answers if answer[0] == 200]
    assert len(granted) == quota, answers
    assert sorted(set(answers) - {(200, "")}) == [(409, "quota_exceeded")], answers
    assert len(_pending(settings, alice).uploads) == quota
    assert invariant_violations(settings, alice) == []
    assert client.post(INIT, json=WAV, headers=alice.headers).status_code == 409


def _pending(settings: Settings, user: User) -> Snapshot:
    return snapshot(
        boto3.client("dynamodb"),
        boto3.client("s3"),
        settings.dynamodb_table_name,
        settings.s3_bucket_name,
        user.user_id,
    )


def test_expired_uploads_give_their_places_to_new_ones(settings: Settings, alice: User) -> None:
    """Expiry is read from the ledger's entries (TTL deletes lazily, and whole items only): at
    the limit, the uploads expired by now are removed in the write that adds the new one."""
    store = PendingUploads(boto3.client("dynamodb"), settings.dynamodb_table_name)

    def upload(number: int, expires_at: int) -> PendingUpload:
        key = f"{alice.user_id}/e{number}.wav"
        return PendingUpload(f"e{number}", f"audio/{key}", "audio/wav", "wav", expires_at, f"uploads/{key}")

    store.reserve(alice.user_id, upload(1, 100), limit=2, now=50)
    store.reserve(alice.user_id, upload(2, 200), limit=2, now=50)
    with pytest.raises(QuotaExceeded):
        store.reserve(alice.user_id, upload(3, 300), limit=2, now=99)
    store.reserve(alice.user_id, upload(3, 300), limit=2, now=100)  # e1 expired at 100
    assert _pending(settings, alice).uploads == {"e2", "e3"}
    store.reserve(alice.user_id, upload(4, 400), limit=2, now=250)  # e2 expired, e3 still live
    assert _pending(settings, alice).uploads == {"e3", "e4"}
    assert invariant_violations(settings, alice) == []
    ledger = boto3.client("dynamodb").get_item(
        TableName=settings.dynamodb_table_name, Key=ledger_key(alice.user_id), ConsistentRead=True
    )["Item"]
    assert pending_in(ledger, "e3", now=299) == upload(3, 300)
    assert pending_in(ledger, "e3", now=300) is None, "expired, though still in the ledger"
    assert ledger["expires_at"] == {"N": "400"}, "TTL removes the ledger once its newest upload expired"


def test_a_used_upload_gives_its_place_back(stack: LocalStack, settings: Settings, alice: User) -> None:
    client = TestClient(
        create_app(
            settings_for(stack, max_audio_bytes=settings.max_audio_bytes, max_pending_uploads_per_user=1),
            fetch_jwks=moto_jwks,
        )
    )
    echo_id = upload_audio(client, alice, wav_bytes())
    refused = client.post(INIT, json=WAV, headers=alice.headers)
    assert refused.status_code == 409 and refused.json()["details"] == {"limit": 1, "quota": "uploads"}
    created = client.post(f"/api/v1/echoes?echo_id={echo_id}", json=echo_body(), headers=alice.headers)
    assert created.status_code == 201, created.text
    assert _pending(settings, alice).uploads == set()
    assert client.post(INIT, json=WAV, headers=alice.headers).status_code == 200
    assert invariant_violations(settings, alice) == []


def test_an_init_upload_that_fails_after_taking_its_place_gives_it_back(
    stack: LocalStack, settings: Settings, alice: User, bob: User
) -> None:
    """The hourly limit is taken after the place: when that call fails, the place is released."""
    clients = AwsClients(
        dynamodb=create_client("dynamodb", settings.aws_region), s3=create_client("s3", settings.aws_region)
    )
    injector = FaultInjector([clients.dynamodb])
    one_place = settings_for(stack, max_pending_uploads_per_user=1)
    client = TestClient(
        create_app(one_place, clients=clients, fetch_jwks=moto_jwks), raise_server_exceptions=False
    )
    injector.arm(-1, BEFORE)  # records only
    assert client.post(INIT, json=WAV, headers=bob.headers).status_code == 200
    assert injector.calls == ["GetItem", "UpdateItem", "UpdateItem"]  # counters, the place, the hour's limit

    injector.arm(2, BEFORE)
    failed = client.post(INIT, json=WAV, headers=alice.headers)
    assert injector.fired and failed.status_code == 503, failed.text
    assert (_pending(settings, alice).uploads, _pending(settings, alice).pending_count) == (set(), 0)
    assert client.post(INIT, json=WAV, headers=alice.headers).status_code == 200
