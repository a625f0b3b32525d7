"""DynamoDB access for echoes: every read is a GetItem or a Query on the caller's partition."""

import random
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from app.errors import account_erased
from app.store.account import ERASED_ATTRIBUTE
from app.store.records import (
    ALL,
    BY_CREATED_INDEX,
    BY_EMOTION_INDEX,
    BYTES_ATTRIBUTE,
    COUNTS_SK,
    LISTED_NAMES,
    LISTED_PROJECTION,
    EchoRecord,
    Item,
    PendingUpload,
    count_attribute,
    created_sort_key,
    echo_sk,
    emotion_partition,
    key,
    slot_sk,
    tag_prefix,
    tag_sk,
    upload_sk,
    user_pk,
)

MAX_TRANSACTION_ATTEMPTS = 5
MAX_RANDOM_ATTEMPTS = 3


class EchoAlreadyExists(Exception):
    def __init__(self, existing: EchoRecord) -> None:
        super().__init__(existing.echo_id)
        self.existing = existing


class UploadNotPending(Exception):
    """The pending upload record vanished (used by a concurrent create, or expired)."""


class ContentionError(Exception):
    """Too many concurrent writers on one user's counters; the caller may retry."""


class QuotaExceeded(Exception):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(what)
        self.what = what
        self.limit = limit


class VersionMismatch(Exception):
    """PATCH's If-Match named a version the echo no longer has."""

    def __init__(self, current: EchoRecord) -> None:
        super().__init__(current.echo_id)
        self.current = current


@dataclass(frozen=True)
class Quota:
    max_echoes: int
    max_bytes: int


@dataclass(frozen=True)
class Selection:
    """Which echoes a listing wants. The supported combinations are the ones a key condition can
    serve: emotion (its index) or tag (its items), each with optional created_at bounds
    (since inclusive, until exclusive, both in the stored timestamp format)."""

    emotion: str | None = None
    tag: str | None = None
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class PageKey:
    """Where a newest-first listing stopped: enough to rebuild DynamoDB's ExclusiveStartKey."""

    created_at: str
    echo_id: str


@dataclass(frozen=True)
class EchoSlice:
    records: list[EchoRecord]
    next_key: PageKey | None


def _cancellation_codes(error: ClientError) -> list[str]:
    return [reason.get("Code", "") for reason in error.response.get("CancellationReasons", [])]


