"""With COUNTERS_IN_LIST_INDEX, a list's first page reads the counters in its own Query (issue 23,
warm CPU): the counters item carries by_created's keys with the sort key "COUNTS", above every
echo's "<created_at>#<id>", so a newest-first Query from the top meets it first. One DynamoDB call
and no worker thread; other pages and filters read the counters beside their Query, and an item
written before it had the keys (or none at all) is read after it. Without the setting, nothing
writes the keys, and items that have them are still read right (a version that turned it off). On DynamoDB Local, whose indexes are updated with the
table: on AWS a GSI is eventually consistent, so a fresh counters change may reach the list a
moment later, as an eventually consistent GetItem's may."""

import threading

import boto3
import pytest
from fastapi.testclient import TestClient

from app.errors import ApiError
from app.main import create_app
from app.models import Selection
from app.settings import Settings
from app.store.echoes import EchoStore
from app.store.records import COUNTS_SK, ERASED_ATTRIBUTE, key
from devtools.local_aws import LocalStack
from devtools.seed import seed_echoes
from tests import support
from tests.faults import CallProbe
from tests.support import EchoFactory, User

ECHOES = "/api/v1/echoes"


def _store(settings: Settings, counters_in_index: bool = True) -> tuple[EchoStore, CallProbe]:
    dynamodb = boto3.client("dynamodb")
    store = EchoStore(dynamodb, settings.dynamodb_table_name, counters_in_index=counters_in_index)
    return store, CallProbe([dynamodb])


def _drop_index_keys(settings: Settings, user: User, also: str = "") -> None:
    """The counters item as code before the index keys wrote it (ALSO: more to set)."""
    boto3.client("dynamodb").update_item(
        TableName=settings.dynamodb_table_name,
        Key=key(user.user_id, COUNTS_SK),
        UpdateExpression="REMOVE gsi1pk, gsi1sk" + also,
        **({"ExpressionAttributeValues": {":now": {"N": "1"}}} if also else {}),
    )


def _names(probe: CallProbe) -> list[str]:
    return [name for name, _, _ in probe.calls]


def test_a_first_page_is_one_query_holding_its_counters(settings: Settings, alice: User) -> None:
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 5)
    store, probe = _store(settings)
    page, total = store.page_and_count(alice.user_id, Selection(), 3, None)
    assert _names(probe) == ["Query"], "no GetItem of the counters"
    assert total == 5 and len(page.records) == 3 and page.next_key is not None
    whole, total = store.page_and_count(alice.user_id, Selection(), 5, None)
    assert total == 5 and len(whole.records) == 5 and whole.next_key is None, "exactly a page: no more"
    assert whole.records[:3] == page.records, "the counters item is no echo of the page"


def test_a_page_after_a_cursor_reads_the_counters_beside_its_query(settings: Settings, alice: User) -> None:
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 5)
    store, probe = _store(settings)
    first, _ = store.page_and_count(alice.user_id, Selection(), 2, None)
    probe.calls.clear()
    second, total = store.page_and_count(alice.user_id, Selection(), 2, first.next_key)
    assert total == 5 and len(second.records) == 2
    by_thread = {name: thread for name, thread, _ in probe.calls}
    assert set(by_thread) == {"Query", "GetItem"}
    assert by_thread["Query"] == threading.current_thread().name != by_thread["GetItem"], "side by side"


def test_counters_without_index_keys_are_read_after_the_query(settings: Settings, alice: User) -> None:
    """Written before the keys existed: the list still counts, then the next change adds them."""
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 4)
    _drop_index_keys(settings, alice)
    store, probe = _store(settings)
    _, total = store.page_and_count(alice.user_id, Selection(), 20, None)
    assert total == 4 and _names(probe) == ["Query", "GetItem"]


def test_an_account_without_counters_lists_nothing_and_counts_zero(
    client: TestClient, settings: Settings, alice: User
) -> None:
    store, probe = _store(settings)
    page, total = store.page_and_count(alice.user_id, Selection(), 20, None)
    assert (page.records, total) == ([], 0) and _names(probe) == ["Query", "GetItem"]
    body = client.get(ECHOES, headers=alice.headers).json()
    assert body["echoes"] == [] and body["total_count"] == 0


