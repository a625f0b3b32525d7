"""DELETE /api/v1/me and GET /api/v1/me/export through the API: DynamoDB Local for the table,
moto (mock_aws) for the versioned bucket and Cognito.

What AWS would do that the emulators do not: DynamoDB caps one partition key at about 1,000 write
units a second and throttles batch writes beyond it (UnprocessedItems, retried with backoff by the
eraser); DynamoDB Local never throttles. moto's S3 answers DeleteObjects without per-key errors
(SlowDown, InternalError): tests/faults.py injects them; a pass that meets one fails as that AWS
error would, and the next pass repeats its work."""

import io
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from fastapi.testclient import TestClient
from mangum import Mangum

from app import deadline
from app.account import LambdaErasure
from app.aws import create_clients
from app.erasure import (
    MAX_CHAIN_PASSES,
    PASS_OVERHEAD_SECONDS,
    ErasureEvent,
    ErasurePasses,
    build_passes,
    handle,
)
from app.main import create_app
from app.settings import Settings
from app.store.account import (
    ITEMS_PER_ROUND,
    LEASE_OWNER_ATTRIBUTE,
    RESERVE_SECONDS,
    S3_BATCH,
    audio_prefix,
)
from devtools.events import LambdaContext, response_headers, rest_event
from devtools.local_aws import LocalStack
from devtools.seed import seed_echoes
from tests.faults import CallProbe, EndlessUnprocessedItems, PerKeyDeleteErrors
from tests.support import (
    EchoFactory,
    User,
    echo_record,
    invariant_violations,
    moto_jwks,
    partition_items,
    settings_for,
)

ME = "/api/v1/me"
# Enough for more than one page of everything the erasure walks, and no more (seeding is most of
# the test's time): 750 echoes leave 1,050 object versions and delete markers (S3 lists and
# deletes 1,000 at a time) and about 2,300 items (ITEMS_PER_ROUND is 1,000).
SEEDED = 750
# Echoes whose erasure a pass of budget 0.01 s leaves unfinished twice over: every pass deletes one
# round of ITEMS_PER_ROUND items, and 550 echoes are about 2,250 items (4 or 5 each).
UNFINISHED_AFTER_TWO_PASSES = 550


def _seed_unfinished_after_two_passes(settings: Settings, user: User) -> None:
    seed_echoes(
        boto3.client("dynamodb"), settings.dynamodb_table_name, user.user_id, UNFINISHED_AFTER_TWO_PASSES
    )


def _app(stack: LocalStack, settings: Settings, **overrides: object) -> TestClient:
    values = {"max_audio_bytes": settings.max_audio_bytes, **overrides}
    return TestClient(
        create_app(settings_for(stack, **values), fetch_jwks=moto_jwks), raise_server_exceptions=False
    )


def _versions(settings: Settings, user: User) -> int:
    """Object versions and delete markers under the user's prefix, over every page."""
    pages = boto3.client("s3").get_paginator("list_object_versions")
    return sum(
        len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        for page in pages.paginate(Bucket=settings.s3_bucket_name, Prefix=audio_prefix(user.user_id))
    )


def _cognito_user_exists(stack: LocalStack, user: User) -> bool:
    try:
        boto3.client("cognito-idp").admin_get_user(UserPoolId=stack.user_pool_id, Username=user.email)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "UserNotFoundException"
        return False
    return True


@pytest.fixture
def seeded_alice(alice: User, settings: Settings, make_echo: EchoFactory) -> User:
    """Alice with SEEDED echoes written directly (versioned audio included), one made through the
    API (a real upload) and one pending upload."""
    seed_echoes(
        boto3.client("dynamodb"),
        settings.dynamodb_table_name,
        alice.user_id,
        SEEDED,
        boto3.client("s3"),
        settings.s3_bucket_name,
    )
    return alice


