"""SnapStart runtime hooks: what Lambda runs before it snapshots a published version's initialised
environment, and after it resumes a new environment from that snapshot (docs/performance.md,
SnapStart). The hooks come from snapshot_restore_py, which the managed python3.13 runtime provides:
the artifact does not ship it. Lambda runs them only where SnapStart is on; elsewhere the first
request builds what they would have built.

Before the snapshot: everything the first authenticated request would import or build, so that a
restored environment imports nothing. The RSA modules tokens are verified with, the Secrets Manager
client (not the key), and one list request served end to end for a priming user whose DynamoDB
answers are canned: routing, dependencies, pydantic, botocore's serialising, endpoint resolution,
signing and parsing, one playback URL. No network, no token, no user's data; one echo, so no next
page and no cursor key. Then the objects init built are frozen out of the garbage collector's way.

After restore: the random module reseeded (each environment draws its own retry jitter), pooled
connections dropped, and what is measured from a clock started again.
"""

import codecs
import gc
import importlib
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from fastapi import FastAPI
from mangum import Mangum
from mangum.types import LambdaCognitoIdentity, LambdaMobileClientContext
from snapshot_restore_py import register_after_restore, register_before_snapshot

from app import parallel
from app.auth import CurrentUser, get_current_user
from app.store.records import EchoRecord

# Not a Cognito sub (those are UUIDs): no user's partition, and only ever in canned answers.
PRIMING_USER = "snapstart-priming"
_LIST = "/api/v1/echoes"
PRIMING_EVENT: dict[str, Any] = {
    "resource": "/api/v1/{proxy+}",
    "path": _LIST,
    "httpMethod": "GET",
    "headers": {},
    "multiValueHeaders": {},
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": {"proxy": _LIST.removeprefix("/api/v1/")},
    "stageVariables": None,
    "requestContext": {"requestId": PRIMING_USER, "httpMethod": "GET", "path": _LIST},
    "body": None,
    "isBase64Encoded": False,
}


def install(api: FastAPI) -> None:
    """Register the hooks (the runtime finds them because lambda_handler imports this module)."""
    register_before_snapshot(before_snapshot, api)
    register_after_restore(after_restore, api)


def before_snapshot(api: FastAPI) -> None:
    importlib.import_module("app.jws")  # what app/auth.py imports on the first token
    codecs.lookup("idna")  # what the first connection to a host name imports
    api.state.secrets_manager()  # the client the cursor key is read with, on the first cursor
    _serve_priming_list(api)
    parallel.stop()  # the list's worker thread: a snapshot should hold no thread but the runtime's
    gc.collect()
    gc.freeze()  # as lambda_handler does after init: long-lived, out of every later collection


def after_restore(api: FastAPI) -> None:
    random.seed()  # from os.urandom: the snapshot's state is every restored environment's
    for client in (api.state.aws_clients.dynamodb, api.state.aws_clients.s3, api.state.secrets_manager()):
        client.close()  # its pooled connections; the next call opens a new one
    api.state.health.forget()
    api.state.token_verifier.jwks.forget()


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


@contextmanager
def _canned_dynamodb(client: Any, answers: dict[str, dict[str, Any]]) -> Iterator[None]:
    """The DynamoDB client answered at botocore's send step (the request fully built and signed):
    ANSWERS by operation, `{}` for any other (GetItem: no item)."""

    def answer(request: Any, **_: Any) -> AWSResponse:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        body = json.dumps(answers.get(operation, {})).encode()
        headers = HTTPHeaders.from_dict({"Content-Type": "application/x-amz-json-1.0"})
        return AWSResponse(request.url, 200, headers, _Body(body))

    client.meta.events.register_first("before-send.dynamodb", answer)
    try:
        yield
    finally:
        client.meta.events.unregister("before-send.dynamodb", answer)


@contextmanager
def _as_priming_user(api: FastAPI) -> Iterator[None]:
    """FastAPI's documented dependency override: the request is the priming user's, no token is
    verified (the verified-token cache stays empty)."""

    async def priming_user() -> CurrentUser:  # async: a sync dependency would start a worker thread
        return CurrentUser(user_id=PRIMING_USER, username=None, token_use="access")

    api.dependency_overrides[get_current_user] = priming_user
    try:
        yield
    finally:
        del api.dependency_overrides[get_current_user]


def _priming_echo() -> dict[str, Any]:
    record = EchoRecord(
        echo_id="00000000-0000-4000-8000-000000000000",
        user_id=PRIMING_USER,
        emotion="calm",
        created_at="2026-01-01T00:00:00.000Z",
        s3_key=f"audio/{PRIMING_USER}/00000000-0000-4000-8000-000000000000.webm",
        file_extension="webm",
        file_size=1,
        content_type="audio/webm",
        tags=("priming",),
        transcript="priming",
        detected_mood="calm",
        duration_seconds=1.0,
        location={"lat": 0.0, "lng": 0.0, "address": "priming"},
        recorded_at="2026-01-01T00:00:00.000Z",
    )
    return {"doc": {"S": record.doc()}}  # as a listing projects it (LISTED_ATTRIBUTES)


def _serve_priming_list(api: FastAPI) -> None:
    # The counters first, as the top of by_created holds them (COUNTERS_IN_LIST_INDEX).
    items = [{"total": {"N": "1"}}, _priming_echo()]
    answers = {"Query": {"Items": items, "Count": len(items), "ScannedCount": len(items)}}
    with _canned_dynamodb(api.state.aws_clients.dynamodb, answers), _as_priming_user(api):
        # Not lambda_handler.handler: Powertools would count this as the cold start.
        response = Mangum(api, lifespan="off")(PRIMING_EVENT, _PrimingContext())
    if response["statusCode"] != 200:  # a broken app must not be snapshotted: the publish fails
        raise RuntimeError(f"priming list answered {response['statusCode']}: {response['body'][:300]}")


class _PrimingContext:
    """The Lambda context Mangum passes on (only account erasure reads it)."""

    function_name = function_version = log_group_name = log_stream_name = invoked_function_arn = ""
    aws_request_id = PRIMING_USER
    memory_limit_in_mb = 0
    identity: LambdaCognitoIdentity | None = None
    client_context: LambdaMobileClientContext | None = None

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000
