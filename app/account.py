"""The account use cases: erase everything the caller has, export everything the caller has.

Erasure runs in passes of a bounded time. In Lambda, a pass that does not finish invokes the
function again asynchronously (InvocationType=Event) with the API Gateway event it is serving:
exactly the caller's own DELETE /api/v1/me repeated, same token, same checks, plus the chain's
count of passes (CHAIN_KEY, outside the API Gateway part: no client can set it). The chain ends
when a pass completes (or finds the erasure complete: 401), and is cut after MAX_CHAIN_PASSES
passes or MAX_FAILED_IN_A_ROW failed ones (logged as an error, metric ErasureChainStopped). The
caller may repeat the request at any time (a new chain): passes are idempotent.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app import deadline
from app.aws import CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS
from app.errors import ApiError
from app.models import ErasureProgress, ExportPage, iso_millis
from app.observability import count, logger
from app.service import EchoService
from app.settings import Settings, SettingsError
from app.store.account import RESERVE_SECONDS, AccountEraser
from app.store.echoes import Selection

# A pass's time, from its start to the function's timeout (Settings.function_timeout_seconds):
#   budget (rounds may start) + RESERVE_SECONDS (the last round, the marker, the Cognito user)
#   + CONTINUATION_SECONDS (the next pass's Invoke may still start) + LATE_CALL_SECONDS (a call
#   started just before its deadline ends within a connect and a read timeout) + ANSWER_SECONDS.
CONTINUATION_SECONDS = 1.0
LATE_CALL_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
ANSWER_SECONDS = 0.5
PASS_OVERHEAD_SECONDS = RESERVE_SECONDS + CONTINUATION_SECONDS + LATE_CALL_SECONDS + ANSWER_SECONDS

# Where the continuation's event carries the chain's progress: a top-level key of the Lambda
# event, which API Gateway never sends (Mangum ignores it).
CHAIN_KEY = "echoesErasureChain"
# An account at the default quota (10,000 echoes, up to 13 items each with their slots and tags)
# takes about 40 passes of a 3 s budget at one partition key's ~1,000 writes a second: twice that,
# and more. A chain cut here is resumed by the caller's own DELETE.
MAX_CHAIN_PASSES = 100
# Passes that failed one after the other (a dependency down, a permission missing): retrying
# in a loop would not help, and each costs a whole function timeout.
MAX_FAILED_IN_A_ROW = 3

# Continues an unfinished erasure: given the Lambda event of the request being served.
Continuation = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Chain:
    """How far a chain of passes has come: this pass's number and the failures just before it."""

    passes: int = 1
    failed_in_a_row: int = 0

    @classmethod
    def of(cls, event: dict[str, Any] | None) -> "Chain":
        """The chain EVENT continues; a new one for the caller's own request."""
        state = (event or {}).get(CHAIN_KEY)
        if not isinstance(state, dict):
            return cls()
        return cls(int(state.get("passes", 1)), int(state.get("failed_in_a_row", 0)))

    def next(self, failed: bool) -> "Chain":
        return Chain(self.passes + 1, self.failed_in_a_row + 1 if failed else 0)

    def stop_reason(self) -> str | None:
        """Why the chain must not go on to this state, or None."""
        if self.passes > MAX_CHAIN_PASSES:
            return f"{MAX_CHAIN_PASSES} passes"
        if self.failed_in_a_row >= MAX_FAILED_IN_A_ROW:
            return f"{self.failed_in_a_row} failed passes in a row"
        return None

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        """EVENT as the next pass gets it: without its body, which the route never reads (API
        Gateway hands a function up to 6 MB; an asynchronous Invoke takes at most 1 MB)."""
        return event | {
            "body": None,
            "isBase64Encoded": False,
            CHAIN_KEY: {"passes": self.passes, "failed_in_a_row": self.failed_in_a_row},
        }


def report_stopped_chain(what: str, **details: Any) -> None:
    """Every end of a chain that did not complete: an error log and the ErasureChainStopped metric."""
    logger.error(f"{what}: the caller's DELETE /api/v1/me resumes it", extra=details)
    count("ErasureChainStopped")


def report_refused_continuation(event: dict[str, Any] | None, error: Exception) -> None:
    """A continued pass refused before it could start (its token expired while the chain ran, the
    JWKS unreachable): the chain ends there, so say so, as for any other stopped chain. Nothing
    for the caller's own request (no chain in its event): the caller sees the error."""
    chain = (event or {}).get(CHAIN_KEY)
    if chain is None:
        return
    why = (
        f"{error.status_code} {error.message} {error.details}" if isinstance(error, ApiError) else repr(error)
    )
    report_stopped_chain(
        "Account erasure chain stopped", reason=f"pass refused before it started: {why}", chain=chain
    )


def check_erasure_budget(settings: Settings) -> None:
    """At start: a pass must end before the function's timeout, or Lambda kills it mid-round
    (no answer, no continuation)."""
    room = settings.function_timeout_seconds - PASS_OVERHEAD_SECONDS
    if settings.erasure_budget_seconds > room:
        raise SettingsError(
            f"Invalid configuration: ERASURE_BUDGET_SECONDS: at most {room:g} with "
            f"FUNCTION_TIMEOUT_SECONDS={settings.function_timeout_seconds:g} "
            f"(a pass needs {PASS_OVERHEAD_SECONDS:g} s more: app/account.py)"
        )


