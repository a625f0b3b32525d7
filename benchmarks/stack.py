"""The local AWS a benchmark runs against: moto's server with the stack provisioned from
template.yaml, a user with a token, echoes seeded with the layout the app writes, and the table on
Amazon's DynamoDB Local where transactions matter."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.cognito import access_token
from devtools.dynamodb_local import DynamoDBLocal
from devtools.local_aws import LocalStack, provision, provision_table
from devtools.moto import MotoEndpoint

PAGE_SIZE = 20  # the list the benchmark measures: the API's default page
EMOTIONS = ("calm", "joy", "hope", "love")
SITE = "https://echoes.example"


@dataclass
class Environment:
    endpoint: MotoEndpoint
    stack: LocalStack
    token: str
    user_id: str

    def app_env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "Echoes",
            **self.stack.app_env(self.endpoint.url, "prod", SITE),
        }

    def user(self, email: str) -> tuple[str, str]:
        """An access token and the user id of a new user EMAIL."""
        return user(self.stack, email)


def start_aws(dynamodb_endpoint: str | None = None) -> Environment:
    """moto's server as AWS, the stack provisioned on it; the table on DYNAMODB_ENDPOINT (DynamoDB
    Local) when given."""
    endpoint = MotoEndpoint().start()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint.url,
    )
    if dynamodb_endpoint:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_endpoint
    stack = provision("prod", SITE, dynamodb_endpoint=dynamodb_endpoint)
    token, user_id = user(stack, "bench@example.com")
    return Environment(endpoint, stack, token, user_id)


def user(stack: LocalStack, email: str) -> tuple[str, str]:
    """An access token and the user id for EMAIL."""
    import boto3
    import jwt

    tokens = access_token(
        boto3.client("cognito-idp"), stack.user_pool_id, stack.app_client_id, email, "Bench-Passw0rd-1"
    )
    claims = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})
    return tokens["AccessToken"], claims["sub"]


def echo_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def writes_counters_in_index(source: Path) -> bool:
    """Whether the code at SOURCE writes the counters item into the list's index (with
    COUNTERS_IN_LIST_INDEX, which every bench run sets): code before it fails on such an item."""
    return "def counters_index_keys" in (source / "app" / "store" / "records.py").read_text()


def seed(table: str, user_id: str, count: int, counters_in_index: bool = False) -> None:
    """`count` echoes for one user, written in batches with exactly the layout the app writes
    (echo items, dense slots per user and per emotion, counters); each with every optional field,
    so that a listed echo is as large as a user's can be. COUNTERS_IN_INDEX: the counters as code
    that writes them into the list's index does (only such code can read them there)."""
    import boto3

    from app.store.records import ALL, COUNTS_SK, count_attribute, key, slot_sk

    items, counts = [], {ALL: 0}
    for n in range(count):
        emotion = EMOTIONS[n % len(EMOTIONS)]
        counts[ALL] += 1
        counts[emotion] = counts.get(emotion, 0) + 1
        items.append(_record(user_id, n, emotion, counts[ALL], counts[emotion]).to_item())
        items.append(key(user_id, slot_sk(ALL, counts[ALL])) | {"echo_id": {"S": echo_id(n)}})
        items.append(key(user_id, slot_sk(emotion, counts[emotion])) | {"echo_id": {"S": echo_id(n)}})
    counters = key(user_id, COUNTS_SK) | {count_attribute(g): {"N": str(n)} for g, n in counts.items()}
    # By name, not through app.store.records: the bench also runs code older than these keys.
    index_keys = {"gsi1pk": {"S": f"USER#{user_id}"}, "gsi1sk": {"S": COUNTS_SK}}
    items.append(counters | (index_keys if counters_in_index else {}))
    dynamodb = boto3.client("dynamodb")
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={table: batch})


def _record(user_id: str, n: int, emotion: str, slot: int, emotion_slot: int) -> Any:
    from app.store.records import EchoRecord

    return EchoRecord(
        echo_id=echo_id(n),
        user_id=user_id,
        emotion=emotion,
        created_at=f"2026-01-01T00:00:00.{n:06d}Z",
        s3_key=f"audio/{user_id}/{echo_id(n)}.webm",
        file_extension="webm",
        file_size=48_000,
        content_type="audio/webm",
        tags=("rain", "forest"),
        transcript="soft rain on leaves",
        detected_mood="serene",
        duration_seconds=12.5,
        location={"lat": 48.85, "lng": 2.35, "address": "Paris"},
        request_hash="0" * 64,
        slot=slot,
        emotion_slot=emotion_slot,
    )


def listed_items(env: Environment, count: int = PAGE_SIZE) -> list[dict]:
    """The newest echo items of the list's index, whole: benchmarks/warm.py projects them as each
    version of the code asks (and adds the counters item where that version reads it)."""
    import boto3

    response = boto3.client("dynamodb").query(
        TableName=env.stack.table_name,
        IndexName="by_created",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": f"USER#{env.user_id}"}},
        ScanIndexForward=False,
        Limit=count + 2,
    )
    items: list[dict] = [item for item in response["Items"] if "doc" in item][: count + 1]
    return items


@contextmanager
def dynamodb_local_table(env: Environment) -> Iterator[str]:
    """The stack's table again, on Amazon's DynamoDB Local (moto does not isolate transactions);
    botocore clients created inside this block use it. Yields its endpoint URL."""
    server = DynamoDBLocal().start()
    previous = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = server.url
    try:
        provision_table("prod", SITE, env.stack.region, server.url)
        yield server.url
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
        else:
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = previous
        server.stop()
