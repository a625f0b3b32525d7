"""The account erasure's passes and chain (app/erasure.py) and the API's account service
(app/account.py), without AWS: the store is an in-memory eraser that keeps the lease as the marker
does in DynamoDB (conditioned writes), so that every branch runs in milliseconds."""

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.account import AccountService, LambdaErasure, in_process
from app.erasure import (
    MAX_CHAIN_PASSES,
    MAX_FAILED_IN_A_ROW,
    PASS_OVERHEAD_SECONDS,
    Chain,
    ErasureEvent,
    ErasurePasses,
    check_erasure_budget,
    handle,
)
from app.errors import ApiError, account_erased
from app.models import EchoStats, ExportPage
from app.settings import Settings, SettingsError
from app.store.account import ErasureResult, ErasureUnderWay, Lease, LeaseLost
from app.sweep import IN_FLIGHT_SECONDS, MAX_DELAY_SECONDS, Sweep, SweepQueue
from tests.support import VALID


def _settings(**values: object) -> Settings:
    return Settings(**{name.lower(): value for name, value in VALID.items()} | values)  # type: ignore[arg-type]


@dataclass
class FakeEraser:
    """An account of ROUNDS rounds of work; the lease as the marker holds it."""

    rounds: int = 1
    fail: Exception | None = None
    done: bool = False
    lease: Lease | None = None
    passes: list[str] = field(default_factory=list)

    def erase(
        self,
        _user_id: str,
        _username: str,
        _ttl: int,
        _stop_at: float,
        lease: Lease,
        before_done: Callable[[], None] | None = None,
    ) -> ErasureResult:
        if self.done:
            raise account_erased()
        if self.lease is not None and self.lease.chain_id != lease.chain_id:
            raise ErasureUnderWay("records")
        self.lease = lease
        self.passes.append(lease.chain_id)
        if self.fail is not None:
            raise self.fail
        self.rounds -= 1
        if self.rounds > 0:
            return ErasureResult(False, "records", 0, 1000)
        if before_done is not None:
            before_done()  # as the store does: a failure here leaves the erasure unfinished
        self.done, self.lease = True, None
        return ErasureResult(True, "done", 0, 1000)

    def release(self, _user_id: str, lease: Lease) -> None:
        if self.lease == lease:
            self.lease = None


def _passes(
    eraser: FakeEraser, continued: list[ErasureEvent] | None = None, **settings: object
) -> ErasurePasses:
    return ErasurePasses(
        _settings(**settings),
        lambda: eraser,
        None if continued is None else continued.append,  # type: ignore[arg-type,return-value]
    )


ALICE = ErasureEvent("u1", "alice")


# --- the pass's time ------------------------------------------------------------------------------


def test_the_default_budget_fits_the_default_timeout_with_its_overhead() -> None:
    settings = _settings()
    assert settings.erasure_budget_seconds + PASS_OVERHEAD_SECONDS <= settings.function_timeout_seconds
    check_erasure_budget(settings)


def test_a_budget_that_would_reach_the_timeout_fails_at_start_naming_both_settings() -> None:
    with pytest.raises(
        SettingsError, match="ERASURE_BUDGET_SECONDS: at most 3 with FUNCTION_TIMEOUT_SECONDS=10"
    ):
        check_erasure_budget(_settings(erasure_budget_seconds=5.0, function_timeout_seconds=10))
    check_erasure_budget(_settings(erasure_budget_seconds=20.0, function_timeout_seconds=29))


# --- the chain ------------------------------------------------------------------------------------


def test_the_chain_travels_in_the_event_and_is_reset_by_a_pass_that_works() -> None:
    chain = Chain("c1").next(failed=True)
    event = ErasureEvent("u1", "alice", chain)
    assert event.to_json() == {"user_id": "u1", "username": "alice", "chain": ["c1", 2, 1], "time_left": None}
    assert ErasureEvent.from_json(json.loads(json.dumps(event.to_json()))) == event
    assert chain.next(failed=False) == Chain("c1", 3, 0)


def test_the_chain_stops_after_max_passes_or_max_failures_in_a_row() -> None:
    assert Chain("c", MAX_CHAIN_PASSES, MAX_FAILED_IN_A_ROW - 1).stop_reason() is None
    assert Chain("c", MAX_CHAIN_PASSES + 1, 0).stop_reason() == f"{MAX_CHAIN_PASSES} passes"
    assert Chain("c", 5, MAX_FAILED_IN_A_ROW).stop_reason() == f"{MAX_FAILED_IN_A_ROW} failed passes in a row"


# --- passes ---------------------------------------------------------------------------------------


def test_a_pass_that_finishes_answers_none_and_continues_nothing() -> None:
    continued: list[ErasureEvent] = []
    assert _passes(FakeEraser(), continued).run(ALICE, 10.0) is None
    assert continued == []