def test_erasing_an_account_of_more_than_a_page_of_everything_interrupted_then_resumed(
    stack: LocalStack,
    settings: Settings,
    seeded_alice: User,
    bob: User,
    make_echo: EchoFactory,
    client: TestClient,
) -> None:
    alice = seeded_alice
    make_echo(alice, tags=["rain"])
    client.post(
        "/api/v1/echoes/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav", "file_size": 1000},
        headers=alice.headers,
    )
    kept = make_echo(bob)
    bob_before = partition_items(settings.dynamodb_table_name, bob)
    assert _versions(settings, alice) > S3_BATCH
    assert len(partition_items(settings.dynamodb_table_name, alice)) > ITEMS_PER_ROUND

    # 1. a pass cut short by its time budget answers 202 with its progress
    hurried = _app(stack, settings, erasure_budget_seconds=0.01)
    first = hurried.delete(ME, headers=alice.headers)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "erasing" and first.json()["phase"] in {"audio", "records"}
    # while erasing, the account refuses writes and reads that go through the counters
    assert client.get("/api/v1/echoes", headers=alice.headers).status_code == 401

    # 2. a pass that fails halfway (the network drops on the 3rd batch write) answers 503
    broken = _app(stack, settings)
    calls = {"n": 0}

    def drop(**_: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise EndpointConnectionError(endpoint_url="https://dynamodb")

    broken.app.state.aws_clients.dynamodb.meta.events.register("before-call.dynamodb.BatchWriteItem", drop)
    failed = broken.delete(ME, headers=alice.headers)
    assert failed.status_code == 503, failed.text
    assert _cognito_user_exists(stack, alice)  # the user goes last

    # 3. repeating completes it
    for _ in range(10):
        done = client.delete(ME, headers=alice.headers)
        if done.status_code != 202:
            break
    assert done.status_code == 204, done.text
    assert _versions(settings, alice) == 0
    remaining = partition_items(settings.dynamodb_table_name, alice)
    assert [item["sk"]["S"] for item in remaining] == ["COUNTS"]
    assert set(remaining[0]) == {  # no counts left; the index keys put it at the top of a list's Query
        "pk",
        "sk",
        "gsi1pk",
        "gsi1sk",
        "erased_at",
        "erasure_phase",
        "expires_at",
    }
    assert not _cognito_user_exists(stack, alice)

    # the old token is refused from now on, also for a repeated erasure
    for method, path in [
        ("GET", "/api/v1/echoes"),
        ("GET", "/api/v1/echoes/stats"),
        ("DELETE", ME),
        ("GET", f"{ME}/export"),
    ]:
        response = client.request(method, path, headers=alice.headers)
        assert response.status_code == 401 and response.json()["error"] == "authentication_failed", (
            path,
            response.text,
        )
    init = client.post(
        "/api/v1/echoes/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav", "file_size": 1000},
        headers=alice.headers,
    )
    assert init.status_code == 401

    # Bob is untouched
    assert partition_items(settings.dynamodb_table_name, bob) == bob_before
    assert client.get(f"/api/v1/echoes/{kept['echo_id']}", headers=bob.headers).status_code == 200
    assert _versions(settings, bob) == 1
    assert invariant_violations(settings, bob) == []


class _ErasureFunction:
    """The erasure function as Lambda runs it, in process: `invoke` is a Lambda client's Invoke
    (RequestResponse runs a pass and answers; Event collects the event, as Lambda's queue would
    hold it), `deliver` runs the next collected asynchronous event (a failure raises, as it would
    reach the on-failure destination)."""

    def __init__(self, stack: LocalStack, settings: Settings, **overrides: object) -> None:
        self.settings = settings_for(stack, max_audio_bytes=settings.max_audio_bytes, **overrides)
        self.clients = create_clients(self.settings.aws_region)
        self.queued: list[dict[str, Any]] = []
        self.passes: ErasurePasses = build_passes(
            self.settings, self.clients.dynamodb, self.clients.s3, self._continue
        )

    def _continue(self, event: ErasureEvent) -> None:
        # The real continuation is a Lambda Invoke: botocore refuses calls past the deadline.
        left = deadline.remaining()
        assert left is not None and left > 0, "the Invoke would be refused by the deadline"
        self.queued.append(json.loads(json.dumps(event.to_json())))

    def invoke(self, **request: Any) -> dict[str, Any]:
        assert request["InvocationType"] == "RequestResponse" and request["FunctionName"]
        left = LambdaContext.fresh().get_remaining_time_in_millis() / 1000
        answer = handle(self.passes, json.loads(request["Payload"]), left)
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

    def deliver(self) -> dict[str, Any]:
        return handle(self.passes, self.queued.pop(0), 10.0)

    def api(self) -> Mangum:
        """The API in Lambda, whose DELETE /api/v1/me invokes this function."""
        app = create_app(self.settings, fetch_jwks=moto_jwks)
        app.state.account_service.start_erasure = LambdaErasure("echoes-dev-erasure", lambda: self)
        return Mangum(app, lifespan="off")


