"""The fast GET presigner (app/store/presign.py) must produce exactly botocore's URL; no AWS is
called (tests/api/test_presign.py has S3 serve a signed URL)."""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config

from app.store.presign import PresignedGetSigner

INSTANTS = [datetime(2026, 11, 25, 13, 7, 9, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC)]
KEYS = [
    "audio/6f1c2a3e-0000-4000-8000-000000000001/0a1b2c3d-0000-4000-8000-000000000002.webm",
    "a b/ü~x+y=z.wav",
]


def _signer(
    endpoint: str | None, token: str | None, region: str = "us-east-1"
) -> tuple[Any, PresignedGetSigner]:
    """A client and the fast signer over the same session's credentials, as the app builds them."""
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token=token,
        region_name=region,
    )
    client = session.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4"))
    return client, PresignedGetSigner(client, "echoes-prod-audio-123456789012", session.get_credentials())


def _parts(url: str) -> tuple:
    split = urlsplit(url)
    return split.scheme, split.netloc, split.path, parse_qs(split.query)


@pytest.mark.parametrize(
    "endpoint", [None, "http://127.0.0.1:5005"], ids=["aws-virtual-host", "local-path-style"]
)
@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzEXAMPLE//token+/="], ids=["keys", "session-token"])
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-3"])
def test_urls_equal_botocores(
    monkeypatch: pytest.MonkeyPatch, endpoint: str | None, token: str | None, region: str
) -> None:
    client, signer = _signer(endpoint, token, region)
    for instant in INSTANTS:
        monkeypatch.setattr(
            "botocore.auth.get_current_datetime", lambda instant=instant: instant.replace(tzinfo=None)
        )
        for key in KEYS:
            expected = client.generate_presigned_url(
                "get_object", Params={"Bucket": "echoes-prod-audio-123456789012", "Key": key}, ExpiresIn=3600
            )
            assert _parts(signer.urls([key], 3600, now=instant)[0]) == _parts(expected)


def test_signing_key_changes_with_the_day() -> None:
    _, signer = _signer(None, None)
    today = signer.urls(["k"], 60, now=INSTANTS[0])[0]
    tomorrow = signer.urls(["k"], 60, now=INSTANTS[0] + timedelta(days=1))[0]
    assert (
        parse_qs(urlsplit(today).query)["X-Amz-Signature"]
        != parse_qs(urlsplit(tomorrow).query)["X-Amz-Signature"]
    )


def test_a_page_signed_together_equals_each_url_signed_alone() -> None:
    """urls() signs a page at one instant with shared parts: each URL is still its key's own."""
    _, signer = _signer(None, "FQoGZXIvYXdzEXAMPLE//token+/=")
    together = signer.urls(KEYS, 3600, now=INSTANTS[0])
    assert together == [signer.urls([key], 3600, now=INSTANTS[0])[0] for key in KEYS]
    assert len(set(together)) == len(KEYS)
