"""Many echoes for one user, written directly (BatchWriteItem, PutObject) with exactly the layout
the app writes: echo items, dense slots per user and per emotion, counters (with bytes), tag items
and, when asked, audio objects. For tests and benchmarks that need thousands of echoes quickly.
With legacy=True, in the layout from before issue 12 instead (legacy_item)."""

import json
from dataclasses import dataclass
from typing import Any

from app.store.audio import audio_key
from app.store.records import (
    ALL,
    BYTES_ATTRIBUTE,
    COUNTS_SK,
    EchoRecord,
    Item,
    count_attribute,
    counters_index_keys,
    key,
    slot_sk,
)

EMOTIONS = ("calm", "joy", "hope", "love")
FILE_SIZE = 48_000


@dataclass(frozen=True)
class Seeded:
    echo_ids: list[str]
    tags: tuple[str, ...]  # every echo carries "rain"; every tenth also "night"


def echo_record(user_id: str, n: int) -> EchoRecord:
    """The n-th seeded echo: created one millisecond after the previous one."""
    emotion = EMOTIONS[n % len(EMOTIONS)]
    echo_id = f"00000000-0000-4000-8000-{n:012d}"
    created = f"2026-01-01T{n // 3_600_000:02d}:{n // 60_000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}Z"
    return EchoRecord(
        echo_id=echo_id,
        user_id=user_id,
        emotion=emotion,
        created_at=created,
        s3_key=audio_key(user_id, echo_id, "webm"),
        file_extension="webm",
        file_size=FILE_SIZE,
        content_type="audio/webm",
        tags=("rain", "night") if n % 10 == 0 else ("rain",),
        transcript="soft rain on leaves",
        detected_mood="serene",
        duration_seconds=12.5,
        location=None,
        recorded_at=created,
        request_hash="0" * 64,
    )


def legacy_item(record: EchoRecord) -> Item:
    """RECORD's item as the app wrote it before issue 12 (commit d8cd571 added the rest): the doc
    without recorded_at and version. Such echoes have no tag items and no bytes in the counters."""
    doc = {name: value for name, value in json.loads(record.doc()).items() if name not in _ISSUE_12}
    return record.to_item() | {"doc": {"S": json.dumps(doc, separators=(",", ":"))}}


_ISSUE_12 = ("recorded_at", "version")


def seed_echoes(
    dynamodb: Any,
    table: str,
    user_id: str,
    count: int,
    s3: Any = None,
    bucket: str = "",
    legacy: bool = False,
) -> Seeded:
    """COUNT echoes for USER_ID. With s3, each echo's audio object too (the bucket is versioned:
    every fifth object gets a second version and a delete marker on top, as edits and deletes
    leave behind). LEGACY: as stored before issue 12 (legacy_item, counters without bytes)."""
    items: list[Item] = []
    counts = {ALL: 0}
    ids = []
    for n in range(count):
        record = echo_record(user_id, n)
        counts[ALL] += 1
        counts[record.emotion] = counts.get(record.emotion, 0) + 1
        slotted = EchoRecord(
            **{**record.__dict__, "slot": counts[ALL], "emotion_slot": counts[record.emotion]}
        )
        ids.append(record.echo_id)
        items += [legacy_item(slotted)] if legacy else [slotted.to_item(), *slotted.tag_items()]
        items.append(key(user_id, slot_sk(ALL, counts[ALL])) | {"echo_id": {"S": record.echo_id}})
        items.append(
            key(user_id, slot_sk(record.emotion, counts[record.emotion])) | {"echo_id": {"S": record.echo_id}}
        )
        if s3 is not None:
            s3.put_object(Bucket=bucket, Key=record.s3_key, Body=b"\x1a\x45\xdf\xa3" * 8)
            if n % 5 == 0:
                s3.put_object(Bucket=bucket, Key=record.s3_key, Body=b"\x1a\x45\xdf\xa3" * 9)
                s3.delete_object(Bucket=bucket, Key=record.s3_key)
    items.append(
        key(user_id, COUNTS_SK)
        | counters_index_keys(user_id)
        | {count_attribute(group): {"N": str(n)} for group, n in counts.items()}
        | ({} if legacy else {BYTES_ATTRIBUTE: {"N": str(count * FILE_SIZE)}})
    )
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        unprocessed = {table: batch}
        while unprocessed:
            unprocessed = dynamodb.batch_write_item(RequestItems=unprocessed).get("UnprocessedItems") or {}
    return Seeded(ids, ("rain", "night"))
