"""The full user journey over real HTTP against the local stack, in both of its modes."""

import httpx
import pytest

from tests.e2e.stack import RunningStack
from tests.support import echo_body, wav_bytes

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(local_stack: RunningStack) -> httpx.Client:
    with httpx.Client(base_url=local_stack.base_url, timeout=15) as client:
        yield client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _init(api: httpx.Client, token: str, **body: object) -> dict:
    response = api.post(
        "/api/v1/echoes/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav", "file_size": 1024, **body},
        headers=_auth(token),
    )
    assert response.status_code == 200, response.text
    return response.json()


def _create(api: httpx.Client, token: str, echo_id: str, **body: object) -> httpx.Response:
    return api.post(
        "/api/v1/echoes", params={"echo_id": echo_id}, json=echo_body(**body), headers=_auth(token)
    )


def test_two_users_full_journey(local_stack: RunningStack, api: httpx.Client) -> None:
    alice = local_stack.token(f"alice-{local_stack.mode}@example.com")
    bob = local_stack.token(f"bob-{local_stack.mode}@example.com")
    recordings = [("calm", wav_bytes(0.2)), ("joy", wav_bytes(0.3)), ("calm", wav_bytes(0.4))]
    created = []

    # The presigned PUT: the only upload target (a POST form could overwrite a created echo).
    for emotion, data in recordings:
        upload = _init(api, alice, file_size=len(data))
        put = httpx.put(upload["upload_url"], content=data, headers=upload["upload_headers"])
        assert put.status_code == 200, put.text
        response = _create(api, alice, upload["echo_id"], emotion=emotion)
        assert response.status_code == 201, response.text
        created.append((response.json(), data))

    newest_first = [echo["echo_id"] for echo, _ in reversed(created)]
    listed = api.get("/api/v1/echoes", headers=_auth(alice)).json()
    assert [e["echo_id"] for e in listed["echoes"]] == newest_first and listed["total_count"] == 3
    calm = api.get("/api/v1/echoes", params={"emotion": "calm"}, headers=_auth(alice)).json()
    assert [e["echo_id"] for e in calm["echoes"]] == [newest_first[0], newest_first[2]]

    paged, cursor = [], None
    while True:
        params = {"page_size": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/echoes", params=params, headers=_auth(alice)).json()
        paged += [e["echo_id"] for e in page["echoes"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert paged == newest_first

    picked = api.get("/api/v1/echoes/random", params={"emotion": "joy"}, headers=_auth(alice)).json()
    assert picked["echo_id"] == created[1][0]["echo_id"]

    for echo, data in created:
        fetched = api.get(f"/api/v1/echoes/{echo['echo_id']}", headers=_auth(alice)).json()
        assert httpx.get(fetched["audio_url"]).content == data, "the very same bytes come back"

    # Bob sees nothing of Alice's.
    assert api.get("/api/v1/echoes", headers=_auth(bob)).json()["total_count"] == 0
    assert api.get("/api/v1/echoes/random", headers=_auth(bob)).status_code == 404
    for echo, _ in created:
        assert api.get(f"/api/v1/echoes/{echo['echo_id']}", headers=_auth(bob)).status_code == 404
        assert api.delete(f"/api/v1/echoes/{echo['echo_id']}", headers=_auth(bob)).status_code == 404

    first = created[0][0]
    assert api.delete(f"/api/v1/echoes/{first['echo_id']}", headers=_auth(alice)).status_code == 204
    assert api.get(f"/api/v1/echoes/{first['echo_id']}", headers=_auth(alice)).status_code == 404
    assert httpx.get(first["audio_url"]).status_code == 404, "the audio object is gone"
    assert api.get("/api/v1/echoes", headers=_auth(alice)).json()["total_count"] == 2


def test_wrong_type_and_oversized_uploads_are_refused(local_stack: RunningStack, api: httpx.Client) -> None:
    token = local_stack.token(f"carol-{local_stack.mode}@example.com")
    upload = _init(api, token)
    sent = httpx.put(
        upload["upload_url"],
        content=b"<html>",
        headers={**upload["upload_headers"], "Content-Type": "text/html"},
    )
    assert sent.status_code == 200, "moto accepts it; the API must not"
    refused = _create(api, token, upload["echo_id"])
    assert refused.status_code == 415 and refused.json()["error"] == "unsupported_media_type"

    upload = _init(api, token)
    oversized = b"\0" * (10 * 1024 * 1024 + 1)
    assert (
        httpx.put(upload["upload_url"], content=oversized, headers=upload["upload_headers"]).status_code
        == 200
    )
    refused = _create(api, token, upload["echo_id"])
    assert refused.status_code == 413 and refused.json()["error"] == "file_too_large"
    assert api.get("/api/v1/echoes", headers=_auth(token)).json()["total_count"] == 0

    declared = api.post(
        "/api/v1/echoes/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav", "file_size": 10 * 1024 * 1024 + 1},
        headers=_auth(token),
    )
    assert declared.status_code == 413


def test_stage_prefix_only_in_lambda_mode(local_stack: RunningStack) -> None:
    """--lambda emulates API Gateway: only /dev/... reaches the function; uvicorn serves at the root."""
    root = httpx.get(f"http://127.0.0.1:{local_stack.ports[1]}/health")
    assert root.status_code == (403 if local_stack.mode == "lambda" else 200)
    info = httpx.get(f"{local_stack.base_url}/").json()
    prefix = "/dev" if local_stack.mode == "lambda" else ""
    assert info["docs"] == f"{prefix}/docs" and info["health"] == f"{prefix}/health"
