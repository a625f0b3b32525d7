"""Issue 22, finding 9 (second half): an upload URL granted before an account's erasure still PUTs
under the erased user's prefix after it. The erasure queues sweeps (app/sweep.py) that delete it.

DynamoDB Local for the marker, moto for the bucket and the queue. What AWS would do that moto does
not: SQS holds each sweep for its DelaySeconds (15 minutes; moto's queue is given no delay here, so
that the test receives the sweep at once: the delay itself is read in tests/unit/test_erasure.py),
and Lambda's event source mapping receives it, calls the erasure function with the record, and
deletes it unless the answer names its messageId; a message received three times moves to the
failures queue (template.yaml: RedrivePolicy).
"""

import importlib
import json
import sys
import time
from typing import Any

import boto3
import pytest
import requests
from fastapi.testclient import TestClient

from app.aws import create_clients
from app.erasure import ErasureEvent, ErasurePasses, build_passes, handle
from app.settings import Settings, get_settings
from app.store.account import user_prefixes
from app.sweep import Sweep, SweepQueue, handle_records
from devtools.events import LambdaContext
from devtools.local_aws import LocalStack
from tests.support import User, settings_for, wav_bytes


@pytest.fixture
def queue_url() -> str:
    return str(boto3.client("sqs").create_queue(QueueName=f"sweeps-{time.time_ns()}")["QueueUrl"])


@pytest.fixture
def sweeps(queue_url: str) -> SweepQueue:
    return SweepQueue(queue_url, lambda: boto3.client("sqs"), max_delay_seconds=0)


@pytest.fixture
def passes(stack: LocalStack, settings: Settings, sweeps: SweepQueue) -> ErasurePasses:
    erasure_settings = settings_for(stack, max_audio_bytes=settings.max_audio_bytes)
    clients = create_clients(erasure_settings.aws_region)
    return build_passes(erasure_settings, clients.dynamodb, clients.s3, None, sweeps)


def _granted_url(client: TestClient, user: User) -> dict[str, Any]:
    response = client.post(
        "/api/v1/echoes/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav"},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _put(upload: dict[str, Any]) -> None:
    put = requests.put(upload["upload_url"], data=wav_bytes(), headers=upload["upload_headers"], timeout=10)
    assert put.status_code == 200, put.text


def _objects(settings: Settings, user: User) -> int:
    """Object versions and delete markers under both of the user's prefixes."""
    pages = boto3.client("s3").get_paginator("list_object_versions")
    return sum(
        len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        for prefix in user_prefixes(user.user_id)
        for page in pages.paginate(Bucket=settings.s3_bucket_name, Prefix=prefix)
    )


def _received(queue_url: str) -> list[dict[str, Any]]:
    """What the event source mapping would hand the function: the messages as Lambda's records."""
    messages = (
        boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    )
    return [{"messageId": message["MessageId"], "body": message["Body"]} for message in messages]


def test_an_upload_landing_after_the_erasure_is_removed_by_its_sweep(
    client: TestClient, settings: Settings, alice: User, passes: ErasurePasses, queue_url: str
) -> None:
    upload = _granted_url(client, alice)
    assert handle(passes, ErasureEvent(alice.user_id, alice.email).to_json(), 10.0) == {"done": True}
    _put(upload)  # the URL outlives the erasure: S3 checks only its signature and expiry
    assert _objects(settings, alice) == 1
    [record] = _received(queue_url)
    assert passes.sweeps is not None
    assert handle_records(passes.eraser(), passes.sweeps, [record]) == {"batchItemFailures": []}
    assert _objects(settings, alice) == 0
    # until the last URL's expiry and a PUT in flight have passed, the next sweep is queued
    [following] = _received(queue_url)
    assert json.loads(following["body"]) == json.loads(record["body"])


def test_a_sweep_past_its_end_queues_no_other(
    settings: Settings, alice: User, passes: ErasurePasses, sweeps: SweepQueue, queue_url: str
) -> None:
    assert handle(passes, ErasureEvent(alice.user_id, alice.email).to_json(), 10.0) == {"done": True}
    _received(queue_url)  # the erasure's own
    ended = {"messageId": "m1", "body": json.dumps(Sweep(alice.user_id, time.time() - 1).to_json())}
    assert handle_records(passes.eraser(), sweeps, [ended]) == {"batchItemFailures": []}
    assert _received(queue_url) == []


def test_a_sweep_deletes_nothing_of_an_account_that_is_not_erased(
    client: TestClient,
    settings: Settings,
    bob: User,
    passes: ErasurePasses,
    sweeps: SweepQueue,
    queue_url: str,
) -> None:
    """A message that names a live account (forged, or for an erasure still under way) is consumed
    and does nothing: only a marker that says done lets a sweep delete."""
    _put(_granted_url(client, bob))
    forged = {"messageId": "m1", "body": json.dumps(Sweep(bob.user_id, time.time() + 3600).to_json())}
    assert handle_records(passes.eraser(), sweeps, [forged]) == {"batchItemFailures": []}
    assert _objects(settings, bob) == 1 and _received(queue_url) == []


def test_a_failed_sweep_alone_is_reported_for_sqs_to_deliver_again(
    alice: User, passes: ErasurePasses, sweeps: SweepQueue
) -> None:
    good = {"messageId": "good", "body": json.dumps(Sweep(alice.user_id, time.time() - 1).to_json())}
    broken = {"messageId": "broken", "body": "{not json"}
    assert handle_records(passes.eraser(), sweeps, [good, broken]) == {
        "batchItemFailures": [{"itemIdentifier": "broken"}]
    }


def test_the_erasure_functions_entry_point_hands_sqs_records_to_the_sweep(
    client: TestClient,
    stack: LocalStack,
    settings: Settings,
    alice: User,
    passes: ErasurePasses,
    queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """erasure_handler.py as Lambda loads it, from the template's environment variables: an event
    with Records (what the event source mapping delivers) is a batch of sweeps, anything else a pass."""
    upload = _granted_url(client, alice)
    assert handle(passes, ErasureEvent(alice.user_id, alice.email).to_json(), 10.0) == {"done": True}
    _put(upload)
    records = _received(queue_url)
    environment = {"ENVIRONMENT": settings.environment, "ERASURE_SWEEP_QUEUE_URL": queue_url}
    for name, value in (stack.settings_env() | environment).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.delitem(sys.modules, "erasure_handler", raising=False)
    try:
        entry = importlib.import_module("erasure_handler")
        assert entry.handler({"Records": records}, LambdaContext.fresh()) == {"batchItemFailures": []}
    finally:
        get_settings.cache_clear()
    assert _objects(settings, alice) == 0
