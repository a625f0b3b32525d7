"""Inputs bounded to what the code beneath can hold (issue 22, findings 1 and 2): each of these
answered 500, or signed a header a client could inject into, before."""

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.support import EchoFactory, User

LIST = "/api/v1/echoes"


def _assert_400(response, field: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert any(field in detail["field"] for detail in body["details"]), body


@pytest.mark.parametrize(
    ("bound", "value"),
    [("from", "0001-01-01T00:00:00+05:00"), ("to", "9999-12-31T23:59:59-05:00")],
)
def test_a_list_bound_out_of_range_in_utc_is_400(
    client: TestClient, alice: User, bound: str, value: str
) -> None:
    _assert_400(client.get(LIST, params={bound: value}, headers=alice.headers), bound)


def test_the_ends_of_the_range_in_utc_are_accepted(client: TestClient, alice: User) -> None:
    response = client.get(
        LIST, params={"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text


def test_a_recorded_at_out_of_range_in_utc_is_400(
    client: TestClient, alice: User, make_echo: EchoFactory
) -> None:
    echo = make_echo(alice)
    response = client.patch(
        f"{LIST}/{echo['echo_id']}", json={"recorded_at": "0001-01-01T00:00:00+05:00"}, headers=alice.headers
    )
    _assert_400(response, "recorded_at")


@pytest.mark.parametrize(
    "if_match",
    [b'"' + b"9" * 5000 + b'"', b'"\xb2"', b'"1", "' + b"1" * 19 + b'"'],
    ids=["5000-digits", "superscript-two", "current-and-too-long"],
)
def test_an_if_match_no_issued_etag_can_be_is_412(
    client: TestClient, alice: User, make_echo: EchoFactory, if_match: bytes
) -> None:
    echo = make_echo(alice)
    response = client.patch(
        f"{LIST}/{echo['echo_id']}",
        json={"tags": ["x"]},
        headers={"Authorization": alice.headers["Authorization"], "If-Match": if_match},  # type: ignore[dict-item]
    )
    if if_match.startswith(b'"1",'):  # one of the tags is the echo's: the edit goes through
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 412, response.text
        assert response.json()["error"] == "precondition_failed"


@pytest.mark.parametrize(
    "content_type",
    [
        "audio/wav;\r\nX-Injected: 1",
        "audio/wav;\nX-Injected: 1",
        "audio/wav\x00",
        "audio/wav;codecs=ö",
        "audio wav",
    ],
    ids=["crlf", "lf", "nul", "non-ascii", "not-a-media-type"],
)
def test_a_content_type_that_is_not_a_media_type_is_400(
    client: TestClient, alice: User, content_type: str
) -> None:
    response = client.post(
        f"{LIST}/init-upload",
        json={"file_extension": "wav", "content_type": content_type, "file_size": 100},
        headers=alice.headers,
    )
    _assert_400(response, "content_type")


def test_a_media_type_is_signed_and_returned_lower_cased(client: TestClient, alice: User) -> None:
    response = client.post(
        f"{LIST}/init-upload",
        json={"file_extension": "webm", "content_type": "Audio/WebM;codecs=opus", "file_size": 100},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["upload_headers"]["Content-Type"] == "audio/webm;codecs=opus"
    signed = parse_qs(urlsplit(answer["upload_url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert "content-type" in signed