def test_in_lambda_an_unfinished_erasure_continues_by_invoking_itself(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """The API invokes the erasure function for the first pass; each unfinished pass invokes the
    function again asynchronously with the chain's next pass, until the erasure is complete."""
    seed_echoes(
        boto3.client("dynamodb"),
        settings.dynamodb_table_name,
        alice.user_id,
        UNFINISHED_AFTER_TWO_PASSES,
        boto3.client("s3"),
        settings.s3_bucket_name,
    )
    function = _ErasureFunction(stack, settings, erasure_budget_seconds=0.01)
    first = function.api()(rest_event("DELETE", ME, None, alice.headers), LambdaContext.fresh())
    assert first["statusCode"] == 202 and json.loads(first["body"])["continuing"] is True
    answers = []
    while function.queued and len(answers) < 50:
        answers.append(function.deliver())
    assert answers[-1] == {"done": True} and all("progress" in answer for answer in answers[:-1]), answers
    assert not function.queued and _versions(settings, alice) == 0 and not _cognito_user_exists(stack, alice)
    # a late duplicate of a pass finds the erasure complete and ends there
    assert handle(function.passes, ErasureEvent(alice.user_id, alice.email).to_json(), 10.0) == {
        "erased": True
    }


def test_parallel_erasures_of_one_account_make_one_chain(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """Issue 22, finding 4: each DELETE /api/v1/me made while an erasure was unfinished started a
    chain of its own (3 requests gave 297 invocations). The first pass's lease in the marker
    (a conditioned write, on DynamoDB Local as in DynamoDB) lets one chain work at a time."""
    _seed_unfinished_after_two_passes(settings, alice)
    function = _ErasureFunction(stack, settings, erasure_budget_seconds=0.01)
    request = ErasureEvent(alice.user_id, alice.email).to_json()
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: handle(function.passes, request, 10.0), range(5)))
    assert all(answer["progress"]["continuing"] for answer in answers), answers
    assert len(function.queued) == 1, f"{len(function.queued)} chains for 5 parallel requests"
    # While the chain runs, another DELETE only reports progress: no second chain.
    assert "progress" in handle(function.passes, request, 10.0) and len(function.queued) == 1
    delivered = 0
    while function.queued and delivered < 50:
        function.deliver()
        delivered += 1
    assert delivered < 50 and not _cognito_user_exists(stack, alice)


