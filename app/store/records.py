"""What the store keeps, and how it maps to DynamoDB items.

One table, keyed by user, so a query can never cross users:
  pk=USER#<sub>  sk=ECHO#<id>           the echo (+ GSI keys for newest-first lists)
  pk=USER#<sub>  sk=UPLOADS              the pending uploads: one attribute each, and their number
  pk=USER#<sub>  sk=COUNTS              total and per-emotion counts (+ GSI keys: the top of
                                        the newest-first index, read with a list's first page)
  pk=USER#<sub>  sk=SLOT#ALL#<n>        the echo in slot n of 1..total (for uniform random picks)
  pk=USER#<sub>  sk=SLOT#<emotion>#<n>  the same per emotion
  pk=USER#<sub>  sk=TAG#<tag>#<created_at>#<id>  one per tag of an echo, holding the echo's doc
"""

import json
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import quote

Item = dict[str, dict[str, Any]]

BY_CREATED_INDEX = "by_created"
BY_EMOTION_INDEX = "by_emotion_created"
ALL = "ALL"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def echo_sk(echo_id: str) -> str:
    return f"ECHO#{echo_id}"


COUNTS_SK = "COUNTS"
ERASED_ATTRIBUTE = "erased_at"  # on the counters item: the account is (being) erased
UPLOADS_SK = "UPLOADS"  # the pending-upload ledger (app/store/uploads.py)
BYTES_ATTRIBUTE = "bytes"  # on the counters item: audio bytes of all the user's echoes
HEALTH_PROBE_KEY: Item = {"pk": {"S": "HEALTH"}, "sk": {"S": "PROBE"}}  # never written: not USER#
# What a listing reads. An echo's content is one JSON attribute ("doc") rather than one attribute
# per field: botocore parses every attribute through its shape model, which was most of the cost
# of listing 20 echoes; nothing filters on these fields server-side (emotion is in the index keys).
# Not the key: the caller knows whose partition it lists. The counters item heads the by_created
# index (counters_index_keys): its total and erasure mark come with a first page; echo items have
# neither attribute, so they cost nothing there.
LISTED_ATTRIBUTES = ("doc", "total", ERASED_ATTRIBUTE)
# The same as a projection through placeholders (immune to DynamoDB's reserved words), built once.
LISTED_NAMES = {f"#a{i}": name for i, name in enumerate(LISTED_ATTRIBUTES)}
LISTED_PROJECTION = ", ".join(LISTED_NAMES)


def tag_prefix(tag: str) -> str:
    """Where a tag's items start. The tag is percent-encoded so that a '#' inside it cannot make
    one tag's prefix match another's items."""
    return f"TAG#{quote(tag, safe='')}#"


def tag_sk(tag: str, created_at: str, echo_id: str) -> str:
    return tag_prefix(tag) + created_sort_key(created_at, echo_id)


def slot_sk(group: str, slot: int) -> str:
    return f"SLOT#{group}#{slot}"


def count_attribute(group: str) -> str:
    return "total" if group == ALL else f"n_{group}"


def emotion_partition(user_id: str, emotion: str) -> str:
    return f"USER#{user_id}#EMOTION#{emotion}"


def created_sort_key(created_at: str, echo_id: str) -> str:
    return f"{created_at}#{echo_id}"


def key(user_id: str, sort_key: str) -> Item:
    return {"pk": {"S": user_pk(user_id)}, "sk": {"S": sort_key}}


def counters_index_keys(user_id: str) -> Item:
    """The counters item's by_created keys, which every write of it sets: an echo's index sort key
    starts with its created_at, a digit, so "COUNTS" sorts after all of them, and a newest-first
    Query from the top (a list's first page) meets the counters first: one round trip, not two."""
    return {"gsi1pk": _s(user_pk(user_id)), "gsi1sk": _s(COUNTS_SK)}


def is_counters(item: Item) -> bool:
    """Whether a listed item is the counters item (it has no doc) rather than an echo."""
    return "doc" not in item


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


