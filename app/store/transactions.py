"""The pieces of one user's write transactions, each conditioned on what the writer read.

A writer reads consistently what it depends on (counters, slot holders, the echo), then writes one
TransactWriteItems whose every item holds only if what was read still holds. The pieces compose any
write that changes group membership: set the counters, take a slot, release one (the last echo
fills the gap, so slots stay 1..n), move the echoes whose slots changed, put or delete tag items.
"""

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from app.store.records import (
    BYTES_ATTRIBUTE,
    COUNTS_SK,
    ERASED_ATTRIBUTE,
    EchoRecord,
    count_attribute,
    counters_index_keys,
    echo_sk,
    key,
    slot_sk,
    tag_sk,
)

# Why DynamoDB cancels a transaction, per item (CancellationReasons[].Code).
CONDITION_FAILED = "ConditionalCheckFailed"

Operation = dict[str, Any]
# A moved echo's slot attributes: attribute -> (slot it had when read, slot it gets).
SlotMoves = dict[str, dict[str, tuple[int, int]]]


class Stale(Exception):
    """What an attempt read changed before it could write: read again and retry."""


class Cancelled(Stale):
    """DynamoDB cancelled the transaction: a condition on what was read failed, or a conflict."""

    def __init__(self, operations: list[Operation], codes: list[str]) -> None:
        super().__init__(codes)
        self._operations = operations
        self.codes = codes

    def code_of(self, operation: Operation) -> str:
        """Why OPERATION (one of the transaction's items, by identity) was cancelled ("None": it
        was not; DynamoDB lists a reason for every item, in the order they were sent)."""
        index = next(i for i, sent in enumerate(self._operations) if sent is operation)
        return self.codes[index] if index < len(self.codes) else "None"


def write(client: Any, operations: list[Operation]) -> None:
    try:
        client.transact_write_items(TransactItems=operations)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "TransactionCanceledException":
            reasons = error.response.get("CancellationReasons", [])
            raise Cancelled(operations, [reason.get("Code", "") for reason in reasons]) from None
        raise


