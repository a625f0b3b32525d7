"""The account use cases of the API: erase everything the caller has, export everything.

Erasure itself is app/erasure.py's. In Lambda it runs in a function of its own (its role alone may
delete audio versions, batch-delete items and delete the Cognito user): DELETE /api/v1/me invokes
it synchronously for the first pass (`LambdaErasure`), and the API's role may do nothing more than
that Invoke. Outside Lambda (the local stack, the tests) the pass runs in process.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from app import deadline
from app.erasure import ErasureEvent, ErasurePasses
from app.errors import account_erased, unavailable
from app.models import ErasureProgress, ExportPage, Selection, iso_millis
from app.observability import logger
from app.service import EchoService

# What the synchronous Invoke itself may take on top of the pass (the request, a cold start of the
# erasure function, the answer): the pass is sized to finish this much before the API gives up.
INVOKE_SECONDS = 1.5


class StartErasure(Protocol):
    def __call__(self, user_id: str, username: str, time_left: float | None) -> ErasureProgress | None: ...


def in_process(passes: ErasurePasses) -> StartErasure:
    """One pass in this process (no continuation: the caller repeats the request)."""

    def start(user_id: str, username: str, time_left: float | None) -> ErasureProgress | None:
        return passes.run(ErasureEvent(user_id, username), time_left)

    return start


class LambdaErasure:
    """The first pass in the erasure function, invoked synchronously; it carries on by itself."""

    def __init__(self, function_name: str, client: Callable[[], Any]) -> None:
        self._function_name = function_name
        self._make_client = client
        self._client: Any = None

    def __call__(self, user_id: str, username: str, time_left: float | None) -> ErasureProgress | None:
        wait = (time_left if time_left is not None else 10.0) - INVOKE_SECONDS
        event = ErasureEvent(user_id, username, time_left=wait)
        if self._client is None:
            self._client = self._make_client()
        token = deadline.start(wait)  # the request's own deadline is shorter than a pass
        try:
            response = self._client.invoke(
                FunctionName=self._function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(event.to_json()).encode(),
            )
        finally:
            deadline.reset(token)
        answer = json.loads(response["Payload"].read())
        if "FunctionError" in response or "failed" in answer:
            logger.error("Account erasure pass failed", extra={"answer": answer})
            raise unavailable("The erasure did not finish this pass; repeat the request")
        if answer.get("erased"):
            raise account_erased()
        return None if answer.get("done") else ErasureProgress.model_validate(answer["progress"])


class AccountService:
    def __init__(self, echoes: EchoService, start_erasure: StartErasure, export_page_size: int) -> None:
        self._echoes = echoes
        self.start_erasure = start_erasure
        self._export_page_size = export_page_size

    def erase(self, user_id: str, username: str, time_left: float | None = None) -> ErasureProgress | None:
        """A pass of the erasure: None when complete, else how far it got (it continues in the
        background in Lambda; repeating the request shows progress or continues it).
        TIME_LEFT: the seconds the invocation has left (in Lambda)."""
        return self.start_erasure(user_id, username, time_left)

    def export(self, user_id: str, cursor: str | None) -> ExportPage:
        """One page of everything, newest first, each echo with a fresh audio URL; the first page
        also carries the stats."""
        page = self._echoes.list(user_id, Selection(), 1, self._export_page_size, cursor)
        return ExportPage(
            user_id=user_id,
            exported_at=iso_millis(datetime.now(UTC)),
            stats=None if cursor else self._echoes.stats(user_id),
            echoes=page.echoes,
            next_cursor=page.next_cursor,
        )
