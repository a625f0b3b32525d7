"""What must hold for one user's data after any mix of requests, failures and retries.

    python -m devtools.invariants USER_ID     (against the running local stack's endpoints)

check_user() reads the user's whole partition once (strongly consistent) and the user's S3 objects
(every object under audio/<sub>/ with its tags), then runs
every check in CHECKS over that snapshot. To add an invariant, write a
function Snapshot -> iterable of violation messages and append it to CHECKS.
"""

import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.store.audio import AUDIO_PREFIX, PENDING_TAG_KEY, PENDING_TAG_VALUE, STAGING_PREFIX
from app.store.records import (
    ALL,
    BYTES_ATTRIBUTE,
    COUNTS_SK,
    UPLOADS_SK,
    EchoRecord,
    Item,
    count_attribute,
    tag_sk,
    user_pk,
)
from app.store.uploads import COUNT_ATTRIBUTE, entries


@dataclass
class Snapshot:
    """One user's items by kind, and what S3 holds for each echo's object."""

    user_id: str
    echoes: dict[str, EchoRecord] = field(default_factory=dict)
    uploads: set[str] = field(default_factory=set)  # echo ids with a pending upload in the ledger
    pending_count: int = 0  # the ledger's count of its uploads
    counts: dict[str, int] = field(default_factory=dict)  # counter attribute -> value
    slots: dict[str, dict[int, str]] = field(default_factory=dict)  # group -> slot -> echo id
    tag_items: dict[str, str] = field(default_factory=dict)  # tag item sort key -> its doc
    other: list[str] = field(default_factory=list)  # sort keys of items no check knows
    # s3 key -> tags (None: absent), for every object under audio/<sub>/ and every echo's key
    objects: dict[str, set[str] | None] = field(default_factory=dict)
    upload_keys: dict[str, str] = field(default_factory=dict)  # pending upload's id -> its staging key


