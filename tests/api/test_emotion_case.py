"""Emotions in any case (issue 20: the ecko frontend sends "Joy"): accepted by create, PATCH and the
list and random filters, stored and answered lower-case, still one of the twelve."""

from fastapi.testclient import TestClient

from tests.support import User, echo_body, upload_audio, wav_bytes


def _create(client: TestClient, user: User, echo_id: str, **body: object):
    return client.post(f"/api/v1/echoes?echo_id={echo_id}", json=echo_body(**body), headers=user.headers)


def test_emotions_are_accepted_in_any_case_and_stored_lower_case(client: TestClient, alice: User) -> None:
    """The ecko frontend sends "Joy"."""
    echo_id = upload_audio(client, alice, wav_bytes())
    created = _create(client, alice, echo_id, emotion="Joy")
    assert created.status_code == 201, created.text
    assert created.json()["emotion"] == "joy"
    url = f"/api/v1/echoes/{echo_id}"
    patched = client.patch(url, json={"emotion": "NOSTALGIA"}, headers=alice.headers)
    assert patched.status_code == 200 and patched.json()["emotion"] == "nostalgia"
    listed = client.get("/api/v1/echoes", params={"emotion": "Nostalgia"}, headers=alice.headers).json()
    assert [echo["echo_id"] for echo in listed["echoes"]] == [echo_id]
    assert listed["total_count"] == 1
    picked = client.get("/api/v1/echoes/random", params={"emotion": "nOsTaLgIa"}, headers=alice.headers)
    assert picked.status_code == 200 and picked.json()["echo_id"] == echo_id
    refused = _create(client, alice, upload_audio(client, alice, wav_bytes()), emotion="Happy")
    assert refused.status_code == 400, "still one of the twelve"