@pytest.mark.parametrize("indexed", [True, False], ids=["marked-in-index", "marked-by-older-code"])
def test_an_erased_accounts_first_page_is_refused(
    client: TestClient, settings: Settings, alice: User, indexed: bool
) -> None:
    """The erasure's mark refuses the token whether the Query met it or the GetItem read it."""
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 3)
    if indexed:
        boto3.client("dynamodb").update_item(
            TableName=settings.dynamodb_table_name,
            Key=key(alice.user_id, COUNTS_SK),
            UpdateExpression="SET #e = :now",
            ExpressionAttributeNames={"#e": ERASED_ATTRIBUTE},
            ExpressionAttributeValues={":now": {"N": "1"}},
        )
    else:
        _drop_index_keys(settings, alice, also=f" SET {ERASED_ATTRIBUTE} = :now")
    store, probe = _store(settings)
    with pytest.raises(ApiError) as refused:
        store.page_and_count(alice.user_id, Selection(), 20, None)
    assert refused.value.status_code == 401
    assert _names(probe) == (["Query"] if indexed else ["Query", "GetItem"])
    assert client.get(ECHOES, headers=alice.headers).status_code == 401


def test_stats_and_date_ranges_never_take_the_counters_for_an_echo(
    client: TestClient, settings: Settings, alice: User
) -> None:
    """Both read by_created from its top: the newest echo is below the counters item."""
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 3)
    listed = client.get(ECHOES, headers=alice.headers).json()["echoes"]
    stats = client.get(f"{ECHOES}/stats", headers=alice.headers).json()
    assert stats["last_echo_at"] == listed[0]["created_at"] and stats["total_count"] == 3
    since = client.get(ECHOES, params={"from": listed[-1]["created_at"]}, headers=alice.headers)
    assert since.status_code == 200, since.text
    assert [echo["echo_id"] for echo in since.json()["echoes"]] == [echo["echo_id"] for echo in listed]


def test_without_the_setting_nothing_writes_the_keys_and_keyed_counters_still_read_right(
    stack: LocalStack, alice: User, make_echo: EchoFactory
) -> None:
    """Turned off after it was on: the items keep their keys; every page reads the counters beside
    its Query, and neither a list nor the stats take the counters item for an echo."""
    settings = support.settings_for(stack, max_audio_bytes=64 * 1024, counters_in_list_index=False)
    client = TestClient(create_app(settings, fetch_jwks=support.moto_jwks), raise_server_exceptions=False)
    table = boto3.client("dynamodb")
    make_echo(alice)  # through the fixture's app: the setting on
    assert "gsi1sk" in table.get_item(TableName=stack.table_name, Key=key(alice.user_id, COUNTS_SK))["Item"]
    bob = support.new_user(stack, "bob")
    echo_id = support.upload_audio(client, bob, support.wav_bytes())
    created = client.post(f"{ECHOES}?echo_id={echo_id}", json=support.echo_body(), headers=bob.headers)
    assert created.status_code == 201, created.text
    assert "gsi1sk" not in table.get_item(TableName=stack.table_name, Key=key(bob.user_id, COUNTS_SK))["Item"]
    store, probe = _store(settings, counters_in_index=False)
    page, total = store.page_and_count(alice.user_id, Selection(), 20, None)
    assert total == 1 and len(page.records) == 1 and sorted(_names(probe)) == ["GetItem", "Query"]
    listed = client.get(ECHOES, headers=alice.headers).json()
    assert listed["total_count"] == 1 and len(listed["echoes"]) == 1
    stats = client.get(f"{ECHOES}/stats", headers=alice.headers).json()
    assert stats["last_echo_at"] == listed["echoes"][0]["created_at"]


@pytest.mark.parametrize("counters_in_index", [True, False], ids=["on", "off"])
@pytest.mark.parametrize("keyed", [True, False], ids=["keyed-counters", "unkeyed-counters"])
def test_pages_end_where_the_echoes_do_whatever_the_counters_hold(
    settings: Settings, alice: User, counters_in_index: bool, keyed: bool
) -> None:
    """A page as long as the echoes has no next page, a shorter one has: with the counters item
    met where it was not expected (the setting turned off) or expected where it is missing."""
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 4)
    if not keyed:
        _drop_index_keys(settings, alice)
    store, _ = _store(settings, counters_in_index)
    whole, total = store.page_and_count(alice.user_id, Selection(), 4, None)
    assert (len(whole.records), whole.next_key, total) == (4, None, 4)
    short, _ = store.page_and_count(alice.user_id, Selection(), 3, None)
    assert len(short.records) == 3 and short.next_key is not None
    assert short.records == whole.records[:3]
