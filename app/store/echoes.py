"""DynamoDB access for echoes: every read is a GetItem or a Query on the caller's partition."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from app.store.records import (
    ALL,
    BY_CREATED_INDEX,
    BY_EMOTION_INDEX,
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
        return {name: int(value["N"]) for name, value in item.items() if "N" in value}

    def _totals(self, user_id: str, emotion: str) -> tuple[int, int]:
        """(all echoes, echoes of EMOTION), read consistently before a counter-conditioned write."""
        counts = self._counts(user_id)
        return counts.get(count_attribute(ALL), 0), counts.get(count_attribute(emotion), 0)

    def count(self, user_id: str, emotion: str | None = None) -> int:
        return self._counts(user_id, consistent=False).get(count_attribute(emotion or ALL), 0)

    # --- create -------------------------------------------------------------------------------

    def create_echo(self, record: EchoRecord) -> EchoRecord:
        """Store the echo, consume its pending upload and take the next slots, atomically."""
        for _ in range(MAX_TRANSACTION_ATTEMPTS):
            total, in_emotion = self._totals(record.user_id, record.emotion)
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
                user_id, {ALL: (total, total + 1), record.emotion: (in_emotion, in_emotion + 1)}
            ),
            self._put_slot(user_id, ALL, record.slot, record.echo_id),
            self._put_slot(user_id, record.emotion, record.emotion_slot, record.echo_id),
        ]

    def _set_counts(self, user_id: str, changes: dict[str, tuple[int, int]]) -> dict:
        """An update of the counters that succeeds only if they still hold what was read."""
        names: dict[str, str] = {}
        values: dict[str, dict[str, str]] = {}
        assignments, conditions = [], []
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
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(user_id, COUNTS_SK),
                "UpdateExpression": "SET " + ", ".join(assignments),
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
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            self._set_counts(
                user_id, {ALL: (total, total - 1), record.emotion: (in_emotion, in_emotion - 1)}
            ),
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

    # --- reads ----------------------------------------------------------------------------------

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

    def newest_first(self, user_id: str, emotion: str | None, limit: int, start: PageKey | None) -> EchoSlice:
        """Up to `limit` echoes after `start`; next_key is set only when more follow."""
        if emotion:
            index, partition_name, sort_name = BY_EMOTION_INDEX, "gsi2pk", "gsi2sk"
            partition = emotion_partition(user_id, emotion)
        else:
            index, partition_name, sort_name = BY_CREATED_INDEX, "gsi1pk", "gsi1sk"
            partition = user_pk(user_id)
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#p = :p",
            "ProjectionExpression": LISTED_PROJECTION,
            "ExpressionAttributeNames": {"#p": partition_name, **LISTED_NAMES},
            "ExpressionAttributeValues": {":p": {"S": partition}},
            "ScanIndexForward": False,
        }
        if start is not None:
            request["ExclusiveStartKey"] = key(user_id, echo_sk(start.echo_id)) | {
                partition_name: {"S": partition},
                sort_name: {"S": created_sort_key(start.created_at, start.echo_id)},
            }
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
