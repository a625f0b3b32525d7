"""Newest-first listings of one user's echoes: every filter a key condition, never a filter
expression (docs/design.md, Listing filters), so a page costs one page of reads wherever it is."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.models import Selection
from app.store.records import (
    BY_CREATED_INDEX,
    BY_EMOTION_INDEX,
    LISTED_NAMES,
    LISTED_PROJECTION,
    EchoRecord,
    Item,
    created_sort_key,
    echo_sk,
    emotion_partition,
    is_counters,
    key,
    tag_prefix,
    tag_sk,
    user_pk,
)


@dataclass(frozen=True)
class PageKey:
    """Where a newest-first listing stopped: enough to rebuild DynamoDB's ExclusiveStartKey."""

    created_at: str
    echo_id: str


@dataclass(frozen=True)
class EchoSlice:
    records: list[EchoRecord]
    next_key: PageKey | None
    # The counters item, when the Query met it: at the top of by_created (counters_index_keys).
    counters: Item | None = None


@dataclass(frozen=True)
class _KeyRange:
    """Where a selection's echoes are: a partition of the table or an index, and sort key bounds."""

    index: str | None
    partition_name: str
    sort_name: str
    partition: str
    lower: str | None
    upper: str | None

    def reaches_counters(self, start: PageKey | None) -> bool:
        """Whether a newest-first Query of this range meets the counters item first."""
        return self.index == BY_CREATED_INDEX and self.upper is None and start is None


def _key_range(user_id: str, selection: Selection) -> _KeyRange:
    if selection.tag is not None:
        # The tag's items in the user's partition: sk = TAG#<tag>#<created_at>#<id>. '$' follows
        # '#': the smallest string after every key of this tag (a quoted tag holds no raw '$', so
        # no other tag's items fall in between).
        prefix = tag_prefix(selection.tag)
        upper = prefix + selection.until if selection.until else prefix[:-1] + "$"
        return _KeyRange(None, "pk", "sk", user_pk(user_id), prefix + (selection.since or ""), upper)
    if selection.emotion:
        partition = emotion_partition(user_id, selection.emotion)
        return _KeyRange(BY_EMOTION_INDEX, "gsi2pk", "gsi2sk", partition, selection.since, selection.until)
    return _KeyRange(BY_CREATED_INDEX, "gsi1pk", "gsi1sk", user_pk(user_id), selection.since, selection.until)


def _key_condition(found: _KeyRange) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Sort keys are "<created_at>#<id>": "<from>#<id>" >= "<from>" (from is inclusive) and
    "<to>#<id>" > "<to>" (to is exclusive, also as BETWEEN's inclusive upper end)."""
    names = {"#p": found.partition_name}
    values: dict[str, Any] = {":p": {"S": found.partition}}
    bounds = {":lo": found.lower, ":hi": found.upper}
    values |= {name: {"S": value} for name, value in bounds.items() if value is not None}
    if found.lower is None and found.upper is None:
        return "#p = :p", names, values
    names["#s"] = found.sort_name
    if found.lower is not None and found.upper is not None:
        return "#p = :p AND #s BETWEEN :lo AND :hi", names, values
    return ("#p = :p AND #s >= :lo" if found.lower is not None else "#p = :p AND #s < :hi"), names, values


def reaches_counters(user_id: str, selection: Selection, start: PageKey | None) -> bool:
    """Whether the listing of SELECTION after START reads the counters item with its echoes."""
    return _key_range(user_id, selection).reaches_counters(start)


def listing(
    table: str, user_id: str, selection: Selection
) -> tuple[dict[str, Any], Callable[[PageKey], Item]]:
    """The newest-first Query for a selection, and how a PageKey becomes its start key."""
    found = _key_range(user_id, selection)
    condition, names, values = _key_condition(found)
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ProjectionExpression": LISTED_PROJECTION,
        "ExpressionAttributeNames": names | LISTED_NAMES,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
    }
    if found.index is not None:
        request["IndexName"] = found.index

    def start_key(start: PageKey) -> Item:
        if selection.tag is not None:
            return key(user_id, tag_sk(selection.tag, start.created_at, start.echo_id))
        return key(user_id, echo_sk(start.echo_id)) | {
            found.partition_name: {"S": found.partition},
            found.sort_name: {"S": created_sort_key(start.created_at, start.echo_id)},
        }

    return request, start_key


def newest_first(
    client: Any,
    table: str,
    user_id: str,
    selection: Selection,
    limit: int,
    start: PageKey | None,
    counters_in_index: bool = False,
) -> EchoSlice:
    """Up to `limit` echoes after `start`; next_key is set only when more follow. From the top of
    by_created, a counters item comes first: it is set apart, and with COUNTERS_IN_INDEX (where it
    is expected there) one more item is asked for."""
    request, start_key = listing(table, user_id, selection)
    if start is not None:
        request["ExclusiveStartKey"] = start_key(start)
    room = 1 if counters_in_index and reaches_counters(user_id, selection, start) else 0
    # One more echo than needed: it tells whether another page exists without a second query.
    items, counters = _read(client, request, limit + 1, room)
    records = [EchoRecord.from_item(item, user_id) for item in items[:limit]]
    has_more = len(items) > limit
    next_key = PageKey(records[-1].created_at, records[-1].echo_id) if has_more else None
    return EchoSlice(records, next_key, counters[0] if counters else None)


def _read(client: Any, request: dict[str, Any], wanted: int, room: int) -> tuple[list[Item], list[Item]]:
    """Up to WANTED echo items, Query page by page, and the counters items met on the way apart.
    ROOM: how many more items the first page asks for (the counters expected at its top)."""
    items: list[Item] = []
    counters: list[Item] = []
    while len(items) < wanted:
        response = client.query(Limit=wanted - len(items) + room, **request)
        room = 0
        for item in response.get("Items", []):
            (counters if is_counters(item) else items).append(item)
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return items, counters