def test_an_unfinished_pass_continues_its_own_chain_until_done() -> None:
    eraser, continued = FakeEraser(rounds=3), []  # type: ignore[var-annotated]
    passes = _passes(eraser, continued)
    progress = passes.run(ALICE, 10.0)
    assert progress is not None and progress.continuing and progress.items_deleted == 1000
    while continued:
        passes.run(continued.pop(0), 10.0)
    assert eraser.done and len(set(eraser.passes)) == 1 and len(eraser.passes) == 3


def test_another_request_while_a_chain_holds_the_lease_starts_no_chain() -> None:
    eraser, continued = FakeEraser(rounds=3), []  # type: ignore[var-annotated]
    passes = _passes(eraser, continued)
    passes.run(ALICE, 10.0)
    progress = passes.run(ALICE, 10.0)  # the caller's DELETE again: a new chain id
    assert progress is not None and progress.continuing and progress.items_deleted == 0
    assert len(continued) == 1 and len(eraser.passes) == 1


def test_a_lease_lost_mid_pass_stops_the_chain_quietly() -> None:
    eraser, continued = FakeEraser(fail=LeaseLost()), []  # type: ignore[var-annotated]
    progress = _passes(eraser, continued).run(ALICE, 10.0)
    assert progress is not None and progress.continuing and continued == []


def test_a_failed_pass_raises_and_asks_for_the_next_one_counting_the_failure() -> None:
    eraser, continued = FakeEraser(fail=OSError("down")), []  # type: ignore[var-annotated]
    with pytest.raises(OSError):
        _passes(eraser, continued).run(ALICE, 10.0)
    [next_pass] = continued
    assert next_pass.chain is not None and (next_pass.chain.passes, next_pass.chain.failed_in_a_row) == (2, 1)


def test_a_stopped_chain_releases_its_lease() -> None:
    eraser, continued = FakeEraser(rounds=5), []  # type: ignore[var-annotated]
    passes = _passes(eraser, continued)
    passes.run(ErasureEvent("u1", "alice", Chain("c", MAX_CHAIN_PASSES)), 10.0)
    assert continued == [] and eraser.lease is None, "the caller's next DELETE starts at once"


def test_a_continuation_lambda_refuses_releases_the_lease_and_the_pass_answers() -> None:
    eraser = FakeEraser(rounds=5)

    def refused(event: ErasureEvent) -> None:
        raise RuntimeError("throttled")

    passes = ErasurePasses(_settings(), lambda: eraser, refused)  # type: ignore[arg-type,return-value]
    progress = passes.run(ALICE, 10.0)
    assert progress is not None and not progress.continuing and eraser.lease is None


def test_without_a_continuation_each_pass_gives_the_lease_back() -> None:
    eraser = FakeEraser(rounds=2)
    passes = _passes(eraser)
    assert passes.run(ALICE, 10.0) is not None and eraser.lease is None
    assert passes.run(ALICE, 10.0) is None  # the caller's repeated request finishes it


def test_a_pass_with_less_time_than_its_overhead_starts_no_round() -> None:
    eraser = FakeEraser()
    seen: list[float] = []
    original = eraser.erase

    def erase(
        user_id: str, username: str, ttl: int, stop_at: float, lease: Lease, *rest: Any
    ) -> ErasureResult:
        import time

        seen.append(stop_at - time.monotonic())
        return original(user_id, username, ttl, stop_at, lease, *rest)

    eraser.erase = erase  # type: ignore[method-assign]
    _passes(eraser).run(ErasureEvent("u1", "alice", time_left=PASS_OVERHEAD_SECONDS - 1), 10.0)
    assert seen[0] <= 0


# --- the sweeps after the erasure (app/sweep.py) --------------------------------------------------


class FakeSqs:
    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def send_message(self, **request: Any) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(request)


def test_a_pass_that_completes_queues_the_first_sweep_for_after_the_last_urls_expiry() -> None:
    sqs = FakeSqs()
    passes = ErasurePasses(
        _settings(upload_url_expires_seconds=3600), lambda: FakeEraser(), sweeps=SweepQueue("q", lambda: sqs)
    )
    started = time.time()
    assert passes.run(ALICE) is None
    [sent] = sqs.sent
    sweep = Sweep.from_json(json.loads(sent["MessageBody"]))
    assert sent["QueueUrl"] == "q" and sweep.user_id == "u1" and sent["DelaySeconds"] == MAX_DELAY_SECONDS
    assert started + 3600 + IN_FLIGHT_SECONDS <= sweep.until <= time.time() + 3600 + IN_FLIGHT_SECONDS


def test_a_sweep_that_cannot_be_queued_leaves_the_erasure_unfinished_for_the_next_pass() -> None:
    eraser, sqs = FakeEraser(), FakeSqs(fail=RuntimeError("SQS down"))
    passes = ErasurePasses(_settings(), lambda: eraser, sweeps=SweepQueue("q", lambda: sqs))
    with pytest.raises(RuntimeError, match="SQS down"):
        passes.run(ALICE)
    assert not eraser.done
    sqs.fail = None
    assert passes.run(ALICE) is None and eraser.done and len(sqs.sent) == 1


