"""What must hold for one user after any operation, read straight from the table (for tests).

Counters equal the echoes (overall, per emotion, bytes); slots 1..n of every group point at live
echoes whose slot fields point back, and nothing lies past n; every tag of every echo has exactly
one tag item holding the echo's current doc, and no tag item belongs to a missing echo or a tag
the echo no longer has; every echo has a version >= 1.
"""

from collections import Counter
from typing import Any

from app.store.records import (
    ALL,
    BYTES_ATTRIBUTE,
    COUNTS_SK,
    EchoRecord,
    Item,
    count_attribute,
    tag_sk,
    user_pk,
)


def partition(dynamodb: Any, table: str, user_id: str) -> list[Item]:
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": user_pk(user_id)}},
        "ConsistentRead": True,
    }
    items: list[Item] = []
    while True:
        response = dynamodb.query(**request)
        items += response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def violations(dynamodb: Any, table: str, user_id: str) -> list[str]:
    """Every broken invariant, described; empty when all hold."""
    items = partition(dynamodb, table, user_id)
    by_sk = {item["sk"]["S"]: item for item in items}
    echoes = {
        record.echo_id: record
        for record in (EchoRecord.from_item(i) for sk, i in by_sk.items() if sk.startswith("ECHO#"))
    }
    problems: list[str] = []
    counts_item = by_sk.get(COUNTS_SK, {})
    counts = {name: int(value["N"]) for name, value in counts_item.items() if "N" in value}
    per_emotion = Counter(record.emotion for record in echoes.values())
    expected = {count_attribute(ALL): len(echoes)} | {
        count_attribute(emotion): n for emotion, n in per_emotion.items()
    }
    for name, value in expected.items():
        if counts.get(name, 0) != value:
            problems.append(f"counter {name} is {counts.get(name, 0)}, {value} echoes")
    for name, value in counts.items():
        if name.startswith("n_") and name not in expected and value != 0:
            problems.append(f"counter {name} is {value}, no such echoes")
    if echoes and counts.get(BYTES_ATTRIBUTE, 0) != sum(r.file_size for r in echoes.values()):
        problems.append(
            f"bytes is {counts.get(BYTES_ATTRIBUTE, 0)}, echoes hold {sum(r.file_size for r in echoes.values())}"
        )
    groups = {ALL: len(echoes)} | dict(per_emotion)
    for sk, item in by_sk.items():
        if sk.startswith("SLOT#"):
            _, group, slot = sk.split("#")
            echo = echoes.get(item["echo_id"]["S"])
            if int(slot) > groups.get(group, 0):
                problems.append(f"{sk} lies past the end ({groups.get(group, 0)})")
            elif echo is None:
                problems.append(f"{sk} points at a missing echo")
            elif (echo.slot if group == ALL else echo.emotion_slot) != int(slot):
                problems.append(f"{sk} points at {echo.echo_id}, whose slot is elsewhere")
    for group, n in groups.items():
        for slot in range(1, n + 1):
            if f"SLOT#{group}#{slot}" not in by_sk:
                problems.append(f"SLOT#{group}#{slot} is missing")
    wanted_tags = {
        tag_sk(tag, record.created_at, record.echo_id): record
        for record in echoes.values()
        for tag in record.tags
    }
    for sk, item in by_sk.items():
        if sk.startswith("TAG#"):
            record = wanted_tags.get(sk)
            if record is None:
                problems.append(f"{sk} is a tag item of no current echo tag")
            elif item["doc"]["S"] != record.doc():
                problems.append(f"{sk} holds a stale doc (echo version {record.version})")
    problems += [f"tag item {sk} is missing" for sk in wanted_tags if sk not in by_sk]
    problems += [f"echo {r.echo_id} has version {r.version}" for r in echoes.values() if r.version < 1]
    for sk in by_sk:
        if sk.startswith("UPLOAD#") and sk.removeprefix("UPLOAD#") in echoes:
            problems.append(f"{sk} is pending for an existing echo")
    return problems
