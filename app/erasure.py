"""Account erasure in passes of a bounded time, one chain of passes per account at a time.

A pass erases what it can within its budget (app/store/account.py) under the chain's lease. In
Lambda the erasure has a function of its own (erasure_handler.py, with a role that alone may delete
audio versions, batch-delete items and delete the Cognito user): the API invokes it synchronously
for the first pass, and a pass that does not finish invokes the function again asynchronously with
the chain's next pass (`ErasureEvent`). The chain ends when a pass completes, and is cut after
MAX_CHAIN_PASSES passes or MAX_FAILED_IN_A_ROW failed ones (logged as an error, metric
ErasureChainStopped), releasing the lease so that the caller's next DELETE starts a new chain.
Outside Lambda there is no continuation: each DELETE runs one pass.
"""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from app import deadline
from app.aws import CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS, create_client
from app.errors import ApiError
from app.models import ErasureProgress
from app.observability import count, logger
from app.settings import Settings, SettingsError
from app.store.account import RESERVE_SECONDS, AccountEraser, ErasureUnderWay, Lease, LeaseLost
from app.sweep import Sweep, SweepQueue

# A pass's time, from its start to the function's timeout (Settings.function_timeout_seconds):
#   budget (rounds may start) + RESERVE_SECONDS (the last round, the marker, the Cognito user)
#   + CONTINUATION_SECONDS (the next pass's Invoke may still start) + LATE_CALL_SECONDS (a call
#   started just before its deadline ends within a connect and a read timeout) + ANSWER_SECONDS.
CONTINUATION_SECONDS = 1.0
LATE_CALL_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
ANSWER_SECONDS = 0.5
PASS_OVERHEAD_SECONDS = RESERVE_SECONDS + CONTINUATION_SECONDS + LATE_CALL_SECONDS + ANSWER_SECONDS
# An account at the default quota (10,000 echoes, up to 13 items each with their slots and tags)
# takes about 40 passes of a 3 s budget at one partition key's ~1,000 writes a second: twice that,
# and more. A chain cut here is resumed by the caller's own DELETE.
MAX_CHAIN_PASSES = 100
# Passes that failed one after the other (a dependency down, a permission missing): retrying in a
# loop would not help, and each costs a whole function timeout.
MAX_FAILED_IN_A_ROW = 3
# How long a pass's lease outlives the pass: long enough for the asynchronous Invoke of the next
# pass to be delivered (usually well under a second; Lambda retries throttled deliveries), short
# enough that the caller's DELETE takes over soon after a chain died without releasing it.
LEASE_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class Chain:
    """A chain of passes: its id (the lease's owner), this pass's number, the failures before it."""

    chain_id: str
    passes: int = 1
    failed_in_a_row: int = 0

    @classmethod
    def new(cls) -> "Chain":
        return cls(uuid.uuid4().hex)

    def next(self, failed: bool) -> "Chain":
        return replace(
            self, passes=self.passes + 1, failed_in_a_row=self.failed_in_a_row + 1 if failed else 0
        )

    def stop_reason(self) -> str | None:
        """Why the chain must not go on to this state, or None."""
        if self.passes > MAX_CHAIN_PASSES:
            return f"{MAX_CHAIN_PASSES} passes"
        if self.failed_in_a_row >= MAX_FAILED_IN_A_ROW:
            return f"{self.failed_in_a_row} failed passes in a row"
        return None


@dataclass(frozen=True)
class ErasureEvent:
    """What the erasure function is invoked with: whose account, and which pass of which chain
    (none: the API's first pass starts a chain). TIME_LEFT: how long the synchronous caller waits."""

    user_id: str
    username: str
    chain: Chain | None = None
    time_left: float | None = None

    def to_json(self) -> dict[str, Any]:
        chain = self.chain
        return {
            "user_id": self.user_id,
            "username": self.username,
            "chain": None if chain is None else [chain.chain_id, chain.passes, chain.failed_in_a_row],
            "time_left": self.time_left,
        }

    @classmethod
    def from_json(cls, event: dict[str, Any]) -> "ErasureEvent":
        chain = event.get("chain")
        return cls(
            user_id=str(event["user_id"]),
            username=str(event["username"]),
            chain=None if chain is None else Chain(str(chain[0]), int(chain[1]), int(chain[2])),
            time_left=None if event.get("time_left") is None else float(event["time_left"]),
        )


