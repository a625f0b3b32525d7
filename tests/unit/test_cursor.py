"""The pagination cursor codec (app/store/cursor.py): what it accepts, and everything it refuses."""

import base64
import json

import pytest

from app.store.cursor import SIGNATURE_BYTES, CursorCodec, CursorState, InvalidCursor

STATE = CursorState(page=3, created_at="2026-11-25T13:07:09.123456Z", echo_id="6f1c2a3e-0000-4000-8000-0001")


def _codec(key: bytes = b"k" * 32) -> CursorCodec:
    return CursorCodec(lambda: key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip_and_no_padding_or_unsafe_characters() -> None:
    cursor = _codec().encode("alice|all", STATE)
    assert _codec().decode("alice|all", cursor) == STATE
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor, "safe in a query string"


def test_the_scope_is_signed_not_sent() -> None:
    cursor = _codec().encode("alice|happy", STATE)
    assert "alice" not in base64.urlsafe_b64decode(cursor.split(".")[0] + "==").decode()
    with pytest.raises(InvalidCursor, match="bad signature"):
        _codec().decode("bob|happy", cursor)
    with pytest.raises(InvalidCursor, match="bad signature"):
        _codec().decode("alice|sad", cursor)


def test_scope_and_payload_are_separated() -> None:
    """The NUL between scope and payload: moving bytes between them must not keep the signature."""
    codec = _codec()
    cursor = codec.encode("alice", STATE)
    payload, signature = cursor.split(".")
    raw = base64.urlsafe_b64decode(payload + "==")
    shifted = _b64(raw[1:])  # the payload's first byte moved into the scope
    with pytest.raises(InvalidCursor, match="bad signature"):
        codec.decode("alice" + chr(raw[0]), f"{shifted}.{signature}")


def test_another_key_refuses_the_cursor() -> None:
    cursor = _codec(b"a" * 32).encode("s", STATE)
    with pytest.raises(InvalidCursor, match="bad signature"):
        _codec(b"b" * 32).decode("s", cursor)


def test_a_changed_payload_is_refused() -> None:
    codec = _codec()
    _, signature = codec.encode("s", STATE).split(".")
    forged = _b64(json.dumps([0, STATE.created_at, STATE.echo_id], separators=(",", ":")).encode())
    with pytest.raises(InvalidCursor, match="bad signature"):
        codec.decode("s", f"{forged}.{signature}")


def test_a_truncated_signature_is_refused() -> None:
    cursor = _codec().encode("s", STATE)
    payload, signature = cursor.split(".")
    short = _b64(base64.urlsafe_b64decode(signature + "==")[: SIGNATURE_BYTES - 1])
    with pytest.raises(InvalidCursor, match="bad signature"):
        _codec().decode("s", f"{payload}.{short}")


@pytest.mark.parametrize("cursor", ["", "nodot", "a.b.c", "abc.d", "ab!.cd", "é.x"])
def test_malformed_cursors_are_refused_before_any_signature_check(cursor: str) -> None:
    def no_key() -> bytes:
        raise AssertionError("a malformed cursor must not need the key")

    with pytest.raises(InvalidCursor):
        CursorCodec(no_key).decode("s", cursor)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1,2]",
        b'{"page":1}',
        b"[1,2,3,4]",
        b"7",
        # three values, but not a position encode() writes: each was a 500 (int(None), int("x"))
        b'[null,"2026-01-01T00:00:00.000Z","e1"]',
        b'["x","2026-01-01T00:00:00.000Z","e1"]',
        b'[[],"2026-01-01T00:00:00.000Z","e1"]',
        b'[true,"2026-01-01T00:00:00.000Z","e1"]',
        b'[2.5,"2026-01-01T00:00:00.000Z","e1"]',
        b'[1,"2026-01-01T00:00:00.000Z","e1"]',  # the first page has no cursor
        b'[2,null,"e1"]',
        b'[2,"2026-01-01T00:00:00.000Z",7]',
        b'[2,"","e1"]',
        b'{"a":1,"b":2,"c":3}',  # unpacks into its three keys
    ],
)
def test_a_signed_payload_of_the_wrong_shape_is_malformed_not_a_500(payload: bytes) -> None:
    """Only the key holder can sign; still, a payload that is not [page, created_at, id] is 400."""
    codec = _codec()
    signature = codec._signature("s", payload)
    with pytest.raises(InvalidCursor, match="malformed"):
        codec.decode("s", f"{_b64(payload)}.{_b64(signature)}")


def test_the_key_is_loaded_once_and_only_when_needed() -> None:
    loads: list[int] = []

    def load() -> bytes:
        loads.append(1)
        return b"k" * 32

    codec = CursorCodec(load)
    assert loads == []
    cursor = codec.encode("s", STATE)
    codec.decode("s", cursor)
    codec.encode("t", STATE)
    assert loads == [1]