def _partition(client: Any, table: str, user_id: str) -> list[Item]:
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": user_pk(user_id)}},
        "ConsistentRead": True,
    }
    items: list[Item] = []
    while True:
        response = client.query(**request)
        items.extend(response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _object_tags(s3: Any, bucket: str, key: str) -> set[str] | None:
    try:
        tagging = s3.get_object_tagging(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey:
        return None
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return {f"{tag['Key']}={tag['Value']}" for tag in tagging["TagSet"]}


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The current objects under PREFIX (not older versions, not delete markers)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [entry["Key"] for page in pages for entry in page.get("Contents", [])]


def snapshot(dynamodb: Any, s3: Any, table: str, bucket: str, user_id: str) -> Snapshot:
    snap = Snapshot(user_id)
    for item in _partition(dynamodb, table, user_id):
        sort_key = item["sk"]["S"]
        kind, _, rest = sort_key.partition("#")
        if kind == "ECHO":
            snap.echoes[rest] = EchoRecord.from_item(item)
        elif sort_key == UPLOADS_SK:
            pending = entries(item)
            snap.uploads = set(pending)
            snap.upload_keys = {echo_id: upload.upload_key for echo_id, upload in pending.items()}
            snap.pending_count = int(item[COUNT_ATTRIBUTE]["N"])
        elif sort_key == COUNTS_SK:
            snap.counts = {name: int(value["N"]) for name, value in item.items() if "N" in value}
        elif kind == "TAG":
            snap.tag_items[sort_key] = item["doc"]["S"]
        elif kind == "SLOT":
            group, _, number = rest.rpartition("#")
            snap.slots.setdefault(group, {})[int(number)] = item["echo_id"]["S"]
        elif kind == "LIMIT":
            continue  # per-hour upload windows (app/store/limits.py): counts, not echo data
        else:
            snap.other.append(sort_key)
    listed = _keys(s3, bucket, f"{AUDIO_PREFIX}{user_id}/")
    for key in sorted(set(listed) | {record.s3_key for record in snap.echoes.values()}):
        snap.objects[key] = _object_tags(s3, bucket, key)
    return snap


def counters_match_echoes(snap: Snapshot) -> Iterable[str]:
    actual = Counter({ALL: len(snap.echoes)}) + Counter(r.emotion for r in snap.echoes.values())
    groups = set(actual) | {name.removeprefix("n_") for name in snap.counts if name.startswith("n_")}
    for group in sorted(groups | {ALL}):
        counted = snap.counts.get(count_attribute(group), 0)
        if counted != actual.get(group, 0):
            yield f"counter {count_attribute(group)} is {counted}, but {actual.get(group, 0)} echoes exist"


def slots_are_dense_and_point_back(snap: Snapshot) -> Iterable[str]:
    groups = set(snap.slots) | {ALL} | {r.emotion for r in snap.echoes.values()}
    for group in sorted(groups):
        members = [r for r in snap.echoes.values() if group in (ALL, r.emotion)]
        slots = snap.slots.get(group, {})
        if sorted(slots) != list(range(1, len(members) + 1)):
            yield f"slots of {group} are {sorted(slots)}, expected 1..{len(members)}"
        attribute = "slot" if group == ALL else "emotion_slot"
        for number, echo_id in sorted(slots.items()):
            record = snap.echoes.get(echo_id)
            if record is None:
                yield f"slot {group}#{number} names {echo_id}, which does not exist"
            elif getattr(record, attribute) != number:
                yield f"slot {group}#{number} names {echo_id}, whose {attribute} is {getattr(record, attribute)}"


def no_upload_record_for_an_echo(snap: Snapshot) -> Iterable[str]:
    for echo_id in sorted(snap.uploads & set(snap.echoes)):
        yield f"pending-upload record left for existing echo {echo_id}"


def pending_count_matches_the_ledger(snap: Snapshot) -> Iterable[str]:
    """The quota is checked against the count alone (app/store/uploads.py): it must be exact."""
    if snap.pending_count != len(snap.uploads):
        yield f"pending-upload count is {snap.pending_count}, but the ledger holds {len(snap.uploads)} uploads"


def every_echo_has_kept_audio(snap: Snapshot) -> Iterable[str]:
    pending = f"{PENDING_TAG_KEY}={PENDING_TAG_VALUE}"
    for record in snap.echoes.values():
        tags = snap.objects.get(record.s3_key)
        if tags is None:
            yield f"echo {record.echo_id}: its audio {record.s3_key} does not exist"
        elif pending in tags:
            yield f"echo {record.echo_id}: its audio is still tagged {pending} (the lifecycle rule would delete it)"


def audio_without_an_echo_expires(snap: Snapshot) -> Iterable[str]:
    """An object under audio/<sub>/ that no echo owns must be tagged pending (the lifecycle rule
    expires it): left untagged, it would stay for ever (a create that failed after its copy)."""
    pending = f"{PENDING_TAG_KEY}={PENDING_TAG_VALUE}"
    owned = {record.s3_key for record in snap.echoes.values()}
    for key, tags in sorted(snap.objects.items()):
        if key not in owned and tags is not None and pending not in tags:
            yield f"object {key} belongs to no echo and is not tagged {pending}: nothing would remove it"


def echoes_own_audio_under_their_prefix(snap: Snapshot) -> Iterable[str]:
    """An echo's audio is the API's copy under audio/<sub>/, never the staging key, which clients
    can overwrite and the lifecycle rule expires."""
    for record in snap.echoes.values():
        if not record.s3_key.startswith(f"{AUDIO_PREFIX}{snap.user_id}/"):
            yield f"echo {record.echo_id}: its audio {record.s3_key} is outside {AUDIO_PREFIX}{snap.user_id}/"


def uploads_stage_under_the_users_prefix(snap: Snapshot) -> Iterable[str]:
    """A pending upload's URL writes uploads/<sub>/<its id>.<extension>, the user's own staging
    key."""
    for echo_id, upload_key in sorted(snap.upload_keys.items()):
        if not upload_key.startswith(f"{STAGING_PREFIX}{snap.user_id}/{echo_id}."):
            yield f"pending upload {echo_id} stages at {upload_key}, not under {STAGING_PREFIX}{snap.user_id}/"


def bytes_match_echoes(snap: Snapshot) -> Iterable[str]:
    counted, actual = snap.counts.get(BYTES_ATTRIBUTE, 0), sum(r.file_size for r in snap.echoes.values())
    if counted != actual:
        yield f"counter {BYTES_ATTRIBUTE} is {counted}, but the echoes hold {actual} bytes"


def tag_items_match_echoes(snap: Snapshot) -> Iterable[str]:
    """One tag item per tag of each echo, holding the echo's current doc, and no other."""
    wanted = {
        tag_sk(tag, record.created_at, record.echo_id): record
        for record in snap.echoes.values()
        for tag in record.tags
    }
    for sort_key, doc in sorted(snap.tag_items.items()):
        record = wanted.get(sort_key)
        if record is None:
            yield f"tag item {sort_key} belongs to no tag of an existing echo"
        elif doc != record.doc():
            yield f"tag item {sort_key} holds a stale copy of echo {record.echo_id} (version {record.version})"
    for sort_key in sorted(set(wanted) - set(snap.tag_items)):
        yield f"tag item {sort_key} is missing"


def versions_are_positive(snap: Snapshot) -> Iterable[str]:
    for record in snap.echoes.values():
        if record.version < 1:
            yield f"echo {record.echo_id} has version {record.version}"


def no_unknown_items(snap: Snapshot) -> Iterable[str]:
    for sort_key in snap.other:
        yield f"unexpected item {sort_key}"


CHECKS: list[Callable[[Snapshot], Iterable[str]]] = [
    counters_match_echoes,
    slots_are_dense_and_point_back,
    no_upload_record_for_an_echo,
    pending_count_matches_the_ledger,
    every_echo_has_kept_audio,
    audio_without_an_echo_expires,
    echoes_own_audio_under_their_prefix,
    uploads_stage_under_the_users_prefix,
    bytes_match_echoes,
    tag_items_match_echoes,
    versions_are_positive,
    no_unknown_items,
]


def violations(snap: Snapshot) -> list[str]:
    return [message for check in CHECKS for message in check(snap)]


def check_user(dynamodb: Any, s3: Any, table: str, bucket: str, user_id: str) -> list[str]:
    """Every violated invariant for USER_ID, as readable messages (empty when all hold)."""
    return violations(snapshot(dynamodb, s3, table, bucket, user_id))


def main(argv: list[str]) -> int:
    import json

    import boto3

    from devtools.local_stack import STATE_FILE

    if len(argv) != 1 or not STATE_FILE.exists():
        print(
            "usage: python -m devtools.invariants USER_ID   (with ./scripts/local.sh running)",
            file=sys.stderr,
        )
        return 2
    state = json.loads(STATE_FILE.read_text())
    session = boto3.session.Session(region_name=state["region"])
    found = check_user(
        session.client("dynamodb", endpoint_url=state.get("dynamodb_endpoint") or state["endpoint"]),
        session.client("s3", endpoint_url=state["endpoint"]),
        state["table_name"],
        state["bucket_name"],
        argv[0],
    )
    print("\n".join(found) or "all invariants hold")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