# Starts the next pass of a chain: given its event (an asynchronous Invoke in Lambda).
Continuation = Callable[[ErasureEvent], None]


def report_stopped_chain(what: str, **details: Any) -> None:
    """Every end of a chain that did not complete: an error log and the ErasureChainStopped metric."""
    logger.error(f"{what}: the caller's DELETE /api/v1/me resumes it", extra=details)
    count("ErasureChainStopped")


def check_erasure_budget(settings: Settings) -> None:
    """At start: a pass must end before the function's timeout, or Lambda kills it mid-round
    (no answer, no continuation)."""
    room = settings.function_timeout_seconds - PASS_OVERHEAD_SECONDS
    if settings.erasure_budget_seconds > room:
        raise SettingsError(
            f"Invalid configuration: ERASURE_BUDGET_SECONDS: at most {room:g} with "
            f"FUNCTION_TIMEOUT_SECONDS={settings.function_timeout_seconds:g} "
            f"(a pass needs {PASS_OVERHEAD_SECONDS:g} s more: app/erasure.py)"
        )


def lambda_continuation(function_name: str, client: Callable[[], Any]) -> Continuation:
    """Invoke FUNCTION_NAME asynchronously with the next pass's event (the client made on first use)."""
    made: list[Any] = []

    def invoke(event: ErasureEvent) -> None:
        if not made:
            made.append(client())
        made[0].invoke(
            FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event.to_json()).encode()
        )

    return invoke


def build_passes(
    settings: Settings,
    dynamodb: Any,
    s3: Any,
    continuation: Continuation | None = None,
    sweeps: SweepQueue | None = None,
) -> "ErasurePasses":
    """The passes over the table and bucket of SETTINGS, with a Cognito client made on first use."""
    return ErasurePasses(
        settings,
        lambda: AccountEraser(
            dynamodb,
            s3,
            create_client("cognito-idp", settings.aws_region),
            settings.dynamodb_table_name,
            settings.s3_bucket_name,
            settings.cognito_user_pool_id,
            settings.counters_in_list_index,
        ),
        continuation,
        sweeps,
    )


