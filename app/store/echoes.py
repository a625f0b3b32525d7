"""DynamoDB access for echoes: every read is a GetItem or a Query on the caller's partition."""

import secrets
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
from app.store.retry import Backoff

MAX_RANDOM_ATTEMPTS = 3
# Why DynamoDB cancels a transaction, per item (CancellationReasons[].Code).
CONDITION_FAILED = "ConditionalCheckFailed"


class EchoAlreadyExists(Exception):
    def __init__(self, existing: EchoRecord) -> None:
        super().__init__(existing.echo_id)
        self.existing = existing


class UploadNotPending(Exception):
    """The pending upload record vanished (used by a concurrent create, or expired)."""


class ContentionError(Exception):
    """Concurrent writers on one user's items kept winning until the request's budget ran out."""


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


class _Stale(Exception):
    """What an attempt read changed before it could write: read again and retry."""


class _Cancelled(_Stale):
    """DynamoDB cancelled the transaction: a condition on what was read failed, or a conflict."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__(codes)
        self.codes = codes


@dataclass(frozen=True)
class PageKey:
    """Where a newest-first listing stopped: enough to rebuild DynamoDB's ExclusiveStartKey."""

    created_at: str
    echo_id: str


@dataclass(frozen=True)
class EchoSlice:
    records: list[EchoRecord]
    next_key: PageKey | None


# A moved echo's slot attributes: attribute -> (slot it had when read, slot it gets).
SlotMoves = dict[str, dict[str, tuple[int, int]]]


def _parse_counts(item: Item | None) -> dict[str, int]:
    if item is not None and ERASED_ATTRIBUTE in item:  # the account is (being) erased: refuse its token
        raise account_erased()
    return {name: int(value["N"]) for name, value in (item or {}).items() if "N" in value}


