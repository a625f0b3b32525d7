"""Deleting an echo deletes its audio, every version of it (issue 22, finding 9): the bucket is
versioned, and a plain DeleteObject only hides the object behind a delete marker, readable by
version id for the 30 days of the noncurrent-version lifecycle rule.

What AWS would do that moto does not: moto checks no IAM, so the role's narrow listing grant (one
echo's key as the prefix, never a user's whole prefix: tests/infra/test_template_roles.py) is
proven from the template, not here."""

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from app.settings import Settings
from app.store.audio import PENDING_TAG_KEY, PENDING_TAG_VALUE
from tests.support import EchoFactory, User, echo_body, invariant_violations, wav_bytes

ECHOES = "/api/v1/echoes"


def _entries(settings: Settings, key: str) -> list[tuple[str, str]]:
    """Every version and delete marker S3 keeps under exactly KEY: (kind, version id)."""
    listed = boto3.client("s3").list_object_versions(Bucket=settings.s3_bucket_name, Prefix=key)
    return [
        (kind, entry["VersionId"])
        for kind in ("Versions", "DeleteMarkers")
        for entry in listed.get(kind, [])
        if entry["Key"] == key
    ]


def test_deleting_an_echo_removes_every_version_of_its_audio(
    client: TestClient, settings: Settings, alice: User
) -> None:
    """Finding 9: after a 204, the audio was still readable by its version id. The echo's key
    holds three entries here: an earlier copy that create refused and deleted (a version and its
    delete marker; written directly, as a copy whose check failed leaves them), then the copy that
    became the echo's audio."""
    s3 = boto3.client("s3")
    init = client.post(
        f"{ECHOES}/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav"},
        headers=alice.headers,
    ).json()
    key = init["s3_key"]
    s3.put_object(Bucket=settings.s3_bucket_name, Key=key, Body=b"refused copy")
    s3.delete_object(Bucket=settings.s3_bucket_name, Key=key)
    put = requests.put(init["upload_url"], data=wav_bytes(), headers=init["upload_headers"], timeout=10)
    assert put.status_code == 200
    created = client.post(f"{ECHOES}?echo_id={init['echo_id']}", json=echo_body(), headers=alice.headers)
    assert created.status_code == 201, created.text
    before = _entries(settings, key)
    assert sorted(kind for kind, _ in before) == ["DeleteMarkers", "Versions", "Versions"]
    # Another object whose key starts with this one's: listing by prefix finds it, deleting must not.
    neighbour = key + ".copy"
    s3.put_object(
        Bucket=settings.s3_bucket_name,
        Key=neighbour,
        Body=b"other",
        Tagging=f"{PENDING_TAG_KEY}={PENDING_TAG_VALUE}",
    )

    assert client.delete(f"{ECHOES}/{init['echo_id']}", headers=alice.headers).status_code == 204

    assert _entries(settings, key) == []
    for _, version in before:
        with pytest.raises(ClientError) as gone:
            s3.get_object(Bucket=settings.s3_bucket_name, Key=key, VersionId=version)
        assert gone.value.response["Error"]["Code"] in {"NoSuchVersion", "NoSuchKey", "404"}
    assert [kind for kind, _ in _entries(settings, neighbour)] == ["Versions"]
    assert invariant_violations(settings, alice) == []


def test_deleting_one_echo_leaves_the_others_audio(
    client: TestClient, settings: Settings, alice: User, make_echo: EchoFactory
) -> None:
    doomed, kept = make_echo(alice), make_echo(alice)
    assert client.delete(f"{ECHOES}/{doomed['echo_id']}", headers=alice.headers).status_code == 204
    assert (
        requests.get(
            client.get(f"{ECHOES}/{kept['echo_id']}", headers=alice.headers).json()["audio_url"], timeout=10
        ).content
        == wav_bytes()
    )
    assert len(_entries(settings, kept["s3_url"].split("/", 3)[3])) == 1
    assert invariant_violations(settings, alice) == []