def test_no_sweep_is_queued_before_the_erasure_completes_or_without_a_queue() -> None:
    sqs = FakeSqs()
    passes = ErasurePasses(_settings(), lambda: FakeEraser(rounds=2), [].append, SweepQueue("q", lambda: sqs))  # type: ignore[arg-type]
    assert passes.run(ALICE) is not None and sqs.sent == []
    assert ErasurePasses(_settings(), lambda: FakeEraser()).run(ALICE) is None  # no queue: nothing to send


def test_each_sweep_is_delayed_up_to_sqs_limit_or_until_its_end() -> None:
    queue = SweepQueue("q", FakeSqs)
    now = time.time()
    assert queue.delay_seconds(Sweep("u1", now + 5000)) == MAX_DELAY_SECONDS
    assert 100 <= queue.delay_seconds(Sweep("u1", now + 100)) <= 101
    assert queue.delay_seconds(Sweep("u1", now - 10)) == 0


# --- the function's answers and the API's reading of them -----------------------------------------


def test_the_function_answers_each_outcome() -> None:
    assert handle(_passes(FakeEraser()), ALICE.to_json(), 10.0) == {"done": True}
    assert "progress" in handle(_passes(FakeEraser(rounds=2)), ALICE.to_json(), 10.0)
    assert handle(_passes(FakeEraser(done=True)), ALICE.to_json(), 10.0) == {"erased": True}
    assert "failed" in handle(_passes(FakeEraser(fail=OSError("x"))), ALICE.to_json(), 10.0)
    continued = ErasureEvent("u1", "alice", Chain("c", 2)).to_json()
    with pytest.raises(OSError):  # asynchronous: to the on-failure destination
        handle(_passes(FakeEraser(fail=OSError("x")), []), continued, 10.0)


class FakeLambda:
    def __init__(self, answer: dict[str, Any], function_error: bool = False) -> None:
        self.answer, self.function_error, self.requests = answer, function_error, []  # type: ignore[var-annotated]

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        response = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer).encode())}
        return response | ({"FunctionError": "Unhandled"} if self.function_error else {})


def _api_erasure(answer: dict[str, Any], function_error: bool = False) -> tuple[LambdaErasure, FakeLambda]:
    client = FakeLambda(answer, function_error)
    return LambdaErasure("echoes-dev-erasure", lambda: client), client


def test_the_api_invokes_the_erasure_function_and_reads_its_answer() -> None:
    start, client = _api_erasure({"done": True})
    assert start("u1", "alice", 9.0) is None
    [request] = client.requests
    assert request["InvocationType"] == "RequestResponse" and request["FunctionName"] == "echoes-dev-erasure"
    sent = json.loads(request["Payload"])
    assert sent["user_id"] == "u1" and sent["chain"] is None and sent["time_left"] < 9.0
    progress = handle(_passes(FakeEraser(rounds=2), []), ALICE.to_json(), 10.0)
    assert _api_erasure(progress)[0]("u1", "alice", 9.0).continuing  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("answer", "function_error", "status"),
    [
        ({"erased": True}, False, 401),
        ({"failed": "OSError()"}, False, 503),
        ({"errorMessage": "x"}, True, 503),
    ],
)
def test_the_api_turns_the_functions_refusals_into_statuses(
    answer: dict[str, Any], function_error: bool, status: int
) -> None:
    with pytest.raises(ApiError) as refused:
        _api_erasure(answer, function_error)[0]("u1", "alice", 9.0)
    assert refused.value.status_code == status


@dataclass
class FakeEchoes:
    pages: list[Any] = field(default_factory=list)

    def list(self, user_id: str, _selection: object, _page: int, page_size: int, cursor: str | None) -> Any:
        self.pages.append((user_id, page_size, cursor))
        return type("Page", (), {"echoes": [], "next_cursor": "next" if cursor is None else None})()

    def stats(self, _user_id: str) -> Any:
        return EchoStats(total_count=0, by_emotion={}, first_echo_at=None, last_echo_at=None)


def test_export_pages_with_stats_on_the_first_page_only() -> None:
    echoes = FakeEchoes()
    service = AccountService(echoes, in_process(_passes(FakeEraser())), 500)  # type: ignore[arg-type]
    first = service.export("u1", None)
    second = service.export("u1", first.next_cursor)
    assert isinstance(first, ExportPage) and first.stats is not None and second.stats is None
    assert echoes.pages == [("u1", 500, None), ("u1", 500, "next")]


def test_the_service_erases_through_whichever_starter_it_was_given() -> None:
    eraser = FakeEraser(rounds=2)
    service = AccountService(FakeEchoes(), in_process(_passes(eraser)), 500)  # type: ignore[arg-type]
    assert service.erase("u1", "alice") is not None
    assert service.erase("u1", "alice") is None and eraser.done
