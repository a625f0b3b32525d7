"""DynamoDB access for echoes: every read is a GetItem or a Query on the caller's partition."""

import secrets
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

from app.errors import account_erased
from app.models import Selection
from app.parallel import alongside
from app.store.listing import EchoSlice, PageKey, newest_first, reaches_counters
from app.store.outcomes import (
    ContentionError,
    EchoAlreadyExists,
    Quota,
    UploadNotPending,
    VersionMismatch,
    check_quota,
)
from app.store.records import (
    ALL,
    BY_CREATED_INDEX,
    BYTES_ATTRIBUTE,
    COUNTS_SK,
    ERASED_ATTRIBUTE,
    EchoRecord,
    Item,
    count_attribute,
    echo_sk,
    key,
    slot_sk,
    user_pk,
)
from app.store.retry import Backoff
from app.store.totals import RecentTotals
from app.store.transactions import (
    CONDITION_FAILED,
    Cancelled,
    Operation,
    SlotMoves,
    Stale,
    TransactionPieces,
    write,
)
from app.store.uploads import consume_operation

MAX_RANDOM_ATTEMPTS = 3
# Group totals a store keeps for random picks (app/store/totals.py): a few kB per container.
MAX_REMEMBERED_TOTALS = 1024
# An echo as read (None: absent) and the user's counters, read together.
type EchoState = tuple[EchoRecord | None, dict[str, int]]


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
        counters_in_index: bool = False,
    ) -> None:
        """COUNTERS_IN_INDEX (app/settings.py): the counters item is written with by_created's keys,
        and a list's first page reads it in its Query."""
        self._client = client
        self._table = table_name
        self._randbelow = randbelow
        self._backoff = backoff or Backoff()
        self._counters_in_index = counters_in_index
        self._pieces = TransactionPieces(table_name, counters_in_index)
        self._totals = RecentTotals(MAX_REMEMBERED_TOTALS)

    # --- single items -------------------------------------------------------------------------

    def _get(self, item_key: Item, consistent: bool = False) -> Item | None:
        response = self._client.get_item(TableName=self._table, Key=item_key, ConsistentRead=consistent)
        item: Item | None = response.get("Item")
        return item

    def _get_many(self, keys: list[Item], consistent: bool = True) -> list[Item | None]:
        """Several items in one round trip, in the order of KEYS. Not a snapshot: a transaction
        that follows is conditioned on what was read instead."""
        response = self._client.batch_get_item(
            RequestItems={self._table: {"Keys": keys, "ConsistentRead": consistent}}
        )
        if response.get("UnprocessedKeys"):  # throttled in part: read again after a pause
            raise Stale()
        found = {(item["pk"]["S"], item["sk"]["S"]): item for item in response["Responses"][self._table]}
        return [found.get((k["pk"]["S"], k["sk"]["S"])) for k in keys]

    def get_echo(self, user_id: str, echo_id: str, consistent: bool = False) -> EchoRecord | None:
        item = self._get(key(user_id, echo_sk(echo_id)), consistent)
        return EchoRecord.from_item(item) if item else None

    def echo_and_counts(self, user_id: str, echo_id: str) -> EchoState:
        """The echo (None if absent) and the counters, strongly consistent, in one round trip; the
        counters refuse the token (401) if the account is being erased or was."""
        return self._retrying(lambda: self._echo_and_counts(user_id, echo_id), user_id)

    def live_echo(self, user_id: str, echo_id: str) -> EchoRecord | None:
        """The echo, read in one round trip with the counters item, which refuses the token (401)
        if the account is being erased or was: a missing echo must not answer 404 to it."""
        return self._retrying(lambda: self._echo_and_counts(user_id, echo_id, consistent=False)[0], user_id)

    def _echo_and_counts(self, user_id: str, echo_id: str, consistent: bool = True) -> EchoState:
        record, counts, _ = self._echo_counts_and(user_id, echo_id, [], consistent)
        return record, counts

    def _echo_counts_and(
        self, user_id: str, echo_id: str, others: list[Item], consistent: bool = True
    ) -> tuple[EchoRecord | None, dict[str, int], list[Item | None]]:
        """The echo, the counters and the items at OTHERS' keys, in one BatchGetItem."""
        echo_item, counts_item, *found = self._get_many(
            [key(user_id, echo_sk(echo_id)), key(user_id, COUNTS_SK), *others], consistent
        )
        counts = _parse_counts(counts_item)  # first: an erased account's echo is no answer either
        return (EchoRecord.from_item(echo_item) if echo_item else None), counts, found

    def creation_state(
        self, user_id: str, echo_id: str, ledger: Item
    ) -> tuple[EchoRecord | None, dict[str, int], Item | None]:
        """What create starts from, in one strongly consistent round trip: the echo if it exists
        (a repeated create), the counters (401 once the account is erased; create's transaction
        is conditioned on them) and the item at LEDGER (the pending uploads)."""
        record, counts, (ledger_item,) = self._retrying(
            lambda: self._echo_counts_and(user_id, echo_id, [ledger]), user_id
        )
        return record, counts, ledger_item

    def _counts(self, user_id: str, consistent: bool = True) -> dict[str, int]:
        return _parse_counts(self._get(key(user_id, COUNTS_SK), consistent))

    def page_and_count(
        self, user_id: str, selection: Selection, limit: int, start: PageKey | None
    ) -> tuple[EchoSlice, int]:
        """newest_first's page and the selection's counter, whose item refuses an erased account's
        token (401): one Query when the page starts at the top of by_created, where the counters
        item sits; otherwise the Query and a GetItem of the counters at once (app/parallel.py)."""
        group = count_attribute(selection.emotion or ALL)
        if not (self._counters_in_index and reaches_counters(user_id, selection, start)):
            found, counts = alongside(
                lambda: self.newest_first(user_id, selection, limit, start),
                lambda: self._counts(user_id, consistent=False),
            )
            return found, counts.get(group, 0)
        found = self.newest_first(user_id, selection, limit, start)
        # Not met: a counters item written before it had index keys, or none yet (a new account).
        item = found.counters if found.counters is not None else self._get(key(user_id, COUNTS_SK), False)
        return found, _parse_counts(item).get(group, 0)

    def counts(self, user_id: str) -> dict[str, int]:
        """Every counter (total, per emotion, bytes): one GetItem."""
        return self._counts(user_id, consistent=False)

    def oldest_and_newest(self, user_id: str) -> tuple[str | None, str | None]:
        """created_at of the first and last echo: a single-key Query at each end of the index,
        the two at once (app/parallel.py)."""
        return alongside(lambda: self._end(user_id, oldest=True), lambda: self._end(user_id, oldest=False))

    def _end(self, user_id: str, oldest: bool) -> str | None:
        response = self._client.query(
            TableName=self._table,
            IndexName=BY_CREATED_INDEX,
            # Below the counters item, which sits at the top of the index (counters_index_keys).
            KeyConditionExpression="gsi1pk = :p AND gsi1sk < :c",
            ProjectionExpression="gsi1sk",
            ExpressionAttributeValues={":p": {"S": user_pk(user_id)}, ":c": {"S": COUNTS_SK}},
            ScanIndexForward=oldest,
            Limit=1,
        )
        items = response.get("Items", [])
        return items[0]["gsi1sk"]["S"].split("#", 1)[0] if items else None

    # --- optimistic writes ----------------------------------------------------------------------

    def _retrying[T](self, attempt: Callable[[], T], user_id: str) -> T:
        """Run ATTEMPT (consistent reads, then one conditioned transaction) until it is not stale."""
        for _ in self._backoff.attempts():
            try:
                return attempt()
            except Stale:
                continue
        raise ContentionError(user_id)

    def _slot_holders(self, user_id: str, slots: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The echo ids in (group, slot) SLOTS, read in one round trip."""
        if not slots:
            return {}
        items = self._get_many([key(user_id, slot_sk(group, slot)) for group, slot in slots])
        if any(item is None for item in items):  # a concurrent writer moved it since the counters were read
            raise Stale()
        return {slot: item["echo_id"]["S"] for slot, item in zip(slots, items, strict=True) if item}

    # --- create -------------------------------------------------------------------------------

    def create_echo(
        self, record: EchoRecord, quota: Quota | None = None, counts: dict[str, int] | None = None
    ) -> EchoRecord:
        """Store the echo, consume its pending upload and take the next slots, atomically. The
        first attempt starts from COUNTS when given (the counters as this request read them,
        strongly consistent: creation_state); a transaction they no longer match reads again."""
        known = [counts] if counts is not None else []
        return self._retrying(
            lambda: self._create_once(record, quota, known.pop() if known else self._counts(record.user_id)),
            record.user_id,
        )

    def _create_once(self, record: EchoRecord, quota: Quota | None, counts: dict[str, int]) -> EchoRecord:
        user_id, emotion, pieces = record.user_id, record.emotion, self._pieces
        total, in_emotion = counts.get(count_attribute(ALL), 0), counts.get(count_attribute(emotion), 0)
        if quota is not None:
            check_quota(record, total, counts.get(BYTES_ATTRIBUTE, 0), quota)
        slotted = replace(record, slot=total + 1, emotion_slot=in_emotion + 1)
        put_echo: Operation = {
            "Put": {
                "TableName": self._table,
                "Item": slotted.to_item(),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        consume_upload = consume_operation(self._table, user_id, record.echo_id)
        operations = [
            put_echo,
            consume_upload,
            pieces.set_counts(
                user_id,
                {ALL: (total, total + 1), emotion: (in_emotion, in_emotion + 1)},
                add_bytes=record.file_size,
            ),
            pieces.take_slot(user_id, ALL, total, record.echo_id),
            pieces.take_slot(user_id, emotion, in_emotion, record.echo_id),
            *pieces.put_tags(record),
        ]
        try:
            write(self._client, operations)
        except Cancelled as cancelled:
            if CONDITION_FAILED in (cancelled.code_of(put_echo), cancelled.code_of(consume_upload)):
                existing = self.get_echo(user_id, record.echo_id, consistent=True)
                if existing is not None:
                    raise EchoAlreadyExists(existing) from None
                raise UploadNotPending(record.echo_id) from None
            raise
        return slotted

    # --- delete -------------------------------------------------------------------------------

    def delete_echo(self, user_id: str, echo_id: str, known: EchoState | None = None) -> EchoRecord | None:
        """Remove the echo and fill its slots with the last ones, so slots stay dense (1..n). The
        first attempt starts from KNOWN when given (the echo and counters as this request read
        them: echo_and_counts); a transaction they no longer match reads again."""
        first = [known] if known is not None else []
        return self._retrying(
            lambda: self._delete_once(
                user_id, echo_id, first.pop() if first else self._echo_and_counts(user_id, echo_id)
            ),
            user_id,
        )

    def _delete_once(self, user_id: str, echo_id: str, state: EchoState) -> EchoRecord | None:
        record, counts = state
        if record is None:
            return None
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
        pieces = self._pieces
        operations = [
            pieces.delete_echo(record),
            pieces.set_counts(
                user_id,
                {ALL: (total, total - 1), record.emotion: (in_emotion, in_emotion - 1)},
                add_bytes=0 if record.legacy else -record.file_size,  # a legacy echo's were never added
            ),
            *pieces.delete_tags(record, record.tags),
        ]
        for slot in groups:
            operations += pieces.release_slot(user_id, slot, echo_id, holders, moves)
        write(self._client, operations + pieces.move_echoes(user_id, moves))
        return record

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
        current, counts = self._echo_and_counts(user_id, echo_id)  # counters: 401 once erased
        if current is None:
            return None
        if expected_versions is not None and current.version not in expected_versions:
            raise VersionMismatch(current)
        # What was read no longer describes the new version; a legacy echo leaves that state here.
        updated = replace(change(current), version=current.version + 1, stored_doc="", legacy=False)
        operations: list[Operation] = []
        moves: SlotMoves = {}
        pieces = self._pieces
        # Upgrading a legacy echo: its tag items are written below, its bytes are counted here.
        add_bytes = current.file_size if current.legacy else 0
        if updated.emotion != current.emotion:
            old, new = current.emotion, updated.emotion
            in_old, in_new = counts.get(count_attribute(old), 0), counts.get(count_attribute(new), 0)
            holders = self._slot_holders(user_id, [(old, in_old)] if current.emotion_slot != in_old else [])
            operations += [
                pieces.set_counts(
                    user_id, {old: (in_old, in_old - 1), new: (in_new, in_new + 1)}, add_bytes=add_bytes
                ),
                *pieces.release_slot(
                    user_id, (old, "emotion_slot", current.emotion_slot, in_old), echo_id, holders, moves
                ),
                pieces.take_slot(user_id, new, in_new, echo_id),
            ]
            updated = replace(updated, emotion_slot=in_new + 1)
        elif add_bytes:
            operations.append(pieces.set_counts(user_id, {}, add_bytes=add_bytes))
        operations.append({"Put": pieces.unchanged_echo(current) | {"Item": updated.to_item()}})
        removed = tuple(tag for tag in current.tags if tag not in updated.tags)
        operations += pieces.delete_tags(current, removed) + pieces.put_tags(updated)
        write(self._client, operations + pieces.move_echoes(user_id, moves))
        return updated

    # --- reads ----------------------------------------------------------------------------------

    def random_echo(self, user_id: str, emotion: str | None = None) -> EchoRecord | None:
        """Uniform over the user's (matching) echoes: the counters, a slot drawn from 1..total,
        the echo in it. Two round trips once this store knows the group's total (_draw), three
        before; the same whatever the number of echoes."""
        group = emotion or ALL
        for _ in range(MAX_RANDOM_ATTEMPTS):
            total, slot = self._retrying(lambda: self._draw(user_id, group), user_id)
            if total == 0:
                return None
            record = self.get_echo(user_id, slot["echo_id"]["S"]) if slot else None
            if record is not None:
                return record
        return None  # the user's echoes kept changing under us

    def _draw(self, user_id: str, group: str) -> tuple[int, Item | None]:
        """The group's total and the item of a slot drawn uniformly from 1..total. With the total
        this store saw last, the slot is drawn from it and read in one batch with the counters,
        and kept only if the total is still that (then the draw was from 1..total); otherwise the
        slot is drawn again from the total just read."""
        known = self._totals.get((user_id, group))
        guess = self._randbelow(known) + 1 if known else None
        keys = [key(user_id, COUNTS_SK)] + ([key(user_id, slot_sk(group, guess))] if guess else [])
        counts_item, *drawn = self._get_many(keys, consistent=False)
        total = _parse_counts(counts_item).get(count_attribute(group), 0)
        self._totals.remember((user_id, group), total)
        if total == 0 or (guess is not None and total == known):
            return total, drawn[0] if drawn else None
        return total, self._get(key(user_id, slot_sk(group, self._randbelow(total) + 1)))

    def newest_first(
        self, user_id: str, selection: Selection, limit: int, start: PageKey | None
    ) -> EchoSlice:
        """Up to `limit` echoes after `start`; next_key is set only when more follow."""
        return newest_first(
            self._client, self._table, user_id, selection, limit, start, self._counters_in_index
        )