@dataclass(frozen=True)
class PendingUpload:
    """An upload URL handed out and not yet used: an entry of the user's ledger item."""

    echo_id: str
    s3_key: str  # the echo's audio, once created
    content_type: str
    file_extension: str
    expires_at: int
    upload_key: str  # where the client uploads: the staging key

    def to_entry(self) -> dict[str, Any]:
        """The entry's value: a map attribute of the ledger (its name holds the echo id)."""
        return {
            "M": {
                "s3_key": _s(self.s3_key),
                "content_type": _s(self.content_type),
                "file_extension": _s(self.file_extension),
                "expires_at": _n(self.expires_at),
                "upload_key": _s(self.upload_key),
            }
        }

    @classmethod
    def from_entry(cls, echo_id: str, value: dict[str, Any]) -> "PendingUpload":
        entry = value["M"]
        return cls(
            echo_id=echo_id,
            s3_key=entry["s3_key"]["S"],
            content_type=entry["content_type"]["S"],
            file_extension=entry["file_extension"]["S"],
            expires_at=int(entry["expires_at"]["N"]),
            upload_key=entry["upload_key"]["S"],
        )


@dataclass(frozen=True)
class EchoRecord:
    echo_id: str
    user_id: str
    emotion: str
    created_at: str
    s3_key: str
    file_extension: str
    file_size: int
    content_type: str
    tags: tuple[str, ...]
    transcript: str | None
    detected_mood: str | None
    duration_seconds: float | None
    location: dict[str, Any] | None
    recorded_at: str = ""  # when the sound was recorded; created_at unless given
    version: int = 1  # +1 on every change of the doc (PATCH); the ETag is derived from it
    # Bookkeeping, absent from listings (LISTED_ATTRIBUTES): they read only what responses show.
    request_hash: str = ""
    slot: int = 0
    emotion_slot: int = 0
    # The doc exactly as read from the table ("" for a record built in code): what a write that
    # must find the echo unchanged conditions on. Not doc(), which fills in fields old docs lack.
    stored_doc: str = field(default="", compare=False, repr=False)
    # Stored before version/recorded_at existed (issue 12): it has no tag items and its bytes are
    # not in the counters. A PATCH upgrades it (tag items written, bytes added), a delete does not
    # subtract bytes it never added, and devtools/backfill.py upgrades the rest.
    legacy: bool = False

    def doc(self) -> str:
        return json.dumps({name: getattr(self, name) for name in _CONTENT}, separators=(",", ":"))

    def tag_items(self) -> list[Item]:
        """One item per tag: a page of a tag's echoes is one Query of these, docs included."""
        return [
            key(self.user_id, tag_sk(tag, self.created_at, self.echo_id)) | {"doc": _s(self.doc())}
            for tag in self.tags
        ]

    def to_item(self) -> Item:
        created = created_sort_key(self.created_at, self.echo_id)
        return key(self.user_id, echo_sk(self.echo_id)) | {
            "gsi1pk": _s(user_pk(self.user_id)),
            "gsi1sk": _s(created),
            "gsi2pk": _s(emotion_partition(self.user_id, self.emotion)),
            "gsi2sk": _s(created),
            "doc": _s(self.doc()),
            "request_hash": _s(self.request_hash),
            "slot": _n(self.slot),
            "emotion_slot": _n(self.emotion_slot),
        }

    @classmethod
    def from_item(cls, item: Item, user_id: str | None = None) -> "EchoRecord":
        """USER_ID: the owner, for an item read without its key (LISTED_ATTRIBUTES)."""
        stored_doc = item["doc"]["S"]
        content = json.loads(stored_doc)
        content["tags"] = tuple(content["tags"])
        legacy = "version" not in content  # both fields came with issue 12: neither is in old docs
        content.setdefault("recorded_at", content["created_at"])
        return cls(
            user_id=item["pk"]["S"].removeprefix("USER#") if user_id is None else user_id,
            request_hash=item["request_hash"]["S"] if "request_hash" in item else "",
            slot=int(item["slot"]["N"]) if "slot" in item else 0,
            emotion_slot=int(item["emotion_slot"]["N"]) if "emotion_slot" in item else 0,
            stored_doc=stored_doc,
            legacy=legacy,
            **content,
        )


# Everything else is the "doc": the user id is in the key, the bookkeeping has attributes of its own.
_OUTSIDE_DOC = {"user_id", "request_hash", "slot", "emotion_slot", "stored_doc", "legacy"}
_CONTENT = tuple(field.name for field in fields(EchoRecord) if field.name not in _OUTSIDE_DOC)
