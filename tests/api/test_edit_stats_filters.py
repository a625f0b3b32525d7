"""PATCH (versions, ETag, If-Match), stats, the from/to and tag filters, recorded_at and quotas,
through the API on DynamoDB Local, with the invariant checker after each.

What AWS would do that the emulators do not: DynamoDB Local has no throttling, and it runs
transactions of one table in one process, so the conflicts here are TransactionConflict and
failed conditions, as on AWS, but never throttling; moto's S3 ignores presigned conditions."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests
from fastapi.testclient import TestClient

from app.main import create_app
from app.models import Emotion
from app.settings import Settings
from devtools.local_aws import LocalStack
from tests.support import (
    EchoFactory,
    User,
    echo_body,
    invariant_violations,
    moto_jwks,
    settings_for,
    wav_bytes,
)

ECHOES = "/api/v1/echoes"


def _assert_invariants(settings: Settings, *users: User) -> None:
    for user in users:
        found = invariant_violations(settings, user)
        assert found == [], found


def _patch(client: TestClient, user: User, echo_id: str, body: dict, **headers: str):
    return client.patch(f"{ECHOES}/{echo_id}", json=body, headers=user.headers | headers)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and {"message", "details", "timestamp", "request_id"} <= set(body)
    return body


def _list(client: TestClient, user: User, **params: object) -> dict:
    response = client.get(ECHOES, params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(page: dict) -> list[str]:
    return [echo["echo_id"] for echo in page["echoes"]]


# --- PATCH ------------------------------------------------------------------------------------


def test_patch_changes_only_the_given_fields_and_bumps_the_version(
    client: TestClient, alice: User, make_echo: EchoFactory, settings: Settings
) -> None:
    echo = make_echo(alice)
    assert echo["version"] == 1 and echo["recorded_at"] == echo["created_at"]
    response = _patch(
        client, alice, echo["echo_id"], {"tags": [" Storm ", "night", "storm"], "transcript": None}
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["tags"] == ["storm", "night"] and patched["transcript"] is None
    assert patched["version"] == 2 and response.headers["etag"] == '"2"'
    unchanged = {"emotion", "detected_mood", "location", "created_at", "recorded_at", "file_size"}
    assert {name: patched[name] for name in unchanged} == {name: echo[name] for name in unchanged}
    got = client.get(f"{ECHOES}/{echo['echo_id']}", headers=alice.headers)
    assert got.headers["etag"] == '"2"' and got.json()["tags"] == ["storm", "night"]
    _assert_invariants(settings, alice)


@pytest.mark.parametrize(
    "body",
    [
        {"colour": "blue"},  # unknown field
        {"emotion": None},  # not clearable
        {"tags": None},
        {"emotion": "bored"},
        {"tags": ["x" * 33]},
        {"tags": [f"t{i}" for i in range(11)]},
        {"recorded_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        {"recorded_at": "2026-01-01T00:00:00"},  # no offset: ambiguous
    ],
)
def test_invalid_patches_are_400_and_change_nothing(
    client: TestClient, alice: User, make_echo: EchoFactory, body: dict
) -> None:
    echo = make_echo(alice)
    _error(_patch(client, alice, echo["echo_id"], body), 400, "validation_error")
    after = client.get(f"{ECHOES}/{echo['echo_id']}", headers=alice.headers).json()
    # audio_url is presigned afresh on every read (its X-Amz-Date moves with the clock)
    assert after == echo | {"audio_url": after["audio_url"]}


def test_patching_someone_elses_or_a_malformed_id_is_404(
    client: TestClient, alice: User, bob: User, make_echo: EchoFactory, settings: Settings
) -> None:
    echo = make_echo(alice)
    _error(_patch(client, bob, echo["echo_id"], {"transcript": "mine now"}), 404, "resource_not_found")
    _error(_patch(client, bob, "not-a-uuid", {"transcript": "x"}), 404, "resource_not_found")
    assert (
        client.get(f"{ECHOES}/{echo['echo_id']}", headers=alice.headers).json()["transcript"]
        == echo["transcript"]
    )
    _assert_invariants(settings, alice, bob)


def test_stale_if_match_is_412_and_current_one_succeeds(
    client: TestClient, alice: User, make_echo: EchoFactory, settings: Settings
) -> None:
    echo = make_echo(alice)
    first = _patch(client, alice, echo["echo_id"], {"detected_mood": "tense"}, **{"If-Match": '"1"'})
    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    stale = _patch(client, alice, echo["echo_id"], {"detected_mood": "calm"}, **{"If-Match": '"1"'})
    body = _error(stale, 412, "precondition_failed")
    assert body["details"] == {"current_etag": '"2"'}
    weak = _patch(client, alice, echo["echo_id"], {"detected_mood": "calm"}, **{"If-Match": 'W/"2"'})
    _error(weak, 412, "precondition_failed")  # If-Match compares strongly
    listed = _patch(client, alice, echo["echo_id"], {"detected_mood": "calm"}, **{"If-Match": '"7", "2"'})
    assert listed.status_code == 200 and listed.json()["version"] == 3
    anything = _patch(client, alice, echo["echo_id"], {"detected_mood": "x"}, **{"If-Match": "*"})
    assert anything.status_code == 200 and anything.json()["detected_mood"] == "x"
    _assert_invariants(settings, alice)


def test_changing_the_emotion_moves_counters_and_slots(
    client: TestClient, alice: User, make_echo: EchoFactory, settings: Settings
) -> None:
    calm = [make_echo(alice, emotion="calm") for _ in range(3)]
    response = _patch(client, alice, calm[0]["echo_id"], {"emotion": "joy"})
    assert response.status_code == 200 and response.json()["emotion"] == "joy"
    stats = client.get(f"{ECHOES}/stats", headers=alice.headers).json()
    assert stats["by_emotion"]["calm"] == 2 and stats["by_emotion"]["joy"] == 1 and stats["total_count"] == 3
    assert _ids(_list(client, alice, emotion="joy")) == [calm[0]["echo_id"]]
    assert calm[0]["echo_id"] not in _ids(_list(client, alice, emotion="calm"))
    picked = client.get(f"{ECHOES}/random", params={"emotion": "joy"}, headers=alice.headers)
    assert picked.json()["echo_id"] == calm[0]["echo_id"]
    _assert_invariants(settings, alice)
    # and back, after the others moved into its old slot
    assert _patch(client, alice, calm[0]["echo_id"], {"emotion": "calm"}).status_code == 200
    _assert_invariants(settings, alice)


def test_parallel_patches_and_deletes_of_one_user_all_succeed(
    stack: LocalStack, alice: User, make_echo: EchoFactory, settings: Settings
) -> None:
    """Emotion changes race deletes of echoes of the same emotion (which move slots) and tag
    edits of the same echoes. Budget raised as in test_integrity: one interpreter serves all."""
    relaxed = TestClient(
        create_app(
            settings_for(stack, request_deadline_seconds=15, max_audio_bytes=settings.max_audio_bytes),
            fetch_jwks=moto_jwks,
        ),
        raise_server_exceptions=False,
    )
    echoes = [make_echo(alice, emotion="calm") for _ in range(10)]
    calls: list[Callable[[], int]] = []
    for echo in echoes[:4]:
        calls.append(lambda e=echo: _patch(relaxed, alice, e["echo_id"], {"emotion": "hope"}).status_code)
        calls.append(lambda e=echo: _patch(relaxed, alice, e["echo_id"], {"tags": ["edited"]}).status_code)
    for echo in echoes[4:]:
        calls.append(
            lambda e=echo: relaxed.delete(f"{ECHOES}/{e['echo_id']}", headers=alice.headers).status_code
        )
    with ThreadPoolExecutor(len(calls)) as pool:
        statuses = list(pool.map(lambda call: call(), calls))
    assert sorted(statuses) == [200] * 8 + [204] * 6, statuses
    remaining = {e["echo_id"]: e for e in _list(relaxed, alice)["echoes"]}
    assert set(remaining) == {e["echo_id"] for e in echoes[:4]}
    assert all(
        e["emotion"] == "hope" and e["tags"] == ["edited"] and e["version"] == 3 for e in remaining.values()
    )
    assert _ids(_list(relaxed, alice, tag="edited")) == _ids(_list(relaxed, alice))
    _assert_invariants(settings, alice)


def test_patch_and_delete_of_the_same_echoes_in_parallel(
    stack: LocalStack, alice: User, make_echo: EchoFactory, settings: Settings
) -> None:
    """Each echo is re-tagged and moved to another emotion while it is deleted: whichever commits
    first, nothing is left behind (no tag item, slot or count of a deleted echo)."""
    relaxed = TestClient(
        create_app(
            settings_for(stack, request_deadline_seconds=15, max_audio_bytes=settings.max_audio_bytes),
            fetch_jwks=moto_jwks,
        ),
        raise_server_exceptions=False,
    )
    echoes = [make_echo(alice, emotion="calm", tags=["old"]) for _ in range(4)]
    calls: list[Callable[[], tuple[str, int]]] = []
    for echo in echoes:
        path = f"{ECHOES}/{echo['echo_id']}"
        calls.append(
            lambda p=path: (
                "patch",
                relaxed.patch(
                    p, json={"emotion": "fear", "tags": ["new"]}, headers=alice.headers
                ).status_code,
            )
        )
        calls.append(lambda p=path: ("delete", relaxed.delete(p, headers=alice.headers).status_code))
    with ThreadPoolExecutor(len(calls)) as pool:
        outcomes = list(pool.map(lambda call: call(), calls))
    assert all(status == 204 for kind, status in outcomes if kind == "delete"), outcomes
    assert all(status in (200, 404) for kind, status in outcomes if kind == "patch"), outcomes
    assert _list(relaxed, alice)["echoes"] == [] and _list(relaxed, alice, tag="new")["echoes"] == []
    _assert_invariants(settings, alice)


def test_parallel_patches_with_the_same_if_match_one_wins(
    client: TestClient, alice: User, make_echo: EchoFactory, settings: Settings
) -> None:
    echo = make_echo(alice)
    with ThreadPoolExecutor(4) as pool:
        responses = list(
            pool.map(
                lambda n: _patch(
                    client, alice, echo["echo_id"], {"transcript": f"take {n}"}, **{"If-Match": '"1"'}
                ),
                range(4),
            )
        )
    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412]
    _assert_invariants(settings, alice)


# --- stats -------------------------------------------------------------------------------------


def test_stats_list_every_emotion_and_the_first_and_last_echo(
    client: TestClient, alice: User, bob: User, make_echo: EchoFactory
) -> None:
    empty = client.get(f"{ECHOES}/stats", headers=alice.headers).json()
    assert empty == {
        "total_count": 0,
        "by_emotion": {emotion.value: 0 for emotion in Emotion},
        "first_echo_at": None,
        "last_echo_at": None,
    }
    made = [make_echo(alice, emotion=emotion) for emotion in ("calm", "joy", "calm")]
    make_echo(bob, emotion="fear")
    stats = client.get(f"{ECHOES}/stats", headers=alice.headers).json()
    assert stats["total_count"] == 3 and len(stats["by_emotion"]) == 12
    assert (
        stats["by_emotion"]["calm"] == 2
        and stats["by_emotion"]["joy"] == 1
        and stats["by_emotion"]["fear"] == 0
    )
    assert (stats["first_echo_at"], stats["last_echo_at"]) == (made[0]["created_at"], made[2]["created_at"])
    client.delete(f"{ECHOES}/{made[2]['echo_id']}", headers=alice.headers)
    assert (
        client.get(f"{ECHOES}/stats", headers=alice.headers).json()["last_echo_at"] == made[1]["created_at"]
    )


# --- filters -----------------------------------------------------------------------------------


def test_from_is_inclusive_and_to_exclusive_alone_and_with_emotion(
    client: TestClient, alice: User, make_echo: EchoFactory
) -> None:
    made = [make_echo(alice, emotion=emotion) for emotion in ("calm", "joy", "calm", "joy")]
    ids = [echo["echo_id"] for echo in made]
    at = [echo["created_at"] for echo in made]
    assert _ids(_list(client, alice, **{"from": at[1]})) == ids[:0:-1]
    assert _ids(_list(client, alice, to=at[2])) == [ids[1], ids[0]]
    both = _list(client, alice, **{"from": at[1], "to": at[3]})
    assert _ids(both) == [ids[2], ids[1]] and both["total_count"] is None
    assert _ids(_list(client, alice, emotion="calm", **{"from": at[1]})) == [ids[2]]
    offset = datetime.fromisoformat(at[1]).astimezone(timezone_plus_two()).isoformat()
    assert _ids(_list(client, alice, **{"from": offset})) == ids[:0:-1]  # any offset, same instant


def timezone_plus_two():
    from datetime import timezone

    return timezone(timedelta(hours=2))


def test_cursor_pages_through_a_date_range(client: TestClient, alice: User, make_echo: EchoFactory) -> None:
    made = [make_echo(alice) for _ in range(5)]
    params = {"from": made[1]["created_at"], "page_size": 2}
    first = _list(client, alice, **params)
    second = _list(client, alice, **params, cursor=first["next_cursor"])
    assert _ids(first) + _ids(second) == [e["echo_id"] for e in reversed(made[1:])]
    assert second["has_more"] is False
    # a cursor of a date range is refused for another range
    other = client.get(ECHOES, params={"cursor": first["next_cursor"], "page_size": 2}, headers=alice.headers)
    _error(other, 400, "validation_error")


@pytest.mark.parametrize(
    "params",
    [
        {"emotion": "calm", "tag": "rain"},
        {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"from": "2026-01-01T00:00:00"},
        {"from": "yesterday"},
        {"tag": "x" * 40},
        {"tag": "   "},
    ],
)
def test_unsupported_or_invalid_filters_are_400(client: TestClient, alice: User, params: dict) -> None:
    _error(client.get(ECHOES, params=params, headers=alice.headers), 400, "validation_error")


def test_tag_filter_follows_creates_edits_and_deletes(
    client: TestClient, alice: User, bob: User, make_echo: EchoFactory, settings: Settings
) -> None:
    rain = [make_echo(alice, tags=["Rain", "night"]) for _ in range(3)]
    make_echo(alice, tags=["wind"])
    make_echo(bob, tags=["rain"])
    assert _ids(_list(client, alice, tag=" RAIN ")) == [e["echo_id"] for e in reversed(rain)]
    assert _patch(client, alice, rain[0]["echo_id"], {"tags": ["night"]}).status_code == 200
    assert client.delete(f"{ECHOES}/{rain[2]['echo_id']}", headers=alice.headers).status_code == 204
    assert _ids(_list(client, alice, tag="rain")) == [rain[1]["echo_id"]]
    night = _list(client, alice, tag="night", page_size=1)
    rest = _list(client, alice, tag="night", page_size=1, cursor=night["next_cursor"])
    assert _ids(night) + _ids(rest) == [rain[1]["echo_id"], rain[0]["echo_id"]]
    assert night["total_count"] is None
    # the listed echo is the echo as it is now, not as it was when tagged
    edited = _patch(client, alice, rain[1]["echo_id"], {"transcript": "heavier now"}).json()
    listed = _list(client, alice, tag="rain")["echoes"][0]
    assert listed == edited | {"audio_url": listed["audio_url"]}  # a URL signed at another second
    assert _ids(_list(client, alice, tag="rain", to=rain[1]["created_at"])) == []
    assert _ids(_list(client, alice, tag="rain", **{"from": rain[1]["created_at"]})) == [rain[1]["echo_id"]]
    assert _ids(_list(client, alice, tag="rai")) == []  # a tag, not a prefix
    _assert_invariants(settings, alice, bob)


def test_a_tag_with_a_hash_does_not_match_another_tags_items(
    client: TestClient, alice: User, make_echo: EchoFactory
) -> None:
    plain = make_echo(alice, tags=["a"])
    hashed = make_echo(alice, tags=["a#b"])
    assert _ids(_list(client, alice, tag="a")) == [plain["echo_id"]]
    assert _ids(_list(client, alice, tag="a#b")) == [hashed["echo_id"]]


# --- recorded_at -------------------------------------------------------------------------------


def test_recorded_at_is_kept_normalised_to_utc_and_editable(
    client: TestClient, alice: User, make_echo: EchoFactory
) -> None:
    echo = make_echo(alice, recorded_at="2025-04-01T18:30:00+02:00")
    assert echo["recorded_at"] == "2025-04-01T16:30:00.000Z"
    patched = _patch(client, alice, echo["echo_id"], {"recorded_at": "2025-04-02T08:00:00Z"}).json()
    assert (
        patched["recorded_at"] == "2025-04-02T08:00:00.000Z" and patched["created_at"] == echo["created_at"]
    )


def test_recorded_at_in_the_future_is_refused_at_create(client: TestClient, alice: User) -> None:
    init = client.post(
        f"{ECHOES}/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav", "file_size": 1000},
        headers=alice.headers,
    ).json()
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    response = client.post(
        f"{ECHOES}?echo_id={init['echo_id']}", json=echo_body(recorded_at=soon), headers=alice.headers
    )
    _error(response, 400, "validation_error")


# --- quotas ------------------------------------------------------------------------------------


def _limited(stack: LocalStack, settings: Settings, **limits: int) -> TestClient:
    app = create_app(
        settings_for(stack, max_audio_bytes=settings.max_audio_bytes, **limits), fetch_jwks=moto_jwks
    )
    return TestClient(app, raise_server_exceptions=False)


def _uploaded(client: TestClient, user: User) -> str:
    data = wav_bytes()
    init = client.post(
        f"{ECHOES}/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav", "file_size": len(data)},
        headers=user.headers,
    )
    assert init.status_code == 200, init.text
    upload = init.json()
    assert requests.put(upload["upload_url"], data=data, headers=upload["upload_headers"], timeout=10).ok
    return upload["echo_id"]


def test_echo_quota_refuses_at_the_limit_at_init_and_at_create(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    limited = _limited(stack, settings, max_echoes_per_user=2)
    first = _uploaded(limited, alice)
    assert (
        limited.post(f"{ECHOES}?echo_id={first}", json=echo_body(), headers=alice.headers).status_code == 201
    )
    # two uploads initialised while one slot is left: the second create is refused
    second, third = _uploaded(limited, alice), _uploaded(limited, alice)
    assert (
        limited.post(f"{ECHOES}?echo_id={second}", json=echo_body(), headers=alice.headers).status_code == 201
    )
    refused = limited.post(f"{ECHOES}?echo_id={third}", json=echo_body(), headers=alice.headers)
    body = _error(refused, 409, "quota_exceeded")
    assert body["details"] == {"limit": 2, "quota": "echoes"}
    tags = boto3.client("s3").get_object_tagging(
        Bucket=settings.s3_bucket_name, Key=f"audio/{alice.user_id}/{third}.wav"
    )
    assert {"Key": "echoes-state", "Value": "pending"} in tags["TagSet"]  # left to the lifecycle rule
    init = limited.post(
        f"{ECHOES}/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav", "file_size": 1000},
        headers=alice.headers,
    )
    _error(init, 409, "quota_exceeded")
    _assert_invariants(settings, alice)
    # deleting one frees the room
    limited.delete(f"{ECHOES}/{first}", headers=alice.headers)
    assert (
        limited.post(f"{ECHOES}?echo_id={third}", json=echo_body(), headers=alice.headers).status_code == 201
    )
    _assert_invariants(settings, alice)


def test_byte_quota_counts_the_audio_of_every_echo(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    size = len(wav_bytes())
    limited = _limited(stack, settings, max_audio_bytes_per_user=size * 2)
    ids = [_uploaded(limited, alice) for _ in range(3)]
    statuses = [
        limited.post(f"{ECHOES}?echo_id={i}", json=echo_body(), headers=alice.headers).status_code
        for i in ids
    ]
    assert statuses == [201, 201, 409]
    _assert_invariants(settings, alice)


def test_pending_upload_quota(stack: LocalStack, settings: Settings, alice: User, bob: User) -> None:
    limited = _limited(stack, settings, max_pending_uploads_per_user=2)
    body = {"file_extension": "wav", "content_type": "audio/wav", "file_size": 1000}
    assert [
        limited.post(f"{ECHOES}/init-upload", json=body, headers=alice.headers).status_code for _ in range(2)
    ] == [200, 200]
    _error(limited.post(f"{ECHOES}/init-upload", json=body, headers=alice.headers), 409, "quota_exceeded")
    assert limited.post(f"{ECHOES}/init-upload", json=body, headers=bob.headers).status_code == 200


def test_the_openapi_schema_documents_the_new_endpoints(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    patch = paths["/api/v1/echoes/{echo_id}"]["patch"]
    assert {"200", "412"} <= set(patch["responses"])
    assert any(p["name"] == "if-match" and p["in"] == "header" for p in patch["parameters"])
    assert "get" in paths["/api/v1/echoes/stats"]
    listed = {p["name"] for p in paths["/api/v1/echoes"]["get"]["parameters"]}
    assert {"emotion", "tag", "from", "to", "cursor"} <= listed
    assert {"202", "204"} <= set(paths["/api/v1/me"]["delete"]["responses"])
    assert "get" in paths["/api/v1/me/export"]
    assert {"version", "recorded_at"} <= set(spec["components"]["schemas"]["Echo"]["properties"])