def test_a_chain_whose_lease_expired_is_taken_over(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """A chain that died without releasing its lease (its Invoke lost, the function killed) holds
    the account only until the lease expires: then the caller's DELETE starts a new chain, and a
    late pass of the dead chain stops at its next write instead of working beside it."""
    _seed_unfinished_after_two_passes(settings, alice)
    function = _ErasureFunction(stack, settings, erasure_budget_seconds=0.01)
    request = ErasureEvent(alice.user_id, alice.email).to_json()
    assert "progress" in handle(function.passes, request, 10.0)
    dead = function.queued.pop(0)  # never delivered
    assert handle(function.passes, request, 10.0)["progress"]["items_deleted"] == 0  # held
    boto3.client("dynamodb").update_item(
        TableName=settings.dynamodb_table_name,
        Key={"pk": {"S": f"USER#{alice.user_id}"}, "sk": {"S": "COUNTS"}},
        UpdateExpression="SET erasure_lease_until = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    taken = handle(function.passes, request, 10.0)
    assert taken["progress"]["items_deleted"] > 0 and len(function.queued) == 1
    late = handle(function.passes, dead, 10.0)  # the dead chain's pass, delivered late
    assert late["progress"]["items_deleted"] == 0 and len(function.queued) == 1


def test_erasing_a_new_account_in_one_pass(
    stack: LocalStack, client: TestClient, alice: User, make_echo: EchoFactory
) -> None:
    make_echo(alice)
    assert client.delete(ME, headers=alice.headers).status_code == 204
    assert not _cognito_user_exists(stack, alice)


def test_a_create_racing_the_erasure_cannot_commit(
    client: TestClient, settings: Settings, alice: User, make_echo: EchoFactory, stack: LocalStack
) -> None:
    """Once the marker is set, every create transaction fails its condition on the counters."""
    init = client.post(
        "/api/v1/echoes/init-upload",
        json={"file_extension": "wav", "content_type": "audio/wav", "file_size": 1000},
        headers=alice.headers,
    ).json()
    _app(stack, settings, erasure_budget_seconds=0.01).delete(ME, headers=alice.headers)
    from app.store.echoes import EchoStore

    store = EchoStore(boto3.client("dynamodb"), settings.dynamodb_table_name)
    record = echo_record(echo_id=init["echo_id"], user_id=alice.user_id, s3_key=init["s3_key"], file_size=10)
    with pytest.raises(Exception) as refused:
        store.create_echo(record)
    assert "erased" in str(refused.value)


def test_export_pages_everything_with_fresh_audio_urls(
    stack: LocalStack, settings: Settings, alice: User, bob: User, make_echo: EchoFactory
) -> None:
    seeded = seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 1_200)
    make_echo(bob)
    exporter = _app(stack, settings, export_page_size=500)
    pages, cursor = [], None
    while True:
        response = exporter.get(
            f"{ME}/export", params={"cursor": cursor} if cursor else {}, headers=alice.headers
        )
        assert response.status_code == 200, response.text
        assert len(response.content) < 6 * 1024 * 1024  # Lambda's response payload limit
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            break
    assert [len(page["echoes"]) for page in pages] == [500, 500, 200]
    exported = [echo["echo_id"] for page in pages for echo in page["echoes"]]
    assert exported == list(reversed(seeded.echo_ids))
    assert pages[0]["stats"]["total_count"] == 1_200 and all(page["stats"] is None for page in pages[1:])
    assert all(echo["audio_url"].startswith("https://") for page in pages for echo in page["echoes"])
    assert {page["user_id"] for page in pages} == {alice.user_id}
    tampered = exporter.get(
        f"{ME}/export", params={"cursor": pages[0]["next_cursor"] + "x"}, headers=alice.headers
    )
    assert tampered.status_code == 400
    # Bob's cursor is not Alice's
    assert (
        exporter.get(
            f"{ME}/export", params={"cursor": pages[0]["next_cursor"]}, headers=bob.headers
        ).status_code
        == 400
    )


def test_the_parallel_deletes_of_a_pass_run_under_its_deadline(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """The pass's deadline is a context variable, which ThreadPoolExecutor's workers do not
    inherit: their calls saw no deadline at all (None), so the botocore hook and the retries
    in them were unbounded."""
    seed_echoes(
        boto3.client("dynamodb"),
        settings.dynamodb_table_name,
        alice.user_id,
        60,
        boto3.client("s3"),
        settings.s3_bucket_name,
    )
    app = _app(stack, settings)
    clients = app.app.state.aws_clients  # type: ignore[attr-defined]
    probe = CallProbe([clients.dynamodb, clients.s3])
    assert app.delete(ME, headers=alice.headers).status_code == 204
    parallel = [call for call in probe.calls if call[0] in {"BatchWriteItem", "DeleteObjects"}]
    assert {name for name, _, _ in parallel} == {"BatchWriteItem", "DeleteObjects"}
    assert any(thread != threading.current_thread().name for _, thread, _ in parallel)
    assert all(left is not None and left > 0 for _, _, left in probe.calls), probe.calls


def test_a_partition_that_stays_throttled_fails_the_pass_at_its_deadline(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """DynamoDB leaves items unprocessed while it throttles: the eraser retried them without a
    bound (and, in its worker threads, without a deadline), so a pass could outlive the
    function's timeout. Now the retries stop at the pass's deadline: 503, and the next pass (or
    the caller's repeated DELETE) goes on where this one stopped."""
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 60)
    hurried = _app(stack, settings, erasure_budget_seconds=0.5)
    clients = hurried.app.state.aws_clients  # type: ignore[attr-defined]
    throttled = EndlessUnprocessedItems(clients.dynamodb)
    probe = CallProbe([clients.dynamodb])
    started = time.monotonic()
    response = hurried.delete(ME, headers=alice.headers)
    elapsed = time.monotonic() - started
    assert response.status_code == 503 and response.headers["Retry-After"], response.text
    assert not throttled.gave_up, "the pass retried unprocessed items past its deadline"
    writes = [left for name, _, left in probe.calls if name == "BatchWriteItem"]
    # Every write, in every worker thread, saw the pass's deadline, and the throttled items were
    # retried. A write begun as the deadline ran out may see none left: app/aws.py refuses it
    # before it is sent, so on a loaded machine the last ones need not be > 0.
    assert all(left is not None for left in writes), writes
    assert sum(1 for left in writes if left > 0) > 1, writes
    # Not a speed assertion: the bound that matters, with room for a loaded machine (the pass's
    # deadline is 0.5 + RESERVE_SECONDS; Lambda would kill it at the timeout, mid-round).
    assert elapsed < settings.function_timeout_seconds
    # Unthrottled, the next request completes the erasure.
    assert _app(stack, settings).delete(ME, headers=alice.headers).status_code == 204


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("SlowDown", 503, "service_unavailable"),
        ("InternalError", 503, "service_unavailable"),
        ("AccessDenied", 500, "internal_server_error"),
    ],
)
def test_a_per_key_delete_error_answers_as_that_aws_error_and_the_next_pass_goes_on(
    stack: LocalStack,
    settings: Settings,
    alice: User,
    make_echo: EchoFactory,
    code: str,
    status: int,
    error: str,
) -> None:
    """DeleteObjects reports a key it could not delete inside a 200: S3 asking to slow down is a
    503 with Retry-After, as a throttled call is (it was a 500); a refusal stays a 500."""
    make_echo(alice)
    app = _app(stack, settings)
    failing = PerKeyDeleteErrors(app.app.state.aws_clients.s3, code)  # type: ignore[attr-defined]
    response = app.delete(ME, headers=alice.headers)
    assert (response.status_code, response.json()["error"]) == (status, error), response.text
    assert ("Retry-After" in response.headers) is (status == 503)
    assert _cognito_user_exists(stack, alice), "the user goes last"
    failing.stop()
    assert app.delete(ME, headers=alice.headers).status_code == 204