def _is_cancelled(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "TransactionCanceledException"


class EchoStore:
    def __init__(
        self, client: Any, table_name: str, randbelow: Callable[[int], int] = secrets.randbelow
    ) -> None:
        self._client = client
        self._table = table_name
        self._randbelow = randbelow

    # --- single items -------------------------------------------------------------------------

    def _get(self, item_key: Item, consistent: bool = False) -> Item | None:
        response = self._client.get_item(TableName=self._table, Key=item_key, ConsistentRead=consistent)
        return response.get("Item")

    def put_pending_upload(self, user_id: str, upload: PendingUpload) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=upload.to_item(user_id),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_pending_upload(self, user_id: str, echo_id: str, now: int) -> PendingUpload | None:
        item = self._get(key(user_id, upload_sk(echo_id)), consistent=True)
        if item is None:
            return None
        upload = PendingUpload.from_item(item)
        # DynamoDB's TTL deletes lazily (up to days late), so expiry is enforced here too.
        return upload if upload.expires_at > now else None

    def get_echo(self, user_id: str, echo_id: str, consistent: bool = False) -> EchoRecord | None:
        item = self._get(key(user_id, echo_sk(echo_id)), consistent)
        return EchoRecord.from_item(item) if item else None

    def _counts(self, user_id: str, consistent: bool = True) -> dict[str, int]:
        item = self._get(key(user_id, COUNTS_SK), consistent) or {}
        if ERASED_ATTRIBUTE in item:  # the account is erased or being erased: refuse its token
            raise account_erased()
        return {name: int(value["N"]) for name, value in item.items() if "N" in value}

    def _totals(self, user_id: str, emotion: str) -> tuple[int, int]:
        """(all echoes, echoes of EMOTION), read consistently before a counter-conditioned write."""
        counts = self._counts(user_id)
        return counts.get(count_attribute(ALL), 0), counts.get(count_attribute(emotion), 0)

    def count(self, user_id: str, emotion: str | None = None) -> int:
        return self._counts(user_id, consistent=False).get(count_attribute(emotion or ALL), 0)

    def counts(self, user_id: str) -> dict[str, int]:
        """Every counter (total, per emotion, bytes): one GetItem."""
        return self._counts(user_id, consistent=False)

    def oldest_and_newest(self, user_id: str) -> tuple[str | None, str | None]:
        """created_at of the first and last echo: one single-key Query at each end of the index."""
        ends = []
        for forward in (True, False):
            response = self._client.query(
                TableName=self._table,
                IndexName=BY_CREATED_INDEX,
                KeyConditionExpression="gsi1pk = :p",
                ProjectionExpression="gsi1sk",
                ExpressionAttributeValues={":p": {"S": user_pk(user_id)}},
                ScanIndexForward=forward,
                Limit=1,
            )
            items = response.get("Items", [])
            ends.append(items[0]["gsi1sk"]["S"].split("#", 1)[0] if items else None)
        return ends[0], ends[1]

    def pending_uploads(self, user_id: str, now: int, limit: int) -> int:
        """Live pending uploads, counted up to `limit` (the quota): at most `limit` items read,
        plus expired ones DynamoDB's TTL has not removed yet."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :u)",
            "FilterExpression": "expires_at > :now",
            "ProjectionExpression": "sk",
            "ExpressionAttributeValues": {
                ":p": {"S": user_pk(user_id)},
                ":u": {"S": upload_sk("")},
                ":now": {"N": str(now)},
            },
        }
        found = 0
        while found < limit:
            response = self._client.query(**request)
            found += len(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found

    # --- create -------------------------------------------------------------------------------

    def create_echo(self, record: EchoRecord, quota: Quota | None = None) -> EchoRecord:
        """Store the echo, consume its pending upload and take the next slots, atomically."""
        for _ in range(MAX_TRANSACTION_ATTEMPTS):
            counts = self._counts(record.user_id)
            total = counts.get(count_attribute(ALL), 0)
            in_emotion = counts.get(count_attribute(record.emotion), 0)
            if quota is not None:
                self._check_quota(record, total, counts.get(BYTES_ATTRIBUTE, 0), quota)
            slotted = replace(record, slot=total + 1, emotion_slot=in_emotion + 1)
            try:
                self._client.transact_write_items(
                    TransactItems=self._create_operations(slotted, total, in_emotion)
                )
                return slotted
            except ClientError as error:
                if not _is_cancelled(error):
                    raise
                echo_or_upload_failed = "ConditionalCheckFailed" in _cancellation_codes(error)[:2]
                if echo_or_upload_failed:
                    existing = self.get_echo(record.user_id, record.echo_id, consistent=True)
                    if existing is not None:
                        raise EchoAlreadyExists(existing) from None
                    raise UploadNotPending(record.echo_id) from None
        raise ContentionError(record.user_id)

    def _check_quota(self, record: EchoRecord, total: int, used_bytes: int, quota: Quota) -> None:
        """From the counters create has just read: no extra request. The bytes are exact under
        races because every create and delete also conditions on the total it read."""
        if total >= quota.max_echoes:
            raise QuotaExceeded("echoes", quota.max_echoes)
        if used_bytes + record.file_size > quota.max_bytes:
            raise QuotaExceeded("bytes", quota.max_bytes)

    def _create_operations(self, record: EchoRecord, total: int, in_emotion: int) -> list[dict]:
        user_id = record.user_id
        return [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": record.to_item(),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": key(user_id, upload_sk(record.echo_id)),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            self._set_counts(
                user_id,
                {ALL: (total, total + 1), record.emotion: (in_emotion, in_emotion + 1)},
                add_bytes=record.file_size,
            ),
            self._put_slot(user_id, ALL, record.slot, record.echo_id),
            self._put_slot(user_id, record.emotion, record.emotion_slot, record.echo_id),
            *self._put_tags(record),
        ]

    def _set_counts(self, user_id: str, changes: dict[str, tuple[int, int]], add_bytes: int = 0) -> dict:
        """An update of the counters that succeeds only if they still hold what was read, and
        the account is not being erased."""
        names: dict[str, str] = {"#erased": ERASED_ATTRIBUTE}
        values: dict[str, dict[str, str]] = {}
        assignments, conditions = [], ["attribute_not_exists(#erased)"]
        for index, (group, (before, after)) in enumerate(changes.items()):
            names[f"#c{index}"] = count_attribute(group)
            values[f":a{index}"] = {"N": str(after)}
            assignments.append(f"#c{index} = :a{index}")
            if before == 0:
                values[f":b{index}"] = {"N": "0"}
                conditions.append(f"(attribute_not_exists(#c{index}) OR #c{index} = :b{index})")
            else:
                values[f":b{index}"] = {"N": str(before)}
                conditions.append(f"#c{index} = :b{index}")
        update = "SET " + ", ".join(assignments)
        if add_bytes:
            names["#bytes"] = BYTES_ATTRIBUTE
            values[":bytes"] = {"N": str(add_bytes)}
            update += " ADD #bytes :bytes"
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(user_id, COUNTS_SK),
                "UpdateExpression": update,
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _put_slot(self, user_id: str, group: str, slot: int, echo_id: str) -> dict:
        return {
            "Put": {
                "TableName": self._table,
                "Item": key(user_id, slot_sk(group, slot)) | {"echo_id": {"S": echo_id}},
            }
        }

    def _delete_slot(self, user_id: str, group: str, slot: int) -> dict:
        return {"Delete": {"TableName": self._table, "Key": key(user_id, slot_sk(group, slot))}}

    def _put_tags(self, record: EchoRecord) -> list[dict]:
        return [{"Put": {"TableName": self._table, "Item": item}} for item in record.tag_items()]

    def _delete_tags(self, record: EchoRecord, tags: tuple[str, ...]) -> list[dict]:
        return [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": key(record.user_id, tag_sk(tag, record.created_at, record.echo_id)),
                }
            }
            for tag in tags
        ]

    # --- delete -------------------------------------------------------------------------------

    def delete_echo(self, user_id: str, echo_id: str) -> EchoRecord | None:
        """Remove the echo and fill its slots with the last ones, so slots stay dense (1..n)."""
        for _ in range(MAX_TRANSACTION_ATTEMPTS):
            record = self.get_echo(user_id, echo_id, consistent=True)
            if record is None:
                return None
            try:
                self._client.transact_write_items(TransactItems=self._delete_operations(record))
                return record
            except ClientError as error:
                if not _is_cancelled(error):
                    raise
        raise ContentionError(user_id)

    def _delete_operations(self, record: EchoRecord) -> list[dict]:
        user_id = record.user_id
        total, in_emotion = self._totals(user_id, record.emotion)
        operations: list[dict] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": key(user_id, echo_sk(record.echo_id)),
                    # Unchanged since read: the tag items deleted below are the echo's tags.
                    "ConditionExpression": "#doc = :doc",
                    "ExpressionAttributeNames": {"#doc": "doc"},
                    "ExpressionAttributeValues": {":doc": {"S": record.doc()}},
                }
            },
            self._set_counts(
                user_id,
                {ALL: (total, total - 1), record.emotion: (in_emotion, in_emotion - 1)},
                add_bytes=-record.file_size,
            ),
            *self._delete_tags(record, record.tags),
        ]
        moved: dict[str, dict[str, int]] = {}  # echo id of a moved echo -> its new slot numbers
        for group, freed, last, attribute in (
            (ALL, record.slot, total, "slot"),
            (record.emotion, record.emotion_slot, in_emotion, "emotion_slot"),
        ):
            operations.append(self._delete_slot(user_id, group, last))
            if freed != last:
                last_echo_id = self._slot_echo_id(user_id, group, last)
                operations.append(self._put_slot(user_id, group, freed, last_echo_id))
                moved.setdefault(last_echo_id, {})[attribute] = freed
        for moved_id, new_slots in moved.items():
            operations.append(self._move_echo(user_id, moved_id, new_slots))
        return operations

    def _slot_echo_id(self, user_id: str, group: str, slot: int) -> str:
        item = self._get(key(user_id, slot_sk(group, slot)), consistent=True)
        if item is None:  # a concurrent writer changed the slots; the counter condition will fail
            raise ContentionError(user_id)
        return item["echo_id"]["S"]

    def _move_echo(self, user_id: str, echo_id: str, new_slots: dict[str, int]) -> dict:
        names = {f"#s{index}": name for index, name in enumerate(new_slots)}
        values = {f":s{index}": {"N": str(slot)} for index, slot in enumerate(new_slots.values())}
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(user_id, echo_sk(echo_id)),
                "UpdateExpression": "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(names))),
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    # --- update -------------------------------------------------------------------------------

    def update_echo(
        self,
        user_id: str,
        echo_id: str,
        change: Callable[[EchoRecord], EchoRecord],
        expected_versions: Collection[int] | None = None,
    ) -> EchoRecord | None:
        """Apply `change` to the echo as one transaction conditioned on everything read (the doc,
        its slot numbers and, when the emotion changes, both emotions' counters), so a
        concurrent PATCH or DELETE makes it retry rather than write over stale state."""
        for attempt in range(MAX_TRANSACTION_ATTEMPTS):
            current = self.get_echo(user_id, echo_id, consistent=True)
            if current is None:
                return None
            if expected_versions is not None and current.version not in expected_versions:
                raise VersionMismatch(current)
            updated = replace(change(current), version=current.version + 1)
            try:
                operations, updated = self._update_operations(current, updated)
                self._client.transact_write_items(TransactItems=operations)
                return updated
            except ContentionError:
                pass  # a slot read raced a concurrent writer: read everything again
            except ClientError as error:
                if not _is_cancelled(error):
                    raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))  # jittered exponential backoff
        raise ContentionError(user_id)

    def _update_operations(self, current: EchoRecord, updated: EchoRecord) -> tuple[list[dict], EchoRecord]:
        """The transaction, and the echo as it will be (its emotion slot may change)."""
        operations: list[dict] = []
        if updated.emotion != current.emotion:
            moves, new_slot = self._move_between_emotions(current, updated.emotion)
            operations += moves
            updated = replace(updated, emotion_slot=new_slot)
        operations.append(
            {
                "Put": {
                    "TableName": self._table,
                    "Item": updated.to_item(),
                    "ConditionExpression": "#doc = :doc AND #slot = :slot AND #eslot = :eslot",
                    "ExpressionAttributeNames": {
                        "#doc": "doc",
                        "#slot": "slot",
                        "#eslot": "emotion_slot",
                    },
                    "ExpressionAttributeValues": {
                        ":doc": {"S": current.doc()},
                        ":slot": {"N": str(current.slot)},
                        ":eslot": {"N": str(current.emotion_slot)},
                    },
                }
            }
        )
        removed = tuple(tag for tag in current.tags if tag not in updated.tags)
        return operations + self._delete_tags(current, removed) + self._put_tags(updated), updated

    def _move_between_emotions(self, current: EchoRecord, emotion: str) -> tuple[list[dict], int]:
        """Leave the old emotion's slots dense (its last echo fills the freed slot) and take the
        new emotion's next slot; both counters conditioned on what was read."""
        user_id = current.user_id
        counts = self._counts(user_id)
        in_old = counts.get(count_attribute(current.emotion), 0)
        in_new = counts.get(count_attribute(emotion), 0)
        operations = [
            self._set_counts(user_id, {current.emotion: (in_old, in_old - 1), emotion: (in_new, in_new + 1)}),
            self._delete_slot(user_id, current.emotion, in_old),
        ]
        if current.emotion_slot != in_old:
            last_echo_id = self._slot_echo_id(user_id, current.emotion, in_old)
            operations.append(self._put_slot(user_id, current.emotion, current.emotion_slot, last_echo_id))
            operations.append(self._move_echo(user_id, last_echo_id, {"emotion_slot": current.emotion_slot}))
        operations.append(self._put_slot(user_id, emotion, in_new + 1, current.echo_id))
        return operations, in_new + 1

    # --- reads ----------------------------------------------------------------------------------

    def _listing(
        self, user_id: str, selection: Selection
    ) -> tuple[dict[str, Any], Callable[[PageKey], Item]]:
        """The newest-first Query for a selection, and how a PageKey becomes its start key.
        Every variant is a key condition: the bounds narrow the sort key range, never a filter."""
        if selection.tag is not None:
            # The tag's items in the user's partition: sk = TAG#<tag>#<created_at>#<id>.
            prefix = tag_prefix(selection.tag)
            partition_name, sort_name, partition, index = "pk", "sk", user_pk(user_id), None
            lower = prefix + (selection.since or "")
            # '$' follows '#': the smallest string after every key of this tag (a quoted tag
            # holds no raw '$', so no other tag's items fall in between).
            upper = prefix + selection.until if selection.until else prefix[:-1] + "$"
        else:
            lower, upper = selection.since, selection.until
            if selection.emotion:
                index, partition_name, sort_name = BY_EMOTION_INDEX, "gsi2pk", "gsi2sk"
                partition = emotion_partition(user_id, selection.emotion)
            else:
                index, partition_name, sort_name = BY_CREATED_INDEX, "gsi1pk", "gsi1sk"
                partition = user_pk(user_id)
        # Sort keys are "<created_at>#<id>": "<bound>#<id>" >= "<bound>" (from is inclusive) and
        # "<until>#<id>" > "<until>" (to is exclusive, also as BETWEEN's inclusive upper end).
        condition, values = "#p = :p", {":p": {"S": partition}}
        if lower is not None and upper is not None:
            condition += " AND #s BETWEEN :lo AND :hi"
            values |= {":lo": {"S": lower}, ":hi": {"S": upper}}
        elif lower is not None:
            condition += " AND #s >= :lo"
            values[":lo"] = {"S": lower}
        elif upper is not None:
            condition += " AND #s < :hi"
            values[":hi"] = {"S": upper}
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ProjectionExpression": LISTED_PROJECTION,
            "ExpressionAttributeNames": {"#p": partition_name, "#s": sort_name, **LISTED_NAMES},
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if lower is None and upper is None:
            del request["ExpressionAttributeNames"]["#s"]  # DynamoDB refuses unused names
        if index is not None:
            request["IndexName"] = index

        def start_key(start: PageKey) -> Item:
            if selection.tag is not None:
                return key(user_id, tag_sk(selection.tag, start.created_at, start.echo_id))
            return key(user_id, echo_sk(start.echo_id)) | {
                partition_name: {"S": partition},
                sort_name: {"S": created_sort_key(start.created_at, start.echo_id)},
            }

        return request, start_key

    def random_echo(self, user_id: str, emotion: str | None = None) -> EchoRecord | None:
        """Uniform over the user's (matching) echoes, in three reads whatever their number."""
        group = emotion or ALL
        for _ in range(MAX_RANDOM_ATTEMPTS):
            total = self._counts(user_id, consistent=False).get(count_attribute(group), 0)
            if total == 0:
                return None
            slot = self._get(key(user_id, slot_sk(group, self._randbelow(total) + 1)))
            record = self.get_echo(user_id, slot["echo_id"]["S"]) if slot else None
            if record is not None:
                return record
        return None  # the user's echoes kept changing under us

    def newest_first(
        self, user_id: str, selection: Selection, limit: int, start: PageKey | None
    ) -> EchoSlice:
        """Up to `limit` echoes after `start`; next_key is set only when more follow."""
        request, start_key = self._listing(user_id, selection)
        if start is not None:
            request["ExclusiveStartKey"] = start_key(start)
        items: list[Item] = []
        # Ask for one more than needed: it tells whether another page exists without a second query.
        while len(items) <= limit:
            response = self._client.query(Limit=limit + 1 - len(items), **request)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        records = [EchoRecord.from_item(item) for item in items[:limit]]
        has_more = len(items) > limit
        next_key = PageKey(records[-1].created_at, records[-1].echo_id) if has_more else None
        return EchoSlice(records, next_key)
