"""The account use cases: erase everything the caller has, export everything the caller has.

Erasure runs in passes of a bounded time. In Lambda, a pass that does not finish invokes the
function again asynchronously (InvocationType=Event) with the API Gateway event it is serving:
exactly the caller's own DELETE /api/v1/me repeated, same token, same checks. The chain ends when a
pass completes (or finds the erasure complete: 401). Lambda retries a failed asynchronous
invocation twice, and the caller may repeat the request at any time: passes are idempotent.
"""

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app import deadline
from app.errors import ApiError
from app.models import ErasureProgress, ExportPage, iso_millis
from app.observability import count, logger
from app.service import EchoService
from app.settings import Settings
from app.store.account import RESERVE_SECONDS, AccountEraser
from app.store.echoes import Selection

# How long the calls of a pass may run past budget + reserve: only a round that overruns (a slow
# dependency) needs it. The function timeout (10 s by default) remains the hard limit.
OVERRUN_GRACE_SECONDS = 2.0

# Continues an unfinished erasure: given the Lambda event of the request being served.
Continuation = Callable[[dict[str, Any]], None]


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
        self, user_id: str, username: str, event: dict[str, Any] | None = None
    ) -> ErasureProgress | None:
        """One erasure pass within the time budget: None when complete, else how far it got.
        Repeating the request continues where the last pass stopped; so does the asynchronous
        invocation with EVENT (the Lambda event being served) when there is a continuation."""
        started = time.monotonic()
        # Its own budget, longer than an ordinary request's: no round starts after the budget, and
        # the AWS calls may go on for RESERVE_SECONDS more to finish the round, record progress
        # and answer, plus a grace for a round that overruns (a slow dependency). The
        # continuation is invoked inside this budget (the request's own deadline has passed).
        seconds = self._settings.erasure_budget_seconds
        budget = deadline.start(seconds + RESERVE_SECONDS + OVERRUN_GRACE_SECONDS)
        try:
            return self._pass(user_id, username, event, started, started + seconds)
        finally:
            deadline.reset(budget)

    def _pass(
        self, user_id: str, username: str, event: dict[str, Any] | None, started: float, stop_at: float
    ) -> ErasureProgress | None:
        try:
            result = self._eraser().erase(
                user_id, username, self._settings.erased_marker_ttl_seconds, stop_at
            )
        except ApiError:  # 401: erased already, the chain ends here
            raise
        except Exception:
            # A failed pass (a dependency down, a round that overran) did part of the work: carry
            # on in the background too. Nothing here bounds a chain of passes that keep failing
            # (docs/design.md, Account erasure); the caller's repeated DELETE also resumes it.
            self._continue(event)
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
        continuing = self._continue(event)
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

    def _continue(self, event: dict[str, Any] | None) -> bool:
        """Invoke the function again with EVENT, in Lambda; False where there is no continuation."""
        if self.continuation is None or event is None:
            return False
        with deadline.grace(OVERRUN_GRACE_SECONDS):  # even when the pass overran its budget
            self.continuation(event)
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