@dataclass(frozen=True)
class TransactionPieces:
    table: str
    # COUNTERS_IN_LIST_INDEX (app/settings.py): the counters item is written with its index keys.
    counters_in_index: bool = False

    def set_counts(self, user_id: str, changes: dict[str, tuple[int, int]], add_bytes: int = 0) -> Operation:
        """Set counters (group -> (value read, new value)) only if they still hold what was read
        and the account is not being erased; ADD add_bytes to the audio bytes. With the counters
        in the index, their keys too: an item written before gains them at its next change."""
        names: dict[str, str] = {"#erased": ERASED_ATTRIBUTE}
        values: dict[str, dict[str, str]] = {}
        assignments, conditions = [], ["attribute_not_exists(#erased)"]
        if self.counters_in_index:  # as the erasure's marker sets them (app/store/account.py)
            index_keys = counters_index_keys(user_id)
            assignments += [f"{name} = :{name}" for name in index_keys]
            values |= {f":{name}": value for name, value in index_keys.items()}
        for index, (group, (before, after)) in enumerate(changes.items()):
            names[f"#c{index}"] = count_attribute(group)
            values[f":a{index}"] = {"N": str(after)}
            values[f":b{index}"] = {"N": str(before)}
            assignments.append(f"#c{index} = :a{index}")
            unchanged = f"#c{index} = :b{index}"
            conditions.append(
                f"(attribute_not_exists(#c{index}) OR {unchanged})" if before == 0 else unchanged
            )
        clauses = ["SET " + ", ".join(assignments)] if assignments else []
        if add_bytes:
            names["#bytes"] = BYTES_ATTRIBUTE
            values[":bytes"] = {"N": str(add_bytes)}
            clauses.append("ADD #bytes :bytes")
        return {
            "Update": {
                "TableName": self.table,
                "Key": key(user_id, COUNTS_SK),
                "UpdateExpression": " ".join(clauses),
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def put_slot(self, user_id: str, group: str, slot: int, echo_id: str, holder: str | None) -> Operation:
        """Point SLOT at ECHO_ID, if the slot still names HOLDER (None: if it is still free)."""
        operation: dict[str, Any] = {
            "TableName": self.table,
            "Item": key(user_id, slot_sk(group, slot)) | {"echo_id": {"S": echo_id}},
        }
        if holder is None:
            operation["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            operation["ConditionExpression"] = "echo_id = :holder"
            operation["ExpressionAttributeValues"] = {":holder": {"S": holder}}
        return {"Put": operation}

    def delete_slot(self, user_id: str, group: str, slot: int, holder: str) -> Operation:
        return {
            "Delete": {
                "TableName": self.table,
                "Key": key(user_id, slot_sk(group, slot)),
                "ConditionExpression": "echo_id = :holder",
                "ExpressionAttributeValues": {":holder": {"S": holder}},
            }
        }

    def take_slot(self, user_id: str, group: str, count_before: int, echo_id: str) -> Operation:
        """Append ECHO_ID to GROUP's slots: slot count_before + 1, which must still be free."""
        return self.put_slot(user_id, group, count_before + 1, echo_id, holder=None)

    def release_slot(
        self,
        user_id: str,
        slot: tuple[str, str, int, int],
        echo_id: str,
        holders: dict[tuple[str, int], str],
        moves: SlotMoves,
    ) -> list[Operation]:
        """Free ECHO_ID's slot (group, slot attribute, its slot, the group's last slot) by moving
        the echo in the last slot (named in HOLDERS) into it, recorded in MOVES for move_echoes,
        so that slots stay 1..n."""
        group, attribute, freed, last = slot
        if freed == last:
            return [self.delete_slot(user_id, group, last, holder=echo_id)]
        last_echo_id = holders[(group, last)]
        if last_echo_id == echo_id:  # its slot field and the slot items disagree: read again
            raise Stale()
        moves.setdefault(last_echo_id, {})[attribute] = (last, freed)
        return [
            self.delete_slot(user_id, group, last, holder=last_echo_id),
            self.put_slot(user_id, group, freed, last_echo_id, holder=echo_id),
        ]

    def move_echoes(self, user_id: str, moves: SlotMoves) -> list[Operation]:
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
                        "TableName": self.table,
                        "Key": key(user_id, echo_sk(echo_id)),
                        "UpdateExpression": "SET " + ", ".join(f"#s{i} = :a{i}" for i in range(len(names))),
                        "ConditionExpression": " AND ".join(f"#s{i} = :b{i}" for i in range(len(names))),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        return operations

    def put_tags(self, record: EchoRecord) -> list[Operation]:
        return [{"Put": {"TableName": self.table, "Item": item}} for item in record.tag_items()]

    def delete_tags(self, record: EchoRecord, tags: tuple[str, ...]) -> list[Operation]:
        return [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": key(record.user_id, tag_sk(tag, record.created_at, record.echo_id)),
                }
            }
            for tag in tags
        ]

    def unchanged_echo(self, record: EchoRecord) -> dict[str, Any]:
        """The condition that the echo still holds what it was read with: slots and doc."""
        return {
            "TableName": self.table,
            "ConditionExpression": "#s = :s AND #e = :e AND #doc = :doc",
            "ExpressionAttributeNames": {"#s": "slot", "#e": "emotion_slot", "#doc": "doc"},
            "ExpressionAttributeValues": {
                ":s": {"N": str(record.slot)},
                ":e": {"N": str(record.emotion_slot)},
                ":doc": {"S": record.stored_doc},  # as read: doc() would fill in what old docs lack
            },
        }

    def delete_echo(self, record: EchoRecord) -> Operation:
        """Delete the echo if it still holds the slots and the doc (so the tags) it was read with."""
        return {"Delete": self.unchanged_echo(record) | {"Key": key(record.user_id, echo_sk(record.echo_id))}}