def _stopped_chain(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> logging.LogRecord:
    """The one error log of a stopped chain, after checking its one ErasureChainStopped metric (EMF)."""
    [stopped] = [record for record in caplog.records if "the caller's DELETE" in record.getMessage()]
    assert capsys.readouterr().out.count('"ErasureChainStopped":[1.0]') == 1
    return stopped


def test_a_chain_of_failing_passes_stops_after_three(
    stack: LocalStack,
    settings: Settings,
    alice: User,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before, only the token's expiry ended a chain whose every pass failed (AWS's recursive
    loop detection covers loops through SQS, SNS and S3, not a function invoking itself)."""
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 30)
    function = _ErasureFunction(stack, settings)

    def down(**_: object) -> None:
        raise EndpointConnectionError(endpoint_url="https://dynamodb")

    function.clients.dynamodb.meta.events.register("before-call.dynamodb.BatchWriteItem", down)
    request = ErasureEvent(alice.user_id, alice.email).to_json()
    assert "failed" in handle(function.passes, request, 10.0)  # the API answers 503
    failures = 0
    while function.queued and failures < 20:
        with pytest.raises(EndpointConnectionError):  # to the on-failure destination
            function.deliver()
        failures += 1
    assert failures == 2 and not function.queued
    stopped = _stopped_chain(caplog, capsys)
    assert "Account erasure chain stopped" in stopped.getMessage()
    assert stopped.__dict__["reason"] == "3 failed passes in a row"
    # The stopped chain gave its lease up: the caller's DELETE starts a new chain at once, which
    # completes once DynamoDB is back.
    function.clients.dynamodb.meta.events.unregister("before-call.dynamodb.BatchWriteItem", down)
    assert handle(function.passes, request, 10.0) == {"done": True}


def test_a_chain_ends_after_max_passes_even_while_it_progresses(
    stack: LocalStack,
    settings: Settings,
    alice: User,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _seed_unfinished_after_two_passes(settings, alice)
    function = _ErasureFunction(stack, settings, erasure_budget_seconds=0.01)
    assert "progress" in handle(function.passes, ErasureEvent(alice.user_id, alice.email).to_json(), 10.0)
    [queued] = function.queued
    assert queued["chain"][1:] == [2, 0]
    # The last pass a chain may have, as Lambda would deliver it.
    function.queued[0] = queued | {"chain": [queued["chain"][0], MAX_CHAIN_PASSES, 0]}
    answer = function.deliver()
    assert answer["progress"]["continuing"] is False and not function.queued
    stopped = _stopped_chain(caplog, capsys)
    assert stopped.__dict__["reason"] == f"{MAX_CHAIN_PASSES} passes"


def test_a_pass_is_sized_from_the_time_the_invocation_has_left(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """The pass measured its budget from its own start: time the invocation had spent before came
    on top, so budget + overhead could pass the function's timeout and Lambda would kill the pass
    mid-round (no answer, no continuation). The API's synchronous first pass is also held to the
    time the API waits (the event's time_left)."""
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 30)
    function = _ErasureFunction(stack, settings)
    probe = CallProbe([function.clients.dynamodb, function.clients.s3])
    left = 8.0
    request = ErasureEvent(alice.user_id, alice.email, time_left=left).to_json()
    assert handle(function.passes, request, 10.0) == {"done": True}
    seen = [remaining for _, _, remaining in probe.calls if remaining is not None]
    assert seen, probe.calls
    # The calls' deadline (budget + RESERVE_SECONDS) leaves the rest of the overhead under what
    # the invocation has left: the continuation, a late call and the answer.
    assert max(seen) <= left - (PASS_OVERHEAD_SECONDS - RESERVE_SECONDS), max(seen)


def test_a_continuation_that_lambda_refuses_still_answers_the_pass(
    stack: LocalStack,
    settings: Settings,
    alice: User,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only DeadlineExceeded was caught around the Invoke: Lambda's refusal (throttled, payload
    too large) turned a pass that did its work into a failure without a word of the chain having
    stopped. Now the pass answers, the chain's stop is reported, and its lease is released."""
    _seed_unfinished_after_two_passes(settings, alice)
    function = _ErasureFunction(stack, settings, erasure_budget_seconds=0.01)

    def refused(event: ErasureEvent) -> None:
        raise ClientError(
            {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke"
        )

    function.passes.continuation = refused
    answer = handle(function.passes, ErasureEvent(alice.user_id, alice.email).to_json(), 10.0)
    assert answer["progress"]["continuing"] is False, answer
    stopped = _stopped_chain(caplog, capsys)
    assert "not continued" in stopped.getMessage()
    marker = partition_items(settings.dynamodb_table_name, alice)[0]
    assert marker["sk"]["S"] == "COUNTS" and LEASE_OWNER_ATTRIBUTE not in marker


def test_the_continuation_carries_no_token_and_no_body(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """The erasure function is invoked with whose account and which pass, nothing the caller sent:
    an asynchronous Invoke takes at most 1 MB, and no token can expire while the chain runs."""
    _seed_unfinished_after_two_passes(settings, alice)
    function = _ErasureFunction(stack, settings, erasure_budget_seconds=0.01)
    handler = function.api()
    event = rest_event("DELETE", ME, None, alice.headers, body=b"x" * (2 * 1024 * 1024))
    assert handler(event, LambdaContext.fresh())["statusCode"] == 202
    [continued] = function.queued
    assert (
        set(continued) == {"user_id", "username", "chain", "time_left"} and len(json.dumps(continued)) < 1024
    )
    assert continued["time_left"] is None  # an asynchronous pass has its function's whole timeout
    assert alice.access_token not in json.dumps(continued)


def test_the_api_answers_for_the_erasure_function(stack: LocalStack, settings: Settings, alice: User) -> None:
    """What the erasure function answers, the API turns into the caller's status: a failed first
    pass is a 503 with Retry-After (the chain goes on), a complete erasure the old token's 401."""
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 5)
    function = _ErasureFunction(stack, settings)
    handler = function.api()

    def down(**_: object) -> None:
        raise EndpointConnectionError(endpoint_url="https://dynamodb")

    function.clients.dynamodb.meta.events.register("before-call.dynamodb.BatchWriteItem", down)
    failed = handler(rest_event("DELETE", ME, None, alice.headers), LambdaContext.fresh())
    headers = {name.lower(): value for name, value in response_headers(failed).items()}
    assert failed["statusCode"] == 503 and headers["retry-after"], failed
    function.clients.dynamodb.meta.events.unregister("before-call.dynamodb.BatchWriteItem", down)
    assert function.deliver() == {"done": True}  # the failed pass's continuation completes it
    assert handle(function.passes, ErasureEvent(alice.user_id, alice.email).to_json(), 10.0) == {
        "erased": True
    }