def lambda_continuation(function_name: str, client: Callable[[], Any]) -> Continuation:
    """Invoke FUNCTION_NAME asynchronously with the same event (the Lambda client made on first use)."""
    made: list[Any] = []

    def invoke(event: dict[str, Any]) -> None:
        if not made:
            made.append(client())
        made[0].invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event).encode())

    return invoke


class AccountService:
    def __init__(
        self,
        settings: Settings,
        echoes: EchoService,
        eraser: Callable[[], AccountEraser],
        continuation: Continuation | None = None,
    ) -> None:
        check_erasure_budget(settings)
        self._settings = settings
        self._echoes = echoes
        self.continuation = continuation  # None outside Lambda: the caller repeats the request
        # Built on first use: it needs a Cognito client, which no other route does.
        self._make_eraser = eraser
        self._built: AccountEraser | None = None

    def _eraser(self) -> AccountEraser:
        if self._built is None:
            self._built = self._make_eraser()
        return self._built

    def erase(
        self,
        user_id: str,
        username: str,
        event: dict[str, Any] | None = None,
        time_left: float | None = None,
    ) -> ErasureProgress | None:
        """One erasure pass within the time budget: None when complete, else how far it got.
        Repeating the request continues where the last pass stopped; so does the asynchronous
        invocation with EVENT (the Lambda event being served) when there is a continuation.
        TIME_LEFT: the seconds the invocation has left before the function's timeout (in Lambda)."""
        started = time.monotonic()
        # Its own deadline, longer than an ordinary request's (whose deadline has passed): no round
        # starts after the budget, and the AWS calls may go on for RESERVE_SECONDS more to finish
        # the round, record progress and answer; the continuation may start a little later still
        # (PASS_OVERHEAD_SECONDS: all of it ends before the function's timeout). What the
        # invocation spent before the pass (the token's JWKS on a cold container) comes off the budget.
        seconds = self._settings.erasure_budget_seconds
        if time_left is not None:
            seconds = min(seconds, time_left - PASS_OVERHEAD_SECONDS)
        calls_until = started + seconds + RESERVE_SECONDS
        budget = deadline.start(calls_until - time.monotonic())
        try:
            return self._pass(user_id, username, event, started, started + seconds)
        finally:
            deadline.reset(budget)

    def _pass(
        self, user_id: str, username: str, event: dict[str, Any] | None, started: float, stop_at: float
    ) -> ErasureProgress | None:
        chain = Chain.of(event)
        continue_until = stop_at + RESERVE_SECONDS + CONTINUATION_SECONDS
        try:
            result = self._eraser().erase(
                user_id, username, self._settings.erased_marker_ttl_seconds, stop_at
            )
        except ApiError:  # 401: erased already, the chain ends here
            raise
        except Exception:
            # A failed pass (a dependency down, a round that overran) did part of the work: carry
            # on in the background too, unless the chain has failed too often already.
            self._continue(event, user_id, chain.next(failed=True), continue_until)
            raise
        logger.info(
            "Account erasure pass",
            extra={
                "done": result.done,
                "phase": result.phase,
                "audio_versions_deleted": result.audio_versions_deleted,
                "items_deleted": result.items_deleted,
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        if result.done:
            count("AccountErased")
            return None
        continuing = self._continue(event, user_id, chain.next(failed=False), continue_until)
        return ErasureProgress(
            status="erasing",
            phase=result.phase,
            audio_versions_deleted=result.audio_versions_deleted,
            items_deleted=result.items_deleted,
            continuing=continuing,
            message="Erasure continues"
            + (" in the background" if continuing else "")
            + ": DELETE /api/v1/me again shows progress (202) or completes it (204); 401 once erased",
        )

    def _continue(self, event: dict[str, Any] | None, user_id: str, chain: Chain, until: float) -> bool:
        """Invoke the function again with EVENT as pass CHAIN of the chain, in Lambda, if the
        chain may go on and the Invoke can start before UNTIL; False otherwise."""
        if self.continuation is None or event is None:
            return False
        reason = chain.stop_reason()
        if reason is not None:
            report_stopped_chain(
                "Account erasure chain stopped", user_id=user_id, reason=reason, passes=chain.passes - 1
            )
            return False
        # Also after a pass that overran its own deadline, until the last moment a call may start.
        token = deadline.start(until - time.monotonic())
        try:
            self.continuation(chain.event(event))
        except Exception as error:  # no time left, Lambda refused or unreachable: the pass still answers
            report_stopped_chain("Account erasure not continued", user_id=user_id, reason=repr(error))
            return False
        finally:
            deadline.reset(token)
        return True

    def export(self, user_id: str, cursor: str | None) -> ExportPage:
        """One page of everything, newest first, each echo with a fresh audio URL; the first page
        also carries the stats."""
        page_size = self._settings.export_page_size
        page = self._echoes.list(user_id, Selection(), 1, page_size, cursor)
        return ExportPage(
            user_id=user_id,
            exported_at=iso_millis(datetime.now(UTC)),
            stats=None if cursor else self._echoes.stats(user_id),
            echoes=page.echoes,
            next_cursor=page.next_cursor,
        )
