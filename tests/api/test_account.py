"""DELETE /api/v1/me and GET /api/v1/me/export through the API: DynamoDB Local for the table,
moto (mock_aws) for the versioned bucket and Cognito.

What AWS would do that the emulators do not: DynamoDB caps one partition key at about 1,000 write
units a second and throttles batch writes beyond it (UnprocessedItems, retried with backoff by the
eraser); DynamoDB Local never throttles. moto's S3 answers DeleteObjects without per-key errors
(SlowDown, InternalError): tests/faults.py injects them; a pass that meets one fails as that AWS
error would, and the next pass repeats its work."""

import json
import logging
import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from fastapi.testclient import TestClient
from mangum import Mangum

from app import deadline
from app.account import CHAIN_KEY, MAX_CHAIN_PASSES, PASS_OVERHEAD_SECONDS
from app.main import create_app
from app.settings import Settings
from app.store.account import ITEMS_PER_ROUND, RESERVE_SECONDS, S3_BATCH, audio_prefix
from devtools.events import LambdaContext, rest_event
from devtools.local_aws import LocalStack
from devtools.seed import seed_echoes
from tests.faults import CallProbe, EndlessUnprocessedItems, PerKeyDeleteErrors
from tests.support import (
    EchoFactory,
    User,
    access_claims,
    echo_record,
    invariant_violations,
    moto_jwks,
    partition_items,
    pool_signed_token,
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
    assert set(remaining[0]) == {"pk", "sk", "erased_at", "erasure_phase", "expires_at"}  # no counts left
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


def test_in_lambda_an_unfinished_erasure_continues_by_invoking_itself(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """The continuation is the same API Gateway event, invoked asynchronously: here the events
    handed to Lambda's Invoke are collected and run through Mangum as Lambda would run them."""
    seed_echoes(
        boto3.client("dynamodb"),
        settings.dynamodb_table_name,
        alice.user_id,
        UNFINISHED_AFTER_TWO_PASSES,
        boto3.client("s3"),
        settings.s3_bucket_name,
    )
    app = create_app(
        settings_for(stack, max_audio_bytes=settings.max_audio_bytes, erasure_budget_seconds=0.01),
        fetch_jwks=moto_jwks,
    )
    invoked: list[bytes] = []

    def invoke(event: dict) -> None:
        # The real continuation is a Lambda Invoke: botocore refuses calls past the deadline.
        left = deadline.remaining()
        assert left is not None and left > 0, "the Invoke would be refused by the deadline"
        invoked.append(json.dumps(event).encode())

    app.state.account_service.continuation = invoke
    handler = Mangum(app, lifespan="off")
    first = handler(rest_event("DELETE", ME, None, alice.headers), LambdaContext.fresh())
    assert first["statusCode"] == 202 and json.loads(first["body"])["continuing"] is True
    statuses = []
    while invoked and len(statuses) < 50:
        event = json.loads(invoked.pop(0))  # what Lambda's asynchronous Invoke delivers
        statuses.append(handler(event, LambdaContext.fresh())["statusCode"])
    assert statuses[-1] == 204 and set(statuses[:-1]) <= {202}, statuses
    assert not invoked and _versions(settings, alice) == 0 and not _cognito_user_exists(stack, alice)
    # a late duplicate (Lambda retries an asynchronous invocation) is refused and ends the chain
    assert handler(rest_event("DELETE", ME, None, alice.headers), LambdaContext.fresh())["statusCode"] == 401


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


def _lambda_app(stack: LocalStack, settings: Settings, **overrides: object) -> tuple[Mangum, list[dict]]:
    """The app behind Mangum, with the continuation's events collected instead of invoked."""
    app = create_app(
        settings_for(stack, max_audio_bytes=settings.max_audio_bytes, **overrides), fetch_jwks=moto_jwks
    )
    invoked: list[dict] = []
    app.state.account_service.continuation = lambda event: invoked.append(json.loads(json.dumps(event)))
    return Mangum(app, lifespan="off"), invoked


def _stopped_chain(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> logging.LogRecord:
    """The one error log of a stopped chain, after checking its one ErasureChainStopped metric (EMF)."""
    [stopped] = [record for record in caplog.records if record.levelname == "ERROR"]
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
    handler, invoked = _lambda_app(stack, settings)
    dynamodb = handler.app.state.aws_clients.dynamodb  # type: ignore[attr-defined]

    def down(**_: object) -> None:
        raise EndpointConnectionError(endpoint_url="https://dynamodb")

    dynamodb.meta.events.register("before-call.dynamodb.BatchWriteItem", down)
    statuses = [handler(rest_event("DELETE", ME, None, alice.headers), LambdaContext.fresh())["statusCode"]]
    while invoked and len(statuses) < 20:
        statuses.append(handler(invoked.pop(0), LambdaContext.fresh())["statusCode"])
    assert statuses == [503, 503, 503] and not invoked
    stopped = _stopped_chain(caplog, capsys)
    assert "Account erasure chain stopped" in stopped.getMessage()
    assert stopped.__dict__["reason"] == "3 failed passes in a row"

    # The caller's own DELETE starts a new chain, which completes once DynamoDB is back.
    dynamodb.meta.events.unregister("before-call.dynamodb.BatchWriteItem", down)
    assert handler(rest_event("DELETE", ME, None, alice.headers), LambdaContext.fresh())["statusCode"] == 204


def test_a_chain_ends_after_max_passes_even_while_it_progresses(
    stack: LocalStack,
    settings: Settings,
    alice: User,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _seed_unfinished_after_two_passes(settings, alice)
    handler, invoked = _lambda_app(stack, settings, erasure_budget_seconds=0.01)
    first = handler(rest_event("DELETE", ME, None, alice.headers), LambdaContext.fresh())
    assert first["statusCode"] == 202 and invoked[0][CHAIN_KEY] == {"passes": 2, "failed_in_a_row": 0}
    # The last pass a chain may have, as Lambda would deliver it.
    last = invoked.pop(0) | {CHAIN_KEY: {"passes": MAX_CHAIN_PASSES, "failed_in_a_row": 0}}
    answer = handler(last, LambdaContext.fresh())
    assert answer["statusCode"] == 202 and json.loads(answer["body"])["continuing"] is False
    assert not invoked
    stopped = _stopped_chain(caplog, capsys)
    assert stopped.__dict__["reason"] == f"{MAX_CHAIN_PASSES} passes"


class _LateContext(LambdaContext):
    """A Lambda context of an invocation that has already spent SPENT seconds of a 10 s timeout
    before the route runs (a cold container's token verification fetches the JWKS, whose own
    timeout is 3 s)."""

    spent = 2.0

    def get_remaining_time_in_millis(self) -> int:
        return int((10.0 - self.spent) * 1000)


def test_a_pass_is_sized_from_the_time_the_invocation_has_left(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """The pass measured its budget from its own start: time the invocation had spent before
    (verifying the token, the counters) came on top, so budget + overhead could pass the
    function's timeout and Lambda would kill the pass mid-round (no answer, no continuation)."""
    seed_echoes(boto3.client("dynamodb"), settings.dynamodb_table_name, alice.user_id, 30)
    handler, _ = _lambda_app(stack, settings)
    clients = handler.app.state.aws_clients  # type: ignore[attr-defined]
    probe = CallProbe([clients.dynamodb, clients.s3])
    context = _LateContext.fresh()
    left = context.get_remaining_time_in_millis() / 1000
    assert handler(rest_event("DELETE", ME, None, alice.headers), context)["statusCode"] == 204
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
    over the 1 MB asynchronous limit) turned a pass that did its work into a 500 without a word
    of the chain having stopped."""
    _seed_unfinished_after_two_passes(settings, alice)
    handler, _ = _lambda_app(stack, settings, erasure_budget_seconds=0.01)

    def refused(event: dict) -> None:
        raise ClientError(
            {"Error": {"Code": "RequestEntityTooLargeException", "Message": "Request must be smaller"}},
            "Invoke",
        )

    handler.app.state.account_service.continuation = refused  # type: ignore[attr-defined]
    answer = handler(rest_event("DELETE", ME, None, alice.headers), LambdaContext.fresh())
    assert answer["statusCode"] == 202, answer["body"]
    assert json.loads(answer["body"])["continuing"] is False
    stopped = _stopped_chain(caplog, capsys)
    assert "not continued" in stopped.getMessage()


def test_the_continuation_does_not_replay_the_request_body(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    """The route reads no body, but the replayed event carried the caller's: API Gateway passes up
    to 6 MB to a function, and an asynchronous Invoke takes at most 1 MB, so a caller's DELETE
    with a large body made every continuation fail."""
    _seed_unfinished_after_two_passes(settings, alice)
    handler, invoked = _lambda_app(stack, settings, erasure_budget_seconds=0.01)
    event = rest_event("DELETE", ME, None, alice.headers, body=b"x" * (2 * 1024 * 1024))
    assert handler(event, LambdaContext.fresh())["statusCode"] == 202
    [continued] = invoked
    assert continued["body"] is None and len(json.dumps(continued)) < 64 * 1024
    assert handler(continued, LambdaContext.fresh())["statusCode"] in {202, 204}


def test_a_continued_pass_whose_token_has_expired_reports_the_stopped_chain(
    stack: LocalStack,
    settings: Settings,
    alice: User,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each pass is the caller's request replayed with its token: one that expires while the chain
    runs (access tokens live an hour; a large account takes minutes) is refused before the pass
    starts, and the chain ended without the error log or the metric that report a stopped chain,
    while the caller had been told that the erasure continues in the background."""
    _seed_unfinished_after_two_passes(settings, alice)
    handler, invoked = _lambda_app(stack, settings, erasure_budget_seconds=0.01)
    first = handler(rest_event("DELETE", ME, None, alice.headers), LambdaContext.fresh())
    assert first["statusCode"] == 202 and json.loads(first["body"])["continuing"] is True
    now = int(time.time())
    claims = access_claims(
        settings.cognito_issuer,
        settings.cognito_app_client_id,
        sub=alice.user_id,
        iat=now - 3600,
        exp=now - 1,
    )
    [continued] = invoked
    continued["headers"] = continued["headers"] | {"Authorization": f"Bearer {pool_signed_token(claims)}"}
    continued["multiValueHeaders"] = {name: [value] for name, value in continued["headers"].items()}
    caplog.clear()
    capsys.readouterr()
    assert handler(continued, LambdaContext.fresh())["statusCode"] == 401
    stopped = _stopped_chain(caplog, capsys)
    assert "Account erasure chain stopped" in stopped.getMessage()
    assert "token expired" in stopped.__dict__["reason"]
    # The caller's own request, refused the same way, is not a chain: the caller sees the 401.
    expired = {"Authorization": f"Bearer {pool_signed_token(claims)}"}
    assert handler(rest_event("DELETE", ME, None, expired), LambdaContext.fresh())["statusCode"] == 401
    assert '"ErasureChainStopped"' not in capsys.readouterr().out
