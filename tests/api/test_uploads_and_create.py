"""init-upload and create: the API checks what S3 may not (size, type, ownership, idempotency)."""

import time
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from fastapi.testclient import TestClient

from app.settings import Settings
from app.store.uploads import entry_name, ledger_key
from tests.support import EchoFactory, User, echo_body, wav_bytes

INIT = "/api/v1/echoes/init-upload"


def _init(client: TestClient, user: User, **body: object) -> dict:
    response = client.post(
        INIT,
        json={"file_extension": "wav", "content_type": "audio/wav", "file_size": len(wav_bytes()), **body},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _create(client: TestClient, user: User, echo_id: str, **body: object):
    return client.post(f"/api/v1/echoes?echo_id={echo_id}", json=echo_body(**body), headers=user.headers)


def _put(upload: dict, data: bytes, content_type: str | None = None) -> None:
    headers = dict(upload["upload_headers"])
    if content_type:
        headers["Content-Type"] = content_type
    assert requests.put(upload["upload_url"], data=data, headers=headers, timeout=10).status_code == 200


def test_init_upload_answers_the_staging_url_and_the_echos_key(
    client: TestClient, alice: User, settings: Settings
) -> None:
    """The PUT goes to the staging key; s3_key names where the echo's audio will be (the API's
    verified copy). No presigned POST form: a POST policy cannot refuse to overwrite."""
    upload = _init(client, alice, file_size=1234)
    assert set(upload) == {"echo_id", "upload_url", "upload_headers", "s3_key", "expires_in"}
    assert upload["s3_key"] == f"audio/{alice.user_id}/{upload['echo_id']}.wav"
    assert upload["expires_in"] == settings.upload_url_expires_seconds
    assert upload["upload_headers"] == {"Content-Type": "audio/wav"}
    assert urlsplit(upload["upload_url"]).path.endswith(f"/uploads/{alice.user_id}/{upload['echo_id']}.wav")


def test_the_bucket_accepts_no_cross_origin_post(settings: Settings) -> None:
    """The bucket's CORS rules (from template.yaml) allow what the app hands out: GET and PUT."""
    rules = boto3.client("s3").get_bucket_cors(Bucket=settings.s3_bucket_name)["CORSRules"]
    assert all("POST" not in rule["AllowedMethods"] for rule in rules)
    assert any("PUT" in rule["AllowedMethods"] for rule in rules)


@pytest.mark.parametrize(
    ("extension", "content_type"),
    [
        ("webm", "audio/webm"),
        ("wav", "audio/wav"),
        ("mp3", "audio/mpeg"),
        ("m4a", "audio/mp4"),
        ("ogg", "audio/ogg"),
        (".WEBM", "audio/webm;codecs=opus"),
    ],
)
def test_every_supported_format_can_be_initialised(
    client: TestClient, alice: User, extension: str, content_type: str
) -> None:
    upload = _init(client, alice, file_extension=extension, content_type=content_type)
    assert upload["s3_key"].endswith("." + extension.lower().lstrip("."))


def test_unknown_format_is_415_listing_the_supported_ones(client: TestClient, alice: User) -> None:
    response = client.post(
        INIT,
        json={"file_extension": "flac", "content_type": "audio/flac", "file_size": 10},
        headers=alice.headers,
    )
    assert response.status_code == 415
    body = response.json()
    assert body["error"] == "unsupported_media_type"
    assert body["details"]["supported_formats"] == {
        "webm": "audio/webm",
        "wav": "audio/wav",
        "mp3": "audio/mpeg",
        "m4a": "audio/mp4",
        "ogg": "audio/ogg",
    }


def test_content_type_not_matching_extension_is_400(client: TestClient, alice: User) -> None:
    response = client.post(
        INIT,
        json={"file_extension": "wav", "content_type": "audio/mpeg", "file_size": 10},
        headers=alice.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_declared_size_over_the_limit_is_413(client: TestClient, alice: User, settings: Settings) -> None:
    response = client.post(
        INIT,
        json={
            "file_extension": "wav",
            "content_type": "audio/wav",
            "file_size": settings.max_audio_bytes + 1,
        },
        headers=alice.headers,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "file_too_large"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"file_extension": "wav"},
        {"file_extension": "wav", "content_type": "audio/wav", "file_size": 0},
        {"file_extension": "wav", "content_type": "audio/wav", "unexpected": 1},
    ],
    ids=["empty", "no-content-type", "zero-size", "unknown-field"],
)
def test_invalid_init_bodies_are_400_not_422(client: TestClient, alice: User, body: dict) -> None:
    response = client.post(INIT, json=body, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert response.json()["details"]


def test_create_returns_201_with_the_echo_and_normalised_tags(make_echo: EchoFactory, alice: User) -> None:
    echo = make_echo(alice)
    assert echo["emotion"] == "calm"
    assert echo["tags"] == ["rain", "forest"]
    assert echo["file_size"] == len(wav_bytes())
    assert echo["content_type"] == "audio/wav"
    assert echo["location"] == {"lat": 48.85, "lng": 2.35, "address": "Paris"}
    assert echo["s3_url"].startswith("s3://") and echo["s3_url"].endswith(f"{echo['echo_id']}.wav")
    assert requests.get(echo["audio_url"], timeout=10).content == wav_bytes()


def test_create_keeps_an_untagged_copy_and_removes_the_staged_upload(
    alice: User, settings: Settings, client: TestClient
) -> None:
    """The copy is made tagged pending (the lifecycle rule would expire it if create stopped
    there: tests/api/test_integrity.py); once the echo exists its audio carries no tag."""
    s3 = boto3.client("s3")
    upload = _init(client, alice)
    _put(upload, wav_bytes())
    assert _create(client, alice, upload["echo_id"]).status_code == 201
    assert s3.get_object_tagging(Bucket=settings.s3_bucket_name, Key=upload["s3_key"])["TagSet"] == []
    staged = s3.list_objects_v2(Bucket=settings.s3_bucket_name, Prefix=f"uploads/{alice.user_id}/")
    assert staged.get("KeyCount", 0) == 0


def test_create_before_the_upload_is_refused(client: TestClient, alice: User) -> None:
    upload = _init(client, alice)
    response = _create(client, alice, upload["echo_id"])
    assert response.status_code == 400
    assert response.json()["message"] == "The audio has not been uploaded yet"


def test_uploaded_object_over_the_limit_is_refused_and_removed(
    client: TestClient, alice: User, settings: Settings
) -> None:
    upload = _init(client, alice)
    _put(upload, b"\0" * (settings.max_audio_bytes + 1))  # S3 (moto) accepts it: the API must not
    response = _create(client, alice, upload["echo_id"])
    assert response.status_code == 413
    assert response.json()["error"] == "file_too_large"
    s3 = boto3.client("s3")
    for prefix in (f"uploads/{alice.user_id}/", upload["s3_key"]):  # removed, and never copied
        assert s3.list_objects_v2(Bucket=settings.s3_bucket_name, Prefix=prefix).get("KeyCount", 0) == 0


def test_uploaded_object_of_another_type_is_refused(client: TestClient, alice: User) -> None:
    upload = _init(client, alice)
    _put(upload, b"<html></html>", content_type="text/html")
    response = _create(client, alice, upload["echo_id"])
    assert response.status_code == 415
    assert response.json()["details"] == {"expected": "audio/wav", "received": "text/html"}


def test_create_with_another_extension_than_initialised_is_400(client: TestClient, alice: User) -> None:
    upload = _init(client, alice)
    _put(upload, wav_bytes())
    response = _create(client, alice, upload["echo_id"], file_extension="mp3")
    assert response.status_code == 400


def test_repeating_the_same_create_is_idempotent(client: TestClient, alice: User) -> None:
    upload = _init(client, alice)
    _put(upload, wav_bytes())
    first = _create(client, alice, upload["echo_id"])
    again = _create(client, alice, upload["echo_id"])
    assert first.status_code == again.status_code == 201
    assert {k: v for k, v in again.json().items() if k != "audio_url"} == {
        k: v for k, v in first.json().items() if k != "audio_url"
    }
    assert client.get("/api/v1/echoes", headers=alice.headers).json()["total_count"] == 1


def test_a_different_body_for_an_existing_echo_is_409(client: TestClient, alice: User) -> None:
    upload = _init(client, alice)
    _put(upload, wav_bytes())
    assert _create(client, alice, upload["echo_id"]).status_code == 201
    response = _create(client, alice, upload["echo_id"], emotion="joy")
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


def test_an_echo_id_initialised_by_someone_else_is_404(client: TestClient, alice: User, bob: User) -> None:
    upload = _init(client, alice)
    _put(upload, wav_bytes())
    response = _create(client, bob, upload["echo_id"])
    assert response.status_code == 404
    assert _create(client, alice, upload["echo_id"]).status_code == 201


@pytest.mark.parametrize("echo_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
def test_create_for_unknown_or_malformed_id_is_404(client: TestClient, alice: User, echo_id: str) -> None:
    assert _create(client, alice, echo_id).status_code == 404


def test_an_expired_pending_upload_cannot_be_used(
    client: TestClient, alice: User, settings: Settings
) -> None:
    upload = _init(client, alice)
    _put(upload, wav_bytes())
    boto3.client("dynamodb").update_item(
        TableName=settings.dynamodb_table_name,
        Key=ledger_key(alice.user_id),
        UpdateExpression="SET #u.expires_at = :past",
        ExpressionAttributeNames={"#u": entry_name(upload["echo_id"])},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert _create(client, alice, upload["echo_id"]).status_code == 404


@pytest.mark.parametrize(
    "overrides",
    [
        {"emotion": "bored"},
        {"tags": [f"t{i}" for i in range(11)]},
        {"tags": ["x" * 51]},
        {"tags": ["  "]},
        {"transcript": "x" * 1001},
        {"detected_mood": "x" * 51},
        {"duration_seconds": 0.05},
        {"duration_seconds": 300.5},
        {"location": {"lat": 91, "lng": 0}},
        {"location": {"lat": 0, "lng": -181}},
        {"location": {"lat": 0, "lng": 0, "address": "x" * 201}},
        {"unknown_field": True},
    ],
)
def test_invalid_create_bodies_are_400_and_nothing_is_written(
    client: TestClient, alice: User, overrides: dict
) -> None:
    upload = _init(client, alice)
    _put(upload, wav_bytes())
    response = _create(client, alice, upload["echo_id"], **overrides)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "validation_error"
    assert client.get("/api/v1/echoes", headers=alice.headers).json()["total_count"] == 0
    assert _create(client, alice, upload["echo_id"]).status_code == 201, "the upload is still usable"


def test_limits_are_inclusive(client: TestClient, alice: User) -> None:
    upload = _init(client, alice)
    _put(upload, wav_bytes())
    body = {
        "tags": [f"tag-{i}" for i in range(10)],
        "transcript": "x" * 1000,
        "detected_mood": "m" * 50,
        "duration_seconds": 300,
        "location": {"lat": -90, "lng": 180, "address": "a" * 200},
    }
    response = _create(client, alice, upload["echo_id"], **body)
    assert response.status_code == 201, response.text
    assert len(response.json()["tags"]) == 10


def test_the_upload_url_signs_host_and_content_type_only(client: TestClient, alice: User) -> None:
    """S3 answers 403 to a PUT that lacks a header the URL signs, and the API guide's client sends
    Content-Type alone: nothing else may be signed, whether file_size was given or not. moto
    checks no signature, so the binding is read from the URL itself."""
    for declared in ({}, {"file_size": 4321}):
        upload = _init(client, alice, **declared)
        query = parse_qs(urlsplit(upload["upload_url"]).query)
        assert query["X-Amz-SignedHeaders"] == ["content-type;host"]
        assert upload["upload_headers"] == {"Content-Type": "audio/wav"}


def test_the_guides_init_body_needs_no_file_size(client: TestClient, alice: User) -> None:
    response = client.post(
        INIT, json={"file_extension": "webm", "content_type": "audio/webm"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text


def test_a_put_after_create_leaves_the_echos_audio_byte_identical(
    client: TestClient, alice: User, settings: Settings
) -> None:
    """Finding 4 of issue 10 and issue 20's acceptance: the URL still works for its 15 minutes
    (it may overwrite the staging key: S3 accepts), but the echo's audio is the copy create made
    and checked, which no URL can write."""
    audio = wav_bytes()
    upload = _init(client, alice)
    _put(upload, audio)
    created = _create(client, alice, upload["echo_id"])
    assert created.status_code == 201
    _put(upload, b"\0" * len(audio))
    s3 = boto3.client("s3")
    assert s3.get_object(Bucket=settings.s3_bucket_name, Key=upload["s3_key"])["Body"].read() == audio
    assert s3.get_object_tagging(Bucket=settings.s3_bucket_name, Key=upload["s3_key"])["TagSet"] == []
    echo = client.get(f"/api/v1/echoes/{upload['echo_id']}", headers=alice.headers).json()
    assert requests.get(echo["audio_url"], timeout=10).content == audio
