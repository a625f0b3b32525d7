"""The API guide's own upload flow (ford-at-home/ecko, backend/API_GUIDE.md: the document frontend
developers follow), over HTTP as its client does it, in both local modes: init-upload with
`{file_extension, content_type}` only, a PUT with `Content-Type` only, create.

moto checks no signature, so a PUT missing a signed header succeeds here where S3 answers 403
SignatureDoesNotMatch: what S3 would check is read from the URL itself (X-Amz-SignedHeaders must
name only what the guide's client sends). A second PUT after create must leave the echo's audio
byte-identical, wherever that PUT lands."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.stack import RunningStack
from tests.support import wav_bytes

pytestmark = pytest.mark.e2e


def test_the_guides_upload_flow_works_and_cannot_replace_the_audio(local_stack: RunningStack) -> None:
    token = local_stack.token(f"guide-{local_stack.mode}@example.com")
    api = httpx.Client(
        base_url=local_stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    audio = wav_bytes(seconds=0.5)

    init = api.post("/api/v1/echoes/init-upload", json={"file_extension": "wav", "content_type": "audio/wav"})
    assert init.status_code == 200, init.text
    upload = init.json()
    signed = parse_qs(urlsplit(upload["upload_url"]).query)["X-Amz-SignedHeaders"]
    assert signed == ["content-type;host"], "S3 would refuse the guide's PUT for any other signed header"

    put = httpx.put(upload["upload_url"], content=audio, headers={"Content-Type": "audio/wav"}, timeout=30)
    assert put.status_code == 200, put.text

    # The guide's create body, field for field.
    created = api.post(
        "/api/v1/echoes",
        params={"echo_id": upload["echo_id"]},
        json={
            "emotion": "joy",
            "tags": ["river", "kids", "outdoors"],
            "transcript": "Rio laughing and water splashing",
            "detected_mood": "joyful",
            "file_extension": "wav",
            "duration_seconds": 0.5,
            "location": {"lat": 37.5407, "lng": -77.4360, "address": "James River, Richmond, VA"},
        },
    )
    assert created.status_code == 201, created.text
    assert httpx.get(created.json()["audio_url"], timeout=30).content == audio

    # The URL has not expired: a second PUT through it must not become the echo's audio.
    again = httpx.put(
        upload["upload_url"], content=b"not the echo" * 100, headers={"Content-Type": "audio/wav"}
    )
    assert again.status_code in {200, 403, 412}, again.text
    echo = api.get(f"/api/v1/echoes/{upload['echo_id']}").json()
    assert echo["file_size"] == len(audio)
    assert httpx.get(echo["audio_url"], timeout=30).content == audio, "the echo's audio changed"
