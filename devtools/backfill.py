"""Upgrade the echoes stored before issue 12 to today's layout.

    python -m devtools.backfill                 (against the running local stack)
    python -m devtools.backfill --table NAME    (the default AWS session: region, credentials and
                                                 AWS_ENDPOINT_URL_DYNAMODB from the environment)

An echo written before issue 12 has a doc without recorded_at and version, no tag items (so a
`?tag=` listing misses it) and no share of the counters' `bytes` (so the byte quota undercounts).
The app copes with one (records.EchoRecord.legacy): a PATCH upgrades it, a delete does not subtract
bytes it never added. This upgrades the rest, one echo per transaction:
  the echo's doc rewritten (recorded_at = created_at, version 1: the ETag it already answered),
  conditioned on the doc as read; its tag items written; its file size ADDed to the counters,
  conditioned on the account not being erased.
So it is idempotent and resumable: an interrupted run is simply run again (it finds only the echoes
not yet upgraded), and it is safe while the API serves (a PATCH or delete of the same echo
conditions on the doc too: one of the two wins, the other reads again).

It Scans the whole table (the app never does): run it with an operator's credentials, not the
function's role, which may not Scan.
"""

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from app.store.records import BYTES_ATTRIBUTE, COUNTS_SK, ERASED_ATTRIBUTE, EchoRecord, Item, echo_sk, key
from app.store.retry import Backoff


@dataclass
class Report:
    upgraded: int = 0  # legacy echoes upgraded by this run
    skipped: int = 0  # found legacy by the Scan, but deleted, upgraded or erased before this run's turn


def legacy_echo_items(client: Any, table: str) -> Iterator[Item]:
    """Every echo item whose doc has no version, page by page (a Scan with a filter: the filter
    is a shortcut, each record is checked again by EchoRecord.from_item)."""
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(sk, :echo) AND NOT contains(#doc, :version)",
        "ExpressionAttributeNames": {"#doc": "doc"},
        # A key inside the JSON doc: quotes inside a string value are escaped, so cannot match.
        "ExpressionAttributeValues": {":echo": {"S": echo_sk("")}, ":version": {"S": '"version":'}},
    }
    while True:
        response = client.scan(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def upgrade_operations(table: str, record: EchoRecord) -> list[dict[str, Any]]:
    """The transaction that upgrades one legacy RECORD (read from the table)."""
    return [
        {
            "Update": {
                "TableName": table,
                "Key": key(record.user_id, echo_sk(record.echo_id)),
                "UpdateExpression": "SET #doc = :new",
                "ConditionExpression": "#doc = :old",
                "ExpressionAttributeNames": {"#doc": "doc"},
                "ExpressionAttributeValues": {":new": {"S": record.doc()}, ":old": {"S": record.stored_doc}},
            }
        },
        *({"Put": {"TableName": table, "Item": item}} for item in record.tag_items()),
        {
            "Update": {
                "TableName": table,
                "Key": key(record.user_id, COUNTS_SK),
                "UpdateExpression": "ADD #bytes :size",
                # An echo exists, so its counters do; an erasure deletes everything: leave it be.
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#erased)",
                "ExpressionAttributeNames": {"#bytes": BYTES_ATTRIBUTE, "#erased": ERASED_ATTRIBUTE},
                "ExpressionAttributeValues": {":size": {"N": str(record.file_size)}},
            }
        },
    ]


def upgrade(client: Any, table: str, item: Item, backoff: Backoff | None = None) -> bool:
    """Upgrade the echo of ITEM if it is still legacy when written: True if this call did it."""
    for _ in (backoff or Backoff()).attempts():
        record = EchoRecord.from_item(item)
        if not record.legacy:
            return False
        try:
            client.transact_write_items(TransactItems=upgrade_operations(table, record))
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
        # Changed since it was read (a PATCH, a delete, a conflict) or the account is being erased.
        counters = client.get_item(TableName=table, Key=key(record.user_id, COUNTS_SK), ConsistentRead=True)
        if ERASED_ATTRIBUTE in counters.get("Item", {}):
            return False
        found = client.get_item(
            TableName=table, Key=key(record.user_id, echo_sk(record.echo_id)), ConsistentRead=True
        )
        if "Item" not in found:
            return False
        item = found["Item"]
    raise RuntimeError(f"echo {item['sk']['S']} of {item['pk']['S']} kept changing: run again")


def backfill(client: Any, table: str) -> Report:
    report = Report()
    for item in legacy_echo_items(client, table):
        if upgrade(client, table, item):
            report.upgraded += 1
        else:
            report.skipped += 1
    return report


def main(argv: list[str]) -> int:
    import boto3

    from devtools.local_stack import STATE_FILE

    parser = argparse.ArgumentParser(prog="python -m devtools.backfill", description=__doc__.split("\n")[0])
    parser.add_argument("--table", help="the table (default: the running local stack's)")
    args = parser.parse_args(argv)
    if args.table:
        client = boto3.client("dynamodb")
        table = args.table
    elif STATE_FILE.exists():
        state = json.loads(STATE_FILE.read_text())
        endpoint = state.get("dynamodb_endpoint") or state["endpoint"]
        client = boto3.client("dynamodb", region_name=state["region"], endpoint_url=endpoint)
        table = state["table_name"]
    else:
        parser.error("give --table, or start ./scripts/local.sh")
    report = backfill(client, table)
    print(f"upgraded {report.upgraded} legacy echoes, skipped {report.skipped} (changed meanwhile)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