class ErasurePasses:
    def __init__(
        self,
        settings: Settings,
        eraser: Callable[[], AccountEraser],
        continuation: Continuation | None = None,
        sweeps: SweepQueue | None = None,
    ) -> None:
        check_erasure_budget(settings)
        self._settings = settings
        self.continuation = continuation  # None outside Lambda: the caller repeats the request
        self.sweeps = sweeps  # None outside Lambda: no sweep after the erasure (app/sweep.py)
        # Built on first use: it needs a Cognito client, which no other route does.
        self._make_eraser = eraser
        self._built: AccountEraser | None = None

    def eraser(self) -> AccountEraser:
        if self._built is None:
            self._built = self._make_eraser()
        return self._built

    def run(self, event: ErasureEvent, time_left: float | None = None) -> ErasureProgress | None:
        """One pass: None when the erasure is complete, else how far it got. TIME_LEFT: the seconds
        before the function's timeout (in Lambda), or the synchronous caller's wait if shorter."""
        started = time.monotonic()
        if event.time_left is not None:
            time_left = event.time_left if time_left is None else min(time_left, event.time_left)
        # Its own deadline, longer than an ordinary request's: no round starts after the budget, and
        # the AWS calls may go on for RESERVE_SECONDS more to finish the round, record progress and
        # answer; the continuation may start a little later still (PASS_OVERHEAD_SECONDS: all of it
        # ends before the function's timeout). What the invocation spent before comes off the budget.
        seconds = self._settings.erasure_budget_seconds
        if time_left is not None:
            seconds = max(0.0, min(seconds, time_left - PASS_OVERHEAD_SECONDS))
        budget = deadline.start(seconds + RESERVE_SECONDS)
        try:
            return self._pass(event, started + seconds)
        finally:
            deadline.reset(budget)

    def _pass(self, event: ErasureEvent, stop_at: float) -> ErasureProgress | None:
        chain = event.chain or Chain.new()
        lease_until = time.time() + self._settings.function_timeout_seconds + LEASE_GRACE_SECONDS
        lease = Lease(chain.chain_id, lease_until)
        continue_until = stop_at + RESERVE_SECONDS + CONTINUATION_SECONDS
        try:
            result = self.eraser().erase(
                event.user_id,
                event.username,
                self._settings.erased_marker_ttl_seconds,
                stop_at,
                lease,
                self._sweep_later(event.user_id),
            )
        except ErasureUnderWay as under_way:  # another chain is at it: this pass need not be
            return _progress(under_way.phase, 0, 0, continuing=True)
        except LeaseLost:  # taken over after this chain's lease expired: the other chain goes on
            logger.warning("Account erasure lease lost to another chain", extra={"chain": chain.chain_id})
            return _progress("audio", 0, 0, continuing=True)
        except ApiError:  # 401: erased already, the chain ends here
            raise
        except Exception:
            # A failed pass (a dependency down, a round that overran) did part of the work: carry
            # on in the background too, unless the chain has failed too often already.
            self._continue(event, chain.next(failed=True), lease, continue_until)
            raise
        logger.info(
            "Account erasure pass",
            extra={
                "done": result.done,
                "phase": result.phase,
                "passes": chain.passes,
                "audio_versions_deleted": result.audio_versions_deleted,
                "items_deleted": result.items_deleted,
            },
        )
        if result.done:
            count("AccountErased")
            return None
        continuing = self._continue(event, chain.next(failed=False), lease, continue_until)
        return _progress(result.phase, result.audio_versions_deleted, result.items_deleted, continuing)

    def _sweep_later(self, user_id: str) -> Callable[[], None] | None:
        """What queues the sweeps after the erasure, before its marker says done."""
        sweeps, expires = self.sweeps, self._settings.upload_url_expires_seconds
        if sweeps is None:
            return None
        return lambda: sweeps.send(Sweep.after_erasure(user_id, expires))

    def _continue(self, event: ErasureEvent, chain: Chain, lease: Lease, until: float) -> bool:
        """Start pass CHAIN of the chain (in Lambda), if the chain may go on and the Invoke can
        start before UNTIL; otherwise give the lease up so that the caller's next DELETE goes on."""
        if self.continuation is None:
            self._release(event.user_id, lease)
            return False
        reason = chain.stop_reason()
        if reason is not None:
            report_stopped_chain(
                "Account erasure chain stopped", user_id=event.user_id, reason=reason, passes=chain.passes - 1
            )
            self._release(event.user_id, lease)
            return False
        # Also after a pass that overran its own deadline, until the last moment a call may start.
        token = deadline.start(until - time.monotonic())
        try:
            self.continuation(ErasureEvent(event.user_id, event.username, chain))
        except Exception as error:  # no time left, Lambda refused or unreachable: the pass still answers
            report_stopped_chain("Account erasure not continued", user_id=event.user_id, reason=repr(error))
            self._release(event.user_id, lease)
            return False
        finally:
            deadline.reset(token)
        return True

    def _release(self, user_id: str, lease: Lease) -> None:
        with deadline.grace(1.0):
            try:
                self.eraser().release(user_id, lease)
            except Exception:  # it expires by itself within LEASE_GRACE_SECONDS of the pass
                logger.exception("Account erasure lease not released", extra={"chain": lease.chain_id})


def handle(passes: ErasurePasses, event: dict[str, Any], time_left: float) -> dict[str, Any]:
    """The erasure function's answer to EVENT: {"done"}, {"progress"}, {"erased"} (complete
    already: a late or repeated pass ends there) or, for the API's synchronous first pass,
    {"failed"} (the API answers 503). A continued pass that fails raises: Lambda sends its event
    to the on-failure destination."""
    request = ErasureEvent.from_json(event)
    try:
        progress = passes.run(request, time_left)
    except ApiError:
        return {"erased": True}
    except Exception as error:
        logger.exception("Account erasure pass failed", extra={"user_id": request.user_id})
        if request.chain is not None:
            raise
        return {"failed": repr(error)}
    return {"done": True} if progress is None else {"progress": progress.model_dump(mode="json")}


def _progress(phase: str, versions: int, items: int, continuing: bool) -> ErasureProgress:
    return ErasureProgress(
        status="erasing",
        phase=phase,
        audio_versions_deleted=versions,
        items_deleted=items,
        continuing=continuing,
        message="Erasure continues"
        + (" in the background" if continuing else "")
        + ": DELETE /api/v1/me again shows progress (202) or completes it (204); 401 once erased",
    )
