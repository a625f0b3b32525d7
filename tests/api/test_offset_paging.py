"""Offset paging (`page=N` without a cursor) is bounded (issue 22, finding 8): it reads every echo
before the page, so beyond a documented depth it is refused (400) in favour of next_cursor,
which costs one page of reads wherever it points."""

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.service import MAX_OFFSET
from tests.support import EchoFactory, User

ECHOES = "/api/v1/echoes"


def _queries(app: FastAPI) -> list[dict[str, Any]]:
    """The Query requests the app's DynamoDB client sends from now on."""
    sent: list[dict[str, Any]] = []
    app.state.aws_clients.dynamodb.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: sent.append(params)
    )
    return sent


def test_a_page_beyond_the_offset_depth_is_refused_before_reading_anything(
    app: FastAPI, client: TestClient, alice: User
) -> None:
    """Finding 8: page=10000&page_size=100 read the caller's whole partition (up to a million
    echoes, a thousand Query pages) to answer an empty page."""
    queries = _queries(app)
    response = client.get(f"{ECHOES}?page=10000&page_size=100", headers=alice.headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert "next_cursor" in body["message"]
    assert body["details"] == {"max_offset": MAX_OFFSET, "offset": 9999 * 100, "use": "cursor"}
    assert queries == [], "refused before any read"


def test_the_offset_depth_is_on_the_echoes_skipped(client: TestClient, alice: User) -> None:
    deepest = MAX_OFFSET // 20 + 1  # page_size 20: pages 1..deepest skip at most MAX_OFFSET echoes
    assert client.get(f"{ECHOES}?page={deepest}&page_size=20", headers=alice.headers).status_code == 200
    assert client.get(f"{ECHOES}?page={deepest + 1}&page_size=20", headers=alice.headers).status_code == 400
    assert client.get(f"{ECHOES}?page={MAX_OFFSET + 1}&page_size=1", headers=alice.headers).status_code == 200
    assert client.get(f"{ECHOES}?page={MAX_OFFSET + 2}&page_size=1", headers=alice.headers).status_code == 400


def test_cursors_go_past_the_offset_depth(
    client: TestClient, alice: User, make_echo: EchoFactory, monkeypatch: Any
) -> None:
    """A cursor carries its page number but reads one page wherever it is: the bound does not
    apply to it. (Shown with the depth lowered to 2 echoes: three pages of one.)"""
    monkeypatch.setattr("app.service.MAX_OFFSET", 1)
    made = [make_echo(alice)["echo_id"] for _ in range(3)]
    assert client.get(f"{ECHOES}?page=3&page_size=1", headers=alice.headers).status_code == 400
    seen, cursor = [], None
    for _ in range(3):
        page = client.get(
            f"{ECHOES}?page_size=1" + (f"&cursor={cursor}" if cursor else ""), headers=alice.headers
        ).json()
        seen += [echo["echo_id"] for echo in page["echoes"]]
        cursor = page["next_cursor"]
    assert seen == made[::-1] and page["page"] == 3 and cursor is None