class EchoStore:
    """Every write is optimistic: read what it depends on, then one transaction conditioned on all
    of it (counters, slot items and the slot fields of the echoes involved), retried with backoff
    when a concurrent writer got there first. Slots stay dense: 1..n per group, each slot item
    naming an echo whose slot field names it back."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        randbelow: Callable[[int], int] = secrets.randbelow,
        backoff: Backoff | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._randbelow = randbelow
        self._backoff = backoff or Backoff()

    # --- single items -------------------------------------------------------------------------

    def _get(self, item_key: Item, consistent: bool = False) -> Item | None:
        response = self._client.get_item(TableName=self._table, Key=item_key, ConsistentRead=consistent)
        item: Item | None = response.get("Item")
        return item

    def _get_consistent(self, keys: list[Item]) -> list[Item | None]:
        """Several items in one round trip (strongly consistent), in the order of KEYS. Not a
        snapshot: the transaction that follows is conditioned on what was read instead."""
        response = self._client.batch_get_item(
            RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
        )
        if response.get("UnprocessedKeys"):  # throttled in part: read again after a pause
            raise _Stale()
        found = {(item["pk"]["S"], item["sk"]["S"]): item for item in response["Responses"][self._table]}
        return [found.get((k["pk"]["S"], k["sk"]["S"])) for k in keys]

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
        return _parse_counts(self._get(key(user_id, COUNTS_SK), consistent))

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
        """Live pending uploads, counted up to `limit` (the quota): at most `limit` live items
        read, plus expired ones DynamoDB's TTL has not removed yet."""
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

    # --- optimistic writes ----------------------------------------------------------------------

    def _retrying[T](self, attempt: Callable[[], T], user_id: str) -> T:
        """Run ATTEMPT (consistent reads, then one conditioned transaction) until it is not stale."""
        for _ in self._backoff.attempts():
            try:
                return attempt()
            except _Stale:
                continue
        raise ContentionError(user_id)

    def _write(self, operations: list[dict[str, Any]]) -> None:
        try:
            self._client.transact_write_items(TransactItems=operations)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                reasons = error.response.get("CancellationReasons", [])
                raise _Cancelled([reason.get("Code", "") for reason in reasons]) from None
            raise

    # --- transaction pieces (each conditioned on what was read) ---------------------------------

    def _set_counts(
        self, user_id: str, changes: dict[str, tuple[int, int]], add_bytes: int = 0
    ) -> dict[str, Any]:
        """Set counters (group -> (value read, new value)) only if they still hold what was read
        and the account is not being erased; ADD add_bytes to the audio bytes."""
        names: dict[str, str] = {"#erased": ERASED_ATTRIBUTE}
        values: dict[str, dict[str, str]] = {}
        assignments, conditions = [], ["attribute_not_exists(#erased)"]
        for index, (group, (before, after)) in enumerate(changes.items()):
            names[f"#c{index}"] = count_attribute(group)
            values[f":a{index}"] = {"N": str(after)}
            values[f":b{index}"] = {"N": str(before)}
            assignments.append(f"#c{index} = :a{index}")
            if before == 0:
                conditions.append(f"(attribute_not_exists(#c{index}) OR #c{index} = :b{index})")
            else:
                conditions.append(f"#c{index} = :b{index}")
        clauses = ["SET " + ", ".join(assignments)] if assignments else []
        if add_bytes:
            names["#bytes"] = BYTES_ATTRIBUTE
            values[":bytes"] = {"N": str(add_bytes)}
            clauses.append("ADD #bytes :bytes")
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(user_id, COUNTS_SK),
                "UpdateExpression": " ".join(clauses),
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _put_slot(
        self, user_id: str, group: str, slot: int, echo_id: str, holder: str | None
    ) -> dict[str, Any]:
        """Point SLOT at ECHO_ID, if the slot still names HOLDER (None: if it is still free)."""
        operation: dict[str, Any] = {
            "TableName": self._table,
            "Item": key(user_id, slot_sk(group, slot)) | {"echo_id": {"S": echo_id}},
        }
        if holder is None:
            operation["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            operation["ConditionExpression"] = "echo_id = :holder"
            operation["ExpressionAttributeValues"] = {":holder": {"S": holder}}
        return {"Put": operation}

    def _delete_slot(self, user_id: str, group: str, slot: int, holder: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": key(user_id, slot_sk(group, slot)),
                "ConditionExpression": "echo_id = :holder",
                "ExpressionAttributeValues": {":holder": {"S": holder}},
            }
        }

    def _put_tags(self, record: EchoRecord) -> list[dict[str, Any]]:
        return [{"Put": {"TableName": self._table, "Item": item}} for item in record.tag_items()]

    def _delete_tags(self, record: EchoRecord, tags: tuple[str, ...]) -> list[dict[str, Any]]:
        return [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": key(record.user_id, tag_sk(tag, record.created_at, record.echo_id)),
                }
            }
            for tag in tags
        ]

    def _slot_holders(self, user_id: str, slots: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The echo ids in (group, slot) SLOTS, read in one round trip."""
        if not slots:
            return {}
        items = self._get_consistent([key(user_id, slot_sk(group, slot)) for group, slot in slots])
        if any(item is None for item in items):  # a concurrent writer moved it since the counters were read
            raise _Stale()
        return {slot: item["echo_id"]["S"] for slot, item in zip(slots, items, strict=True) if item}

    def _take_slot(self, user_id: str, group: str, count_before: int, echo_id: str) -> dict[str, Any]:
        """Append ECHO_ID to GROUP's slots: slot count_before + 1, which must still be free."""
        return self._put_slot(user_id, group, count_before + 1, echo_id, holder=None)

    def _release_slot(
        self,
        user_id: str,
        group: str,
        attribute: str,
        slot: int,
        last: int,
        echo_id: str,
        holders: dict[tuple[str, int], str],
        moves: SlotMoves,
    ) -> list[dict[str, Any]]:
        """Free ECHO_ID's SLOT in GROUP by moving the echo in the LAST slot (named in HOLDERS) into
        it, recorded in MOVES for _move_echoes, so that slots stay 1..n."""
        if slot == last:
            return [self._delete_slot(user_id, group, last, holder=echo_id)]
        last_echo_id = holders[(group, last)]
        if last_echo_id == echo_id:  # its slot field and the slot items disagree: read again
            raise _Stale()
        moves.setdefault(last_echo_id, {})[attribute] = (last, slot)
        return [
            self._delete_slot(user_id, group, last, holder=last_echo_id),
            self._put_slot(user_id, group, slot, last_echo_id, holder=echo_id),
        ]

    def _move_echoes(self, user_id: str, moves: SlotMoves) -> list[dict[str, Any]]:
        """Update the slot fields of moved echoes, if they still hold the slots they were read in."""
        operations = []
        for echo_id, changes in moves.items():
            names = {f"#s{i}": attribute for i, attribute in enumerate(changes)}
            values: dict[str, dict[str, str]] = {}
            for i, (before, after) in enumerate(changes.values()):
                values[f":b{i}"] = {"N": str(before)}
                values[f":a{i}"] = {"N": str(after)}
            operations.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": key(user_id, echo_sk(echo_id)),
                        "UpdateExpression": "SET " + ", ".join(f"#s{i} = :a{i}" for i in range(len(names))),
                        "ConditionExpression": " AND ".join(f"#s{i} = :b{i}" for i in range(len(names))),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        return operations

    # --- create -------------------------------------------------------------------------------

    def create_echo(self, record: EchoRecord, quota: Quota | None = None) -> EchoRecord:
        """Store the echo, consume its pending upload and take the next slots, atomically."""
        return self._retrying(lambda: self._create_once(record, quota), record.user_id)

    def _create_once(self, record: EchoRecord, quota: Quota | None) -> EchoRecord:
        user_id, emotion = record.user_id, record.emotion
        counts = self._counts(user_id)
        total, in_emotion = counts.get(count_attribute(ALL), 0), counts.get(count_attribute(emotion), 0)
        if quota is not None:
            _check_quota(record, total, counts.get(BYTES_ATTRIBUTE, 0), quota)
        slotted = replace(record, slot=total + 1, emotion_slot=in_emotion + 1)
        operations = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": slotted.to_item(),
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
                {ALL: (total, total + 1), emotion: (in_emotion, in_emotion + 1)},
                add_bytes=record.file_size,
            ),
            self._take_slot(user_id, ALL, total, record.echo_id),
            self._take_slot(user_id, emotion, in_emotion, record.echo_id),
            *self._put_tags(record),
        ]
        try:
            self._write(operations)
        except _Cancelled as cancelled:
            if CONDITION_FAILED in cancelled.codes[:2]:  # the echo exists, or the upload is gone
                existing = self.get_echo(user_id, record.echo_id, consistent=True)
                if existing is not None:
                    raise EchoAlreadyExists(existing) from None
                raise UploadNotPending(record.echo_id) from None
            raise
        return slotted

    # --- delete -------------------------------------------------------------------------------

    def delete_echo(self, user_id: str, echo_id: str) -> EchoRecord | None:
        """Remove the echo and fill its slots with the last ones, so slots stay dense (1..n)."""
        return self._retrying(lambda: self._delete_once(user_id, echo_id), user_id)

    def _delete_once(self, user_id: str, echo_id: str) -> EchoRecord | None:
        echo_item, counts_item = self._get_consistent(
            [key(user_id, echo_sk(echo_id)), key(user_id, COUNTS_SK)]
        )
        if echo_item is None:
            return None
        record, counts = EchoRecord.from_item(echo_item), _parse_counts(counts_item)
        total, in_emotion = (
            counts.get(count_attribute(ALL), 0),
            counts.get(count_attribute(record.emotion), 0),
        )
        # (group, slot attribute, the echo's slot, the group's last slot)
        groups = [
            (ALL, "slot", record.slot, total),
            (record.emotion, "emotion_slot", record.emotion_slot, in_emotion),
        ]
        holders = self._slot_holders(
            user_id, [(group, last) for group, _, slot, last in groups if slot != last]
        )
        moves: SlotMoves = {}
        operations = [
            self._delete_echo_item(record),
            self._set_counts(
                user_id,
                {ALL: (total, total - 1), record.emotion: (in_emotion, in_emotion - 1)},
                add_bytes=0 if record.legacy else -record.file_size,  # a legacy echo's were never added
            ),
            *self._delete_tags(record, record.tags),
        ]
        for group, attribute, slot, last in groups:
            operations += self._release_slot(user_id, group, attribute, slot, last, echo_id, holders, moves)
        self._write(operations + self._move_echoes(user_id, moves))
        return record

    def _delete_echo_item(self, record: EchoRecord) -> dict[str, Any]:
        """Delete the echo if it still holds the slots and the doc (so the tags) it was read with."""
        return {
            "Delete": self._unchanged_echo(record) | {"Key": key(record.user_id, echo_sk(record.echo_id))}
        }

    def _unchanged_echo(self, record: EchoRecord) -> dict[str, Any]:
        """The condition that the echo still holds what it was read with: slots and doc."""
        return {
            "TableName": self._table,
            "ConditionExpression": "#s = :s AND #e = :e AND #doc = :doc",
            "ExpressionAttributeNames": {"#s": "slot", "#e": "emotion_slot", "#doc": "doc"},
            "ExpressionAttributeValues": {
                ":s": {"N": str(record.slot)},
                ":e": {"N": str(record.emotion_slot)},
                ":doc": {"S": record.stored_doc},  # as read: doc() would fill in what old docs lack
            },
        }

    # --- update -------------------------------------------------------------------------------

    def update_echo(
        self,
        user_id: str,
        echo_id: str,
        change: Callable[[EchoRecord], EchoRecord],
        expected_versions: Collection[int] | None = None,
    ) -> EchoRecord | None:
        """Apply CHANGE to the echo in one transaction conditioned on everything read (its doc and
        slots, and when the emotion changes both emotions' counters and slot items), so that a
        concurrent PATCH or DELETE makes it read again rather than write over newer state."""
        return self._retrying(lambda: self._update_once(user_id, echo_id, change, expected_versions), user_id)

    def _update_once(
        self,
        user_id: str,
        echo_id: str,
        change: Callable[[EchoRecord], EchoRecord],
        expected_versions: Collection[int] | None,
    ) -> EchoRecord | None:
        current = self.get_echo(user_id, echo_id, consistent=True)
        if current is None:
            return None
        if expected_versions is not None and current.version not in expected_versions:
            raise VersionMismatch(current)
        # What was read no longer describes the new version; a legacy echo leaves that state here.
        updated = replace(change(current), version=current.version + 1, stored_doc="", legacy=False)
        operations: list[dict[str, Any]] = []
        moves: SlotMoves = {}
        # Upgrading a legacy echo: its tag items are written below, its bytes are counted here.
        add_bytes = current.file_size if current.legacy else 0
        if updated.emotion != current.emotion:
            counts = self._counts(user_id)
            old, new = current.emotion, updated.emotion
            in_old, in_new = counts.get(count_attribute(old), 0), counts.get(count_attribute(new), 0)
            holders = self._slot_holders(user_id, [(old, in_old)] if current.emotion_slot != in_old else [])
            operations += [
                self._set_counts(
                    user_id, {old: (in_old, in_old - 1), new: (in_new, in_new + 1)}, add_bytes=add_bytes
                ),
                *self._release_slot(
                    user_id, old, "emotion_slot", current.emotion_slot, in_old, echo_id, holders, moves
                ),
                self._take_slot(user_id, new, in_new, echo_id),
            ]
            updated = replace(updated, emotion_slot=in_new + 1)
        elif add_bytes:
            self._counts(user_id)  # refuses the token (401) if the account is being erased
            operations.append(self._set_counts(user_id, {}, add_bytes=add_bytes))
        operations.append({"Put": self._unchanged_echo(current) | {"Item": updated.to_item()}})
        removed = tuple(tag for tag in current.tags if tag not in updated.tags)
        operations += self._delete_tags(current, removed) + self._put_tags(updated)
        self._write(operations + self._move_echoes(user_id, moves))
        return updated

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

    def _listing(
        self, user_id: str, selection: Selection
    ) -> tuple[dict[str, Any], Callable[[PageKey], Item]]:
        """The newest-first Query for a selection, and how a PageKey becomes its start key.
        Every variant is a key condition: the bounds narrow the sort key range, never a filter."""
        index: str | None
        if selection.tag is not None:
            # The tag's items in the user's partition: sk = TAG#<tag>#<created_at>#<id>.
            prefix = tag_prefix(selection.tag)
            partition_name, sort_name, partition, index = "pk", "sk", user_pk(user_id), None
            lower: str | None = prefix + (selection.since or "")
            # '$' follows '#': the smallest string after every key of this tag (a quoted tag
            # holds no raw '$', so no other tag's items fall in between).
            upper: str | None = prefix + selection.until if selection.until else prefix[:-1] + "$"
        else:
            lower, upper = selection.since, selection.until
            if selection.emotion:
                index, partition_name, sort_name = BY_EMOTION_INDEX, "gsi2pk", "gsi2sk"
                partition = emotion_partition(user_id, selection.emotion)
            else:
                index, partition_name, sort_name = BY_CREATED_INDEX, "gsi1pk", "gsi1sk"
                partition = user_pk(user_id)
        # Sort keys are "<created_at>#<id>": "<from>#<id>" >= "<from>" (from is inclusive) and
        # "<to>#<id>" > "<to>" (to is exclusive, also as BETWEEN's inclusive upper end).
        names = {"#p": partition_name, **LISTED_NAMES}
        condition, values = "#p = :p", {":p": {"S": partition}}
        if lower is not None or upper is not None:
            names["#s"] = sort_name
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
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
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


def _check_quota(record: EchoRecord, total: int, used_bytes: int, quota: Quota) -> None:
    """From the counters create has just read: no extra request. Exact under races, because every
    create and delete conditions on the total it read and changes it with the bytes."""
    if total >= quota.max_echoes:
        raise QuotaExceeded("echoes", quota.max_echoes)
    if used_bytes + record.file_size > quota.max_bytes:
        raise QuotaExceeded("bytes", quota.max_bytes)
