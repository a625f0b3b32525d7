"""Echoes stored before issue 12 (devtools.seed.legacy_item: no recorded_at or version in the doc,
no tag items, no bytes in the counters) can be read, edited and deleted, and devtools.backfill
upgrades them to today's layout, idempotently and resumably. DynamoDB Local for the table (its
transactions and conditions are Amazon's), moto for S3 and Cognito."""

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from fastapi.testclient import TestClient

from app.settings import Settings
from devtools.backfill import backfill, upgrade
from devtools.seed import FILE_SIZE, echo_record, seed_echoes
from tests.support import EchoFactory, User, invariant_violations, partition_items

ECHOES = "/api/v1/echoes"


def _seed_legacy(settings: Settings, user: User, count: int) -> list[str]:
    """COUNT legacy echoes with their audio: tagged rain, every tenth also night."""
    seeded = seed_echoes(
        boto3.client("dynamodb"), settings.dynamodb_table_name, user.user_id, count, legacy=True
    )
    for n in range(count):  # one live version each (the seed's audio has delete markers on some)
        s3_key = echo_record(user.user_id, n).s3_key
        boto3.client("s3").put_object(Bucket=settings.s3_bucket_name, Key=s3_key, Body=b"\x1a\x45\xdf\xa3")
    return seeded.echo_ids


def _tagged(client: TestClient, user: User, tag: str) -> list[str]:
    response = client.get(ECHOES, params={"tag": tag, "page_size": 100}, headers=user.headers)
    assert response.status_code == 200, response.text
    return sorted(echo["echo_id"] for echo in response.json()["echoes"])


def _bytes(settings: Settings, user: User) -> int:
    item = boto3.client("dynamodb").get_item(
        TableName=settings.dynamodb_table_name,
        Key={"pk": {"S": f"USER#{user.user_id}"}, "sk": {"S": "COUNTS"}},
        ConsistentRead=True,
    )["Item"]
    return int(item.get("bytes", {"N": "0"})["N"])


def test_a_legacy_echo_is_read_with_version_1_and_deleted_without_a_negative_byte_count(
    client: TestClient, settings: Settings, alice: User, make_echo: EchoFactory
) -> None:
    """Delete conditions on the doc as read: it was rebuilt with the fields old docs lack, so the
    condition never held (503 until the deadline)."""
    [old] = _seed_legacy(settings, alice, 1)
    new = make_echo(alice)  # after the seed: the seed writes the counters item
    got = client.get(f"{ECHOES}/{old}", headers=alice.headers)
    assert got.status_code == 200 and got.headers["ETag"] == '"1"', got.text

    deleted = client.delete(f"{ECHOES}/{old}", headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    assert client.get(f"{ECHOES}/{old}", headers=alice.headers).status_code == 404
    # Only the new echo's bytes were ever counted, and only they remain.
    assert _bytes(settings, alice) == new["file_size"]
    assert invariant_violations(settings, alice) == []


@pytest.mark.parametrize("change", [{"tags": ["sea"]}, {"emotion": "joy", "transcript": "waves"}])
def test_patching_a_legacy_echo_upgrades_it(
    client: TestClient, settings: Settings, alice: User, change: dict
) -> None:
    """PATCH conditions on the doc as read, and writes the echo in today's layout: its tag items
    and its bytes come with it, in the same transaction."""
    first, second = _seed_legacy(settings, alice, 2)
    patched = client.patch(f"{ECHOES}/{second}", json=change, headers=alice.headers | {"If-Match": '"1"'})
    assert patched.status_code == 200, patched.text
    assert patched.headers["ETag"] == '"2"'
    assert _tagged(client, alice, change.get("tags", ["rain"])[0]) == [second]
    assert _bytes(settings, alice) == FILE_SIZE  # the upgraded echo's; the other is still legacy

    # The other one deleted: the partition is back to holding only what the invariants describe.
    assert client.delete(f"{ECHOES}/{first}", headers=alice.headers).status_code == 204
    assert invariant_violations(settings, alice) == []
    assert _bytes(settings, alice) == FILE_SIZE


def test_backfill_upgrades_legacy_echoes_once_even_when_interrupted(
    client: TestClient, settings: Settings, alice: User, bob: User, make_echo: EchoFactory
) -> None:
    legacy = _seed_legacy(settings, alice, 12)
    made = make_echo(alice, tags=["rain"])
    kept = make_echo(bob, tags=["rain"])
    before = invariant_violations(settings, alice)
    assert any("bytes" in message for message in before) and any("missing" in message for message in before)
    assert _tagged(client, alice, "rain") == [made["echo_id"]]  # what the legacy echoes miss

    # Interrupted: the network drops on the 5th upgrade transaction.
    dynamodb = boto3.client("dynamodb")
    calls = {"n": 0}

    def drop(**_: object) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise EndpointConnectionError(endpoint_url="https://dynamodb")

    dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", drop)
    with pytest.raises(EndpointConnectionError):
        backfill(dynamodb, settings.dynamodb_table_name)

    # Resumed by running it again: only what remains (other users' legacy echoes may exist in the
    # shared table: at least this user's 8).
    resumed = backfill(boto3.client("dynamodb"), settings.dynamodb_table_name)
    assert resumed.upgraded >= len(legacy) - 4
    assert invariant_violations(settings, alice) == []
    assert _bytes(settings, alice) == len(legacy) * FILE_SIZE + made["file_size"]
    assert _tagged(client, alice, "rain") == sorted([*legacy, made["echo_id"]])
    assert _tagged(client, alice, "night") == [legacy[0], legacy[10]]  # every tenth
    got = client.get(f"{ECHOES}/{legacy[3]}", headers=alice.headers)
    assert got.headers["ETag"] == '"1"' and got.json()["recorded_at"] == got.json()["timestamp"]

    # Idempotent: a third run finds nothing of Alice's, and changes nothing of Bob's.
    before_again = partition_items(settings.dynamodb_table_name, alice)
    backfill(boto3.client("dynamodb"), settings.dynamodb_table_name)
    after_again = partition_items(settings.dynamodb_table_name, alice)
    assert after_again == before_again
    assert invariant_violations(settings, bob) == [] and _tagged(client, bob, "rain") == [kept["echo_id"]]


@pytest.mark.parametrize("meanwhile", ["patch", "delete"])
def test_backfill_of_an_echo_changed_since_the_scan_read_it_counts_its_bytes_once(
    client: TestClient, settings: Settings, alice: User, meanwhile: str
) -> None:
    """The race with live traffic, made deterministic: the Scan read the legacy item, then a PATCH
    (which upgrades it) or a delete committed before the backfill's transaction. The transaction
    is conditioned on the doc the Scan read, so it fails, and the backfill re-reads and skips."""
    [echo_id] = _seed_legacy(settings, alice, 1)
    dynamodb = boto3.client("dynamodb")
    key = {"pk": {"S": f"USER#{alice.user_id}"}, "sk": {"S": f"ECHO#{echo_id}"}}
    stale = dynamodb.get_item(TableName=settings.dynamodb_table_name, Key=key, ConsistentRead=True)["Item"]
    if meanwhile == "patch":
        patched = client.patch(f"{ECHOES}/{echo_id}", json={"transcript": "new"}, headers=alice.headers)
        assert patched.status_code == 200, patched.text
    else:
        assert client.delete(f"{ECHOES}/{echo_id}", headers=alice.headers).status_code == 204

    assert upgrade(dynamodb, settings.dynamodb_table_name, stale) is False
    assert _bytes(settings, alice) == (FILE_SIZE if meanwhile == "patch" else 0)
    assert invariant_violations(settings, alice) == []
