"""The transaction pieces (app/store/transactions.py) and the retries of app/store/echoes.py: each
write is conditioned on what was read.

Built without DynamoDB: the builders are pure, and the client stand-in only records or fails
(tests/api/test_integrity.py runs the same transactions on DynamoDB Local, racing)."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from app.store import transactions
from app.store.echoes import EchoStore
from app.store.outcomes import ContentionError
from app.store.records import EchoRecord
from app.store.retry import ATTEMPTS_WITHOUT_DEADLINE, Backoff
from devtools.seed import legacy_item
from tests.support import echo_record

TABLE = "echoes-test"


class _Client:
    """Fails transact_write_items with ERROR; fails loudly on any other call (a read, here)."""

    def __init__(self, error: ClientError | None = None) -> None:
        self.error = error

    def transact_write_items(self, **_: Any) -> None:
        if self.error is not None:
            raise self.error

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected DynamoDB call {name}")


def _store(client: Any = None, sleeps: list[float] | None = None) -> EchoStore:
    backoff = Backoff(sleep=(sleeps if sleeps is not None else []).append, uniform=lambda _low, high: high)
    return EchoStore(client or _Client(), TABLE, backoff=backoff)


PIECES = transactions.TransactionPieces(TABLE)


def _record(slot: int, emotion_slot: int) -> EchoRecord:
    return echo_record(
        emotion="happy", created_at="2026-01-01T00:00:00Z", slot=slot, emotion_slot=emotion_slot
    )


def test_set_counts_conditions_on_every_value_read_and_on_an_account_not_being_erased() -> None:
    update = PIECES.set_counts("u1", {"ALL": (4, 5), "happy": (2, 1)})["Update"]
    assert update["Key"] == {"pk": {"S": "USER#u1"}, "sk": {"S": "COUNTS"}}
    assert update["ExpressionAttributeNames"] == {"#erased": "erased_at", "#c0": "total", "#c1": "n_happy"}
    assert update["UpdateExpression"] == "SET #c0 = :a0, #c1 = :a1", "no bytes to add: no ADD"
    assert update["ConditionExpression"] == "attribute_not_exists(#erased) AND #c0 = :b0 AND #c1 = :b1"
    assert update["ExpressionAttributeValues"] == {
        ":a0": {"N": "5"},
        ":b0": {"N": "4"},
        ":a1": {"N": "1"},
        ":b1": {"N": "2"},
    }


def test_a_count_read_as_zero_may_also_be_absent() -> None:
    """A user's first echo (or first of an emotion): the counters item or attribute does not exist
    yet, and a missing attribute never equals 0 in a DynamoDB condition."""
    update = PIECES.set_counts("u1", {"ALL": (3, 4), "sad": (0, 1)})["Update"]
    assert update["ConditionExpression"].endswith("#c0 = :b0 AND (attribute_not_exists(#c1) OR #c1 = :b1)")


@pytest.mark.parametrize("add_bytes", [12345, -12345])
def test_audio_bytes_are_added_not_set(add_bytes: int) -> None:
    """Bytes are an ADD (a missing attribute counts as 0), not conditioned: no quota reads them back
    inside the transaction, and deleting an echo subtracts its size."""
    update = PIECES.set_counts("u1", {"ALL": (0, 1)}, add_bytes=add_bytes)["Update"]
    assert update["UpdateExpression"] == "SET #c0 = :a0 ADD #bytes :bytes"
    assert update["ExpressionAttributeNames"]["#bytes"] == "bytes"
    assert update["ExpressionAttributeValues"][":bytes"] == {"N": str(add_bytes)}
    assert "#bytes" not in update["ConditionExpression"]


def test_a_free_slot_must_still_be_free_and_a_taken_one_still_hold_its_echo() -> None:
    free = PIECES.put_slot("u1", "ALL", 3, "e9", holder=None)["Put"]
    assert free["Item"]["sk"] == {"S": "SLOT#ALL#3"} and free["Item"]["echo_id"] == {"S": "e9"}
    assert free["ConditionExpression"] == "attribute_not_exists(pk)"
    assert "ExpressionAttributeValues" not in free
    taken = PIECES.put_slot("u1", "happy", 2, "e9", holder="e4")["Put"]
    assert taken["ConditionExpression"] == "echo_id = :holder"
    assert taken["ExpressionAttributeValues"] == {":holder": {"S": "e4"}}


def test_take_slot_appends_after_the_count_read() -> None:
    put = PIECES.take_slot("u1", "ALL", 4, "e9")["Put"]
    assert (
        put["Item"]["sk"] == {"S": "SLOT#ALL#5"} and put["ConditionExpression"] == "attribute_not_exists(pk)"
    )


def test_releasing_the_last_slot_only_deletes_it() -> None:
    moves: transactions.SlotMoves = {}
    operations = PIECES.release_slot("u1", ("ALL", "slot", 5, 5), "e1", holders={}, moves=moves)
    assert [next(iter(op)) for op in operations] == ["Delete"]
    assert operations[0]["Delete"]["ExpressionAttributeValues"] == {":holder": {"S": "e1"}}
    assert moves == {}


def test_releasing_a_middle_slot_moves_the_last_echo_into_it() -> None:
    moves: transactions.SlotMoves = {}
    operations = PIECES.release_slot(
        "u1", ("happy", "emotion_slot", 2, 6), "e1", holders={("happy", 6): "e6"}, moves=moves
    )
    delete, put = operations[0]["Delete"], operations[1]["Put"]
    assert delete["Key"]["sk"] == {"S": "SLOT#happy#6"}
    assert delete["ExpressionAttributeValues"] == {":holder": {"S": "e6"}}
    assert put["Item"]["sk"] == {"S": "SLOT#happy#2"} and put["Item"]["echo_id"] == {"S": "e6"}
    assert put["ExpressionAttributeValues"] == {":holder": {"S": "e1"}}, "still the deleted echo's"
    assert moves == {"e6": {"emotion_slot": (6, 2)}}


def test_slots_that_disagree_with_the_echo_mean_read_again() -> None:
    """The last slot names the echo being deleted, though its slot field says another: stale."""
    with pytest.raises(transactions.Stale):
        PIECES.release_slot("u1", ("ALL", "slot", 2, 6), "e1", holders={("ALL", 6): "e1"}, moves={})


def test_a_moved_echo_is_updated_only_if_it_still_holds_its_old_slots() -> None:
    operations = PIECES.move_echoes(
        "u1",
        {
            "e6": {"slot": (6, 2), "emotion_slot": (3, 1)},
        },
    )
    update = operations[0]["Update"]
    assert update["Key"]["sk"] == {"S": "ECHO#e6"}
    assert update["ExpressionAttributeNames"] == {"#s0": "slot", "#s1": "emotion_slot"}
    assert update["UpdateExpression"] == "SET #s0 = :a0, #s1 = :a1"
    assert update["ConditionExpression"] == "#s0 = :b0 AND #s1 = :b1"
    assert update["ExpressionAttributeValues"] == {
        ":b0": {"N": "6"},
        ":a0": {"N": "2"},
        ":b1": {"N": "3"},
        ":a1": {"N": "1"},
    }


def test_the_echo_is_deleted_only_if_it_still_holds_the_slots_and_doc_it_was_read_with() -> None:
    """The doc too: its tags name the tag items the same transaction deletes (a PATCH in between
    would leave some behind). The doc exactly as stored: an echo from before issue 12 has no
    recorded_at or version in it, which the record fills in (the condition never held: 503)."""
    for item in (_record(slot=4, emotion_slot=2).to_item(), legacy_item(_record(slot=4, emotion_slot=2))):
        record = EchoRecord.from_item(item)
        delete = PIECES.delete_echo(record)["Delete"]
        assert delete["Key"] == {"pk": {"S": "USER#u1"}, "sk": {"S": "ECHO#e1"}}
        assert delete["ConditionExpression"] == "#s = :s AND #e = :e AND #doc = :doc"
        assert delete["ExpressionAttributeNames"] == {"#s": "slot", "#e": "emotion_slot", "#doc": "doc"}
        assert delete["ExpressionAttributeValues"] == {
            ":s": {"N": "4"},
            ":e": {"N": "2"},
            ":doc": item["doc"],
        }
    assert '"version"' not in item["doc"]["S"] and record.legacy


def test_no_slot_to_look_up_makes_no_call() -> None:
    assert _store()._slot_holders("u1", []) == {}


def _cancelled(*codes: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": code} for code in codes],
        },
        "TransactWriteItems",
    )


def test_a_cancelled_transaction_reports_each_items_reason_by_item() -> None:
    """By item, not by position: the create read `codes[:2]`, which held only while its first two
    operations were the echo and the upload."""
    client = _Client(_cancelled("None", "ConditionalCheckFailed", "TransactionConflict"))
    first, second, third = {"Put": {"n": 1}}, {"Delete": {"n": 2}}, {"Update": {"n": 3}}
    with pytest.raises(transactions.Cancelled) as cancelled:
        transactions.write(client, [first, second, third])
    assert cancelled.value.codes == ["None", "ConditionalCheckFailed", "TransactionConflict"]
    assert [cancelled.value.code_of(op) for op in (second, third, first)] == [
        "ConditionalCheckFailed",
        "TransactionConflict",
        "None",
    ]


def test_other_write_errors_are_not_retried_as_stale() -> None:
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        "TransactWriteItems",
    )
    with pytest.raises(ClientError) as raised:
        transactions.write(_Client(throttled), [{"Put": {}}])
    assert raised.value is throttled


def test_a_write_that_stays_stale_gives_up_with_contention_after_the_bounded_attempts() -> None:
    sleeps: list[float] = []
    attempts: list[int] = []

    def stale() -> None:
        attempts.append(1)
        raise transactions.Stale()

    with pytest.raises(ContentionError):
        _store(sleeps=sleeps)._retrying(stale, "u1")
    assert len(attempts) == ATTEMPTS_WITHOUT_DEADLINE
    assert len(sleeps) == ATTEMPTS_WITHOUT_DEADLINE - 1, "a pause between attempts, none after the last"


def test_a_write_that_succeeds_after_a_conflict_returns_its_result() -> None:
    outcomes: list[Exception | str] = [transactions.Cancelled([{"Put": {}}], ["TransactionConflict"]), "done"]

    def attempt() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert _store()._retrying(attempt, "u1") == "done"
