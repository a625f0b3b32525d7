"""Guide-compatible uploads (issue 20): the client PUTs with Content-Type alone to a staging key;
create checks what is there, copies it into the echo's key (conditioned on what it checked, never
overwriting), checks the copy, then stores the echo.

moto checks no signature or expiry (the URLs' signed headers are read from the URL:
test_uploads_and_create.py), honours the copy's conditions only as tests/moto_as_aws.py makes it
(tests/api/conftest.py), and never runs the lifecycle rules that expire the staging prefix
(tests/infra/test_template.py reads them)."""

from collections.abc import Iterator

import boto3
import pytest
import requests
from fastapi.testclient import TestClient

from app.aws import AwsClients, create_client
from app.main import create_app
from app.settings import Settings
from app.store.audio import AudioStore
from tests.faults import AFTER, FaultInjector
from tests.support import User, echo_body, invariant_violations, moto_jwks, wav_bytes

INIT = "/api/v1/echoes/init-upload"
GUIDE_INIT = {"file_extension": "wav", "content_type": "audio/wav"}  # the guide's body: no file_size


def _init(client: TestClient, user: User) -> dict:
    response = client.post(INIT, json=GUIDE_INIT, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _put(upload: dict, data: bytes) -> None:
    """As the guide's client does: the URL, the body, Content-Type and nothing else."""
    put = requests.put(upload["upload_url"], data=data, headers={"Content-Type": "audio/wav"}, timeout=10)
    assert put.status_code == 200, put.text


def _create(client: TestClient, user: User, echo_id: str, **body: object):
    return client.post(f"/api/v1/echoes?echo_id={echo_id}", json=echo_body(**body), headers=user.headers)


def _audio_of(client: TestClient, user: User, echo_id: str) -> bytes:
    echo = client.get(f"/api/v1/echoes/{echo_id}", headers=user.headers)
    assert echo.status_code == 200, echo.text
    return requests.get(echo.json()["audio_url"], timeout=10).content


def _staged_versions(settings: Settings, user: User) -> int:
    listed = boto3.client("s3").list_object_versions(
        Bucket=settings.s3_bucket_name, Prefix=f"uploads/{user.user_id}/"
    )
    return len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", []))


@pytest.fixture
def hooked(settings: Settings) -> Iterator[tuple[TestClient, AwsClients]]:
    """The app on clients of its own, whose calls a test can hook."""
    clients = AwsClients(
        dynamodb=create_client("dynamodb", settings.aws_region), s3=create_client("s3", settings.aws_region)
    )
    yield (
        TestClient(
            create_app(settings, clients=clients, fetch_jwks=moto_jwks), raise_server_exceptions=False
        ),
        clients,
    )


def test_the_guides_flow_creates_the_echo(client: TestClient, alice: User, settings: Settings) -> None:
    """init-upload {file_extension, content_type}, PUT with Content-Type only, create."""
    audio = wav_bytes()
    upload = _init(client, alice)
    _put(upload, audio)
    created = _create(client, alice, upload["echo_id"])
    assert created.status_code == 201, created.text
    assert created.json()["file_size"] == len(audio)
    assert _audio_of(client, alice, upload["echo_id"]) == audio
    assert invariant_violations(settings, alice) == []


def test_an_upload_changed_between_the_check_and_the_copy_is_not_copied(
    hooked: tuple[TestClient, AwsClients], alice: User, settings: Settings
) -> None:
    """A PUT lands after create checked the staged object and before it copies: the copy is
    conditioned on the ETag that was checked, so S3 refuses it (412) and nothing unchecked becomes
    the echo's audio; create answers 409 and, repeated, checks and copies the new upload."""
    client, clients = hooked
    first, second = wav_bytes(0.5), wav_bytes(0.25)
    upload = _init(client, alice)
    _put(upload, first)
    replaced: list[bool] = []

    def replace_upload(**_: object) -> None:
        if not replaced:
            replaced.append(True)
            _put(upload, second)

    clients.s3.meta.events.register("before-call.s3.CopyObject", replace_upload)
    refused = _create(client, alice, upload["echo_id"])
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "conflict"
    assert (
        boto3.client("s3")
        .list_objects_v2(Bucket=settings.s3_bucket_name, Prefix=upload["s3_key"])
        .get("KeyCount", 0)
        == 0
    ), "nothing copied"

    again = _create(client, alice, upload["echo_id"])
    assert again.status_code == 201, again.text
    assert again.json()["file_size"] == len(second)
    assert _audio_of(client, alice, upload["echo_id"]) == second
    assert invariant_violations(settings, alice) == []


def test_what_an_earlier_attempt_copied_wins_over_a_later_put(
    hooked: tuple[TestClient, AwsClients], alice: User, settings: Settings
) -> None:
    """The first attempt copies (checked) audio, then loses the answer; the client PUTs other
    audio and creates again: the echo's key already holds a checked copy, which the copy would
    never overwrite, so the echo gets it and the later upload stays in staging until it expires."""
    client, clients = hooked
    injector = FaultInjector([clients.s3])
    first, later = wav_bytes(0.5), wav_bytes(0.25)
    upload = _init(client, alice)
    _put(upload, first)
    injector.arm(1, AFTER)  # HeadObject (staged), then CopyObject: its answer lost
    assert _create(client, alice, upload["echo_id"]).status_code == 503
    assert injector.fired == "CopyObject (after)"
    _put(upload, later)

    created = _create(client, alice, upload["echo_id"])

    assert created.status_code == 201, created.text
    assert _audio_of(client, alice, upload["echo_id"]) == first
    assert invariant_violations(settings, alice) == []


def test_the_copy_neither_overwrites_nor_copies_other_bytes_than_checked(settings: Settings) -> None:
    s3 = boto3.client("s3")
    bucket = settings.s3_bucket_name
    audio = AudioStore(s3, bucket, lambda: None)
    s3.put_object(Bucket=bucket, Key="uploads/u/e.wav", Body=b"checked", ContentType="audio/wav")
    etag = s3.head_object(Bucket=bucket, Key="uploads/u/e.wav")["ETag"]
    assert not audio.copy_verified("uploads/u/e.wav", "audio/u/e.wav", '"0123456789abcdef0123456789abcdef"')
    assert audio.copy_verified("uploads/u/e.wav", "audio/u/e.wav", etag)
    copied = s3.get_object(Bucket=bucket, Key="audio/u/e.wav")
    assert copied["Body"].read() == b"checked" and copied["ContentType"] == "audio/wav"
    assert s3.get_object_tagging(Bucket=bucket, Key="audio/u/e.wav")["TagSet"] == [], (
        "kept: the transaction comes next, and a create that fails tags it pending"
    )
    s3.put_object(Bucket=bucket, Key="uploads/u/e.wav", Body=b"other", ContentType="audio/wav")
    etag = s3.head_object(Bucket=bucket, Key="uploads/u/e.wav")["ETag"]
    assert not audio.copy_verified("uploads/u/e.wav", "audio/u/e.wav", etag), "the target exists"
    assert s3.get_object(Bucket=bucket, Key="audio/u/e.wav")["Body"].read() == b"checked"


def test_erasure_removes_the_staged_uploads_too(client: TestClient, alice: User, settings: Settings) -> None:
    """Every version under uploads/<sub>/: an upload never made into an echo, and what create
    left (the staged object's old version and its delete marker)."""
    made, abandoned = _init(client, alice), _init(client, alice)
    for upload in (made, abandoned):
        _put(upload, wav_bytes())
    assert _create(client, alice, made["echo_id"]).status_code == 201
    assert _staged_versions(settings, alice) == 3
    for _ in range(10):
        erased = client.delete("/api/v1/me", headers=alice.headers)
        if erased.status_code != 202:
            break
    assert erased.status_code == 204, erased.text
    assert _staged_versions(settings, alice) == 0
