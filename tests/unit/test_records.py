"""Records <-> DynamoDB items (app/store/records.py): keys, the "doc" attribute, round trips."""

import json
from dataclasses import replace

import pytest

from app.store import records
from app.store.records import EchoRecord, PendingUpload

ECHO = EchoRecord(
    echo_id="e1",
    user_id="u1",
    emotion="happy",
    created_at="2026-11-25T13:07:09.123456Z",
    s3_key="audio/u1/e1.webm",
    file_extension="webm",
    file_size=12345,
    content_type="audio/webm",
    tags=("morning", "été"),
    transcript=None,
    detected_mood=None,
    duration_seconds=1.5,
    location={"lat": 48.85, "lng": 2.35, "address": "Paris"},
    request_hash="h",
    slot=7,
    emotion_slot=2,
)


def test_echo_round_trips_through_its_item() -> None:
    assert EchoRecord.from_item(ECHO.to_item()) == ECHO


def test_echo_item_keys_and_index_keys() -> None:
    item = ECHO.to_item()
    assert item["pk"] == {"S": "USER#u1"} and item["sk"] == {"S": "ECHO#e1"}
    assert item["gsi1pk"] == {"S": "USER#u1"}
    assert item["gsi2pk"] == {"S": "USER#u1#EMOTION#happy"}
    # Newest first sorts on created_at, ties broken by id: both index sort keys carry both.
    assert item["gsi1sk"] == item["gsi2sk"] == {"S": "2026-11-25T13:07:09.123456Z#e1"}
    assert item["slot"] == {"N": "7"} and item["emotion_slot"] == {"N": "2"}


def test_the_doc_holds_the_content_and_nothing_kept_elsewhere() -> None:
    doc = json.loads(ECHO.to_item()["doc"]["S"])
    assert set(doc) == {
        "echo_id",
        "emotion",
        "created_at",
        "s3_key",
        "file_extension",
        "file_size",
        "content_type",
        "tags",
        "transcript",
        "detected_mood",
        "duration_seconds",
        "location",
        "recorded_at",
        "version",
    }
    assert doc["tags"] == ["morning", "été"] and doc["transcript"] is None


def test_an_echo_stored_before_recorded_at_existed_reads_as_recorded_when_created() -> None:
    item = ECHO.to_item()
    doc = json.loads(item["doc"]["S"])
    del doc["recorded_at"]
    item["doc"] = {"S": json.dumps(doc)}
    assert EchoRecord.from_item(item).recorded_at == ECHO.created_at


def test_one_tag_item_per_tag_carrying_the_doc() -> None:
    record = replace(ECHO, tags=("a#b", "a"))
    items = record.tag_items()
    assert [item["sk"]["S"] for item in items] == [
        "TAG#a%23b#2026-11-25T13:07:09.123456Z#e1",  # '#' encoded: tag "a" cannot match "a#b"'s items
        "TAG#a#2026-11-25T13:07:09.123456Z#e1",
    ]
    assert all(item["pk"] == {"S": "USER#u1"} and item["doc"] == {"S": record.doc()} for item in items)
    assert not any(item["sk"]["S"].startswith(records.tag_prefix("a")) for item in items[:1])


def test_a_listed_item_has_no_bookkeeping_and_reads_with_defaults() -> None:
    """A listing projects LISTED_ATTRIBUTES only: request_hash and the slots are absent (and the
    counters' attributes, which an echo item does not have)."""
    full = ECHO.to_item()
    listed = {name: full[name] for name in records.LISTED_ATTRIBUTES if name in full}
    assert set(listed) == {"doc"}, "not even the key: the caller names the owner"
    assert not records.is_counters(listed)
    expected = replace(ECHO, request_hash="", slot=0, emotion_slot=0)
    assert EchoRecord.from_item(listed, ECHO.user_id) == expected


def test_listed_projection_uses_placeholders_for_every_attribute() -> None:
    assert set(records.LISTED_NAMES.values()) == set(records.LISTED_ATTRIBUTES)
    assert records.LISTED_PROJECTION.split(", ") == list(records.LISTED_NAMES)


def test_tags_come_back_as_the_tuple_the_record_declares() -> None:
    back = EchoRecord.from_item(ECHO.to_item())
    assert isinstance(back.tags, tuple) and back.tags == ("morning", "été")


def test_a_user_id_containing_the_separator_stays_whole() -> None:
    record = replace(ECHO, user_id="a#b")
    assert EchoRecord.from_item(record.to_item()).user_id == "a#b"


@pytest.mark.parametrize("duration", [0.1, 1e-7, 123456.789])
def test_float_numbers_keep_their_value(duration: float) -> None:
    record = replace(ECHO, duration_seconds=duration)
    assert EchoRecord.from_item(record.to_item()).duration_seconds == duration


def test_pending_upload_round_trips_as_a_ledger_entry() -> None:
    upload = PendingUpload(
        "e1", "audio/u1/e1.wav", "audio/wav", "wav", expires_at=1_800_000_000, upload_key="uploads/u1/e1.wav"
    )
    entry = upload.to_entry()
    assert entry["M"]["expires_at"] == {"N": "1800000000"}
    assert PendingUpload.from_entry("e1", entry) == upload


@pytest.mark.parametrize(
    ("group", "attribute", "slot_key"),
    [("ALL", "total", "SLOT#ALL#3"), ("happy", "n_happy", "SLOT#happy#3")],
)
def test_slot_keys_and_count_attributes(group: str, attribute: str, slot_key: str) -> None:
    assert records.count_attribute(group) == attribute
    assert records.slot_sk(group, 3) == slot_key


def test_the_health_probe_key_can_never_be_a_users_item() -> None:
    assert not records.HEALTH_PROBE_KEY["pk"]["S"].startswith("USER#")
