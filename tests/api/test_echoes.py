"""List, cursor paging, random, get and delete, and two users who cannot see each other."""

import base64
import hmac
import json
from collections import Counter

import boto3
import pytest
import requests
from fastapi.testclient import TestClient

from app.settings import Settings
from app.store.cursor import SIGNATURE_BYTES
from app.store.echoes import EchoStore
from tests.faults import CallProbe
from tests.support import EchoFactory, User

LIST = "/api/v1/echoes"


def _list(client: TestClient, user: User, **params: object) -> dict:
    response = client.get(LIST, params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(page: dict) -> list[str]:
    return [echo["echo_id"] for echo in page["echoes"]]


@pytest.fixture
def seven(make_echo: EchoFactory, alice: User) -> list[dict]:
    """Seven echoes, oldest first: calm, joy, calm, joy, ... (four calm, three joy)."""
    return [make_echo(alice, emotion="calm" if i % 2 == 0 else "joy") for i in range(7)]


def test_list_is_newest_first_with_counts(client: TestClient, alice: User, seven: list[dict]) -> None:
    page = _list(client, alice)
    assert _ids(page) == [echo["echo_id"] for echo in reversed(seven)]
    assert (page["total_count"], page["page"], page["page_size"]) == (7, 1, 20)
    assert page["has_more"] is False and page["next_cursor"] is None
    assert all(echo["audio_url"].startswith("https://") for echo in page["echoes"])


def test_filter_by_emotion(client: TestClient, alice: User, seven: list[dict]) -> None:
    page = _list(client, alice, emotion="joy")
    assert _ids(page) == [e["echo_id"] for e in reversed(seven) if e["emotion"] == "joy"]
    assert page["total_count"] == 3
    assert _list(client, alice, emotion="hope")["total_count"] == 0


def test_cursor_pages_through_everything_once(client: TestClient, alice: User, seven: list[dict]) -> None:
    seen, pages, cursor = [], [], None
    while True:
        page = _list(client, alice, page_size=3, **({"cursor": cursor} if cursor else {}))
        pages.append(page["page"])
        seen += _ids(page)
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == [echo["echo_id"] for echo in reversed(seven)]
    assert pages == [1, 2, 3]


def test_cursor_with_emotion_filter(client: TestClient, alice: User, seven: list[dict]) -> None:
    first = _list(client, alice, emotion="calm", page_size=2)
    second = _list(client, alice, emotion="calm", page_size=2, cursor=first["next_cursor"])
    calm = [e["echo_id"] for e in reversed(seven) if e["emotion"] == "calm"]
    assert _ids(first) + _ids(second) == calm
    assert second["has_more"] is False


def test_page_numbers_still_work(client: TestClient, alice: User, seven: list[dict]) -> None:
    newest_first = [echo["echo_id"] for echo in reversed(seven)]
    assert _ids(_list(client, alice, page=2, page_size=3)) == newest_first[3:6]
    last = _list(client, alice, page=3, page_size=3)
    assert _ids(last) == newest_first[6:] and last["has_more"] is False
    beyond = _list(client, alice, page=9, page_size=3)
    assert beyond["echoes"] == [] and beyond["total_count"] == 7 and beyond["page"] == 9


def test_exactly_full_last_page_has_no_more(client: TestClient, alice: User, seven: list[dict]) -> None:
    page = _list(client, alice, page_size=7)
    assert len(page["echoes"]) == 7 and page["has_more"] is False


@pytest.mark.parametrize("cursor_change", ["tamper", "other-emotion", "other-size", "garbage"])
def test_a_cursor_only_works_for_its_own_query(
    client: TestClient, alice: User, seven: list[dict], cursor_change: str
) -> None:
    cursor = _list(client, alice, page_size=3)["next_cursor"]
    params: dict[str, object] = {"page_size": 3, "cursor": cursor}
    if cursor_change == "tamper":
        payload, signature = cursor.split(".")
        params["cursor"] = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    elif cursor_change == "other-emotion":
        params["emotion"] = "joy"
    elif cursor_change == "other-size":
        params["page_size"] = 4
    else:
        params["cursor"] = "%%%not-a-cursor"
    response = client.get(LIST, params=params, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_another_users_cursor_is_refused(
    client: TestClient, alice: User, bob: User, seven: list[dict]
) -> None:
    cursor = _list(client, alice, page_size=3)["next_cursor"]
    response = client.get(LIST, params={"page_size": 3, "cursor": cursor}, headers=bob.headers)
    assert response.status_code == 400


@pytest.mark.parametrize("params", [{"page_size": 0}, {"page_size": 101}, {"page": 0}, {"emotion": "bored"}])
def test_bad_list_parameters_are_400(client: TestClient, alice: User, params: dict) -> None:
    response = client.get(LIST, params=params, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_page_size_100_is_allowed(client: TestClient, alice: User) -> None:
    assert _list(client, alice, page_size=100)["page_size"] == 100


def test_random_when_there_is_nothing_is_404(client: TestClient, alice: User) -> None:
    response = client.get(f"{LIST}/random", headers=alice.headers)
    assert response.status_code == 404
    assert response.json()["error"] == "resource_not_found"


def test_random_by_emotion_only_picks_that_emotion(
    client: TestClient, alice: User, seven: list[dict]
) -> None:
    joy = {e["echo_id"] for e in seven if e["emotion"] == "joy"}
    for _ in range(20):
        response = client.get(f"{LIST}/random", params={"emotion": "joy"}, headers=alice.headers)
        assert response.json()["echo_id"] in joy
    assert client.get(f"{LIST}/random", params={"emotion": "hope"}, headers=alice.headers).status_code == 404


class _Cycle:
    """A stand-in for secrets.randbelow that answers 0, 1, 2, ... modulo n: any n calls with the
    same n return every number below n exactly once."""

    def __init__(self) -> None:
        self._calls = 0

    def __call__(self, n: int) -> int:
        self._calls += 1
        return (self._calls - 1) % n


def test_random_is_uniform_and_stays_uniform_after_deletes(
    client: TestClient, alice: User, make_echo: EchoFactory, settings: Settings
) -> None:
    """Uniform as long as the random numbers are: one round of draws that covers every number must
    pick every echo exactly once. A gap left by a delete, or picking the successor of a random key
    (gap-weighted), shows as an echo missing or picked twice."""
    store = EchoStore(boto3.client("dynamodb"), settings.dynamodb_table_name, randbelow=_Cycle())
    echoes = [make_echo(alice, emotion="calm" if i < 3 else "joy") for i in range(5)]

    def one_round(ids: list[str], emotion: str | None = None) -> Counter:
        return Counter(store.random_echo(alice.user_id, emotion).echo_id for _ in ids)

    every_id = [echo["echo_id"] for echo in echoes]
    assert one_round(every_id) == Counter(every_id)

    # Delete a middle slot of both the whole set and of "calm": the last ones move into the gaps.
    assert client.delete(f"{LIST}/{every_id[1]}", headers=alice.headers).status_code == 204
    remaining = [every_id[0], *every_id[2:]]
    assert one_round(remaining) == Counter(remaining)
    calm = [every_id[0], every_id[2]]
    assert one_round(calm, "calm") == Counter(calm)


def test_random_with_the_real_source_reaches_every_echo(
    alice: User, make_echo: EchoFactory, settings: Settings
) -> None:
    # A miss has probability 5 x 0.8^150 (about 1e-14) when the source is uniform.
    store = EchoStore(boto3.client("dynamodb"), settings.dynamodb_table_name)
    echoes = [make_echo(alice) for _ in range(5)]
    drawn = {store.random_echo(alice.user_id).echo_id for _ in range(150)}
    assert drawn == {echo["echo_id"] for echo in echoes}


def test_random_reads_twice_once_the_store_knows_the_total_and_stays_uniform(
    client: TestClient, alice: User, make_echo: EchoFactory, settings: Settings
) -> None:
    """The first pick reads the counters, then the drawn slot, then the echo; later picks draw the
    slot from the total seen before and read it with the counters. After a delete the total seen
    is wrong: that pick draws again from the fresh total, and every echo is still picked exactly
    once per round of a cycling source."""
    dynamodb = boto3.client("dynamodb")
    probe = CallProbe([dynamodb])
    store = EchoStore(dynamodb, settings.dynamodb_table_name, randbelow=_Cycle())
    ids = [make_echo(alice)["echo_id"] for _ in range(4)]

    def calls_of_one_pick() -> list[str]:
        probe.calls.clear()
        assert store.random_echo(alice.user_id) is not None
        return [name for name, _, _ in probe.calls]

    assert calls_of_one_pick() == ["BatchGetItem", "GetItem", "GetItem"]
    assert calls_of_one_pick() == ["BatchGetItem", "GetItem"]
    assert client.delete(f"{LIST}/{ids[1]}", headers=alice.headers).status_code == 204
    assert calls_of_one_pick() == ["BatchGetItem", "GetItem", "GetItem"], "the total changed: drawn again"
    remaining = [ids[0], *ids[2:]]
    assert Counter(store.random_echo(alice.user_id).echo_id for _ in remaining) == Counter(remaining)


def test_get_returns_the_echo(client: TestClient, alice: User, seven: list[dict]) -> None:
    response = client.get(f"{LIST}/{seven[2]['echo_id']}", headers=alice.headers)
    assert response.status_code == 200
    assert {k: v for k, v in response.json().items() if k != "audio_url"} == {
        k: v for k, v in seven[2].items() if k != "audio_url"
    }


def test_upper_case_id_finds_the_same_echo(client: TestClient, alice: User, seven: list[dict]) -> None:
    response = client.get(f"{LIST}/{seven[0]['echo_id'].upper()}", headers=alice.headers)
    assert response.json()["echo_id"] == seven[0]["echo_id"]


@pytest.mark.parametrize("echo_id", ["nope", "00000000-0000-4000-8000-000000000000", "'; DROP TABLE"])
def test_unknown_or_malformed_ids_are_404(client: TestClient, alice: User, echo_id: str) -> None:
    for method in ("GET", "DELETE"):
        response = client.request(method, f"{LIST}/{echo_id}", headers=alice.headers)
        assert response.status_code == 404
        assert response.json()["error"] == "resource_not_found"


def test_delete_removes_the_echo_its_audio_and_its_counts(
    client: TestClient, alice: User, seven: list[dict], settings: Settings
) -> None:
    victim = seven[1]
    assert requests.get(victim["audio_url"], timeout=10).status_code == 200
    response = client.delete(f"{LIST}/{victim['echo_id']}", headers=alice.headers)
    assert response.status_code == 204 and response.content == b""
    assert client.get(f"{LIST}/{victim['echo_id']}", headers=alice.headers).status_code == 404
    assert client.delete(f"{LIST}/{victim['echo_id']}", headers=alice.headers).status_code == 404
    key = victim["s3_url"].split("/", 3)[3]
    listed = boto3.client("s3").list_objects_v2(Bucket=settings.s3_bucket_name, Prefix=key)
    assert listed.get("KeyCount", 0) == 0
    assert _list(client, alice)["total_count"] == 6
    assert _list(client, alice, emotion="joy")["total_count"] == 2


def test_deleting_everything_leaves_a_clean_slate(
    client: TestClient, alice: User, seven: list[dict], make_echo: EchoFactory
) -> None:
    for echo in seven:
        assert client.delete(f"{LIST}/{echo['echo_id']}", headers=alice.headers).status_code == 204
    assert _list(client, alice)["total_count"] == 0
    assert client.get(f"{LIST}/random", headers=alice.headers).status_code == 404
    fresh = make_echo(alice, emotion="hope")
    assert client.get(f"{LIST}/random", headers=alice.headers).json()["echo_id"] == fresh["echo_id"]


def test_users_cannot_see_or_touch_each_others_echoes(
    client: TestClient, alice: User, bob: User, seven: list[dict], make_echo: EchoFactory
) -> None:
    bobs = make_echo(bob, emotion="joy")
    assert _ids(_list(client, bob)) == [bobs["echo_id"]]
    assert _list(client, bob, emotion="calm")["total_count"] == 0
    for _ in range(10):
        assert client.get(f"{LIST}/random", headers=bob.headers).json()["echo_id"] == bobs["echo_id"]
    for echo in seven:
        assert client.get(f"{LIST}/{echo['echo_id']}", headers=bob.headers).status_code == 404
        assert client.delete(f"{LIST}/{echo['echo_id']}", headers=bob.headers).status_code == 404
    assert _list(client, alice)["total_count"] == 7
    assert bobs["echo_id"] not in _ids(_list(client, alice))


@pytest.mark.parametrize(
    "position", [[None, "2026-01-01T00:00:00.000Z", "x"], [2, None, None], ["2", "a", "b"]]
)
def test_a_cursor_signed_with_the_real_key_but_no_position_is_a_400(
    client: TestClient, settings: Settings, alice: User, position: list[object]
) -> None:
    """Signed as the app signs (HMAC-SHA256 of scope NUL payload, with the key in Secrets Manager),
    so only the payload's content can refuse it: it was a 500 (int(None) in the codec)."""
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=settings.app_secret_name)
    payload = json.dumps(position, separators=(",", ":")).encode()
    scope = f"{alice.user_id}||3"  # user, no emotion, page size
    signature = hmac.new(secret["SecretString"].encode(), scope.encode() + b"\x00" + payload, "sha256")
    cursor = f"{_b64(payload)}.{_b64(signature.digest()[:SIGNATURE_BYTES])}"
    response = client.get(LIST, params={"page_size": 3, "cursor": cursor}, headers=alice.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "validation_error"
    assert response.json()["details"] == {"reason": "malformed"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
