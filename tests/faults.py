"""Fault injection for AWS calls, by botocore event hooks: fail one chosen call of a request,
answer batch writes as a throttled partition does, record what deadline each call saw."""

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from app import deadline

BEFORE, AFTER = "before", "after"


@dataclass
class FaultInjector:
    """Records the API calls made through CLIENTS and, once armed, fails call number INDEX, or
    the OCCURRENCE-th call of an operation (calls made side by side come in either order):
    'before' it reaches AWS (nothing happened), or 'after' AWS did it (the response was lost).
    Calls may come from the request's worker thread (app/parallel.py): a failure there is raised
    in it, as botocore would."""

    clients: list[Any]
    calls: list[str] = field(default_factory=list)
    armed: tuple[int | tuple[str, int], str] | None = None
    fired: str | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        for client in self.clients:
            client.meta.events.register("before-call.*.*", self._before)
            client.meta.events.register("after-call.*.*", self._after)

    def arm(self, call: int | tuple[str, int], phase: str) -> None:
        """CALL: an index into the calls, or (operation, occurrence)."""
        self.calls, self.armed, self.fired = [], (call, phase), None

    def _maybe_fail(self, phase: str, name: str, index: int) -> None:
        occurrence = self.calls[:index].count(name)
        if self.armed in {(index, phase), ((name, occurrence), phase)}:
            self.armed, self.fired = None, f"{name} ({phase})"
            if phase == BEFORE:
                raise EndpointConnectionError(endpoint_url=f"injected-before-{name}")
            raise ConnectionClosedError(endpoint_url=f"injected-after-{name}")

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.calls.append(model.name)
            context["fault_index"] = len(self.calls) - 1
            self._maybe_fail(BEFORE, model.name, len(self.calls) - 1)

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self._maybe_fail(AFTER, model.name, context["fault_index"])


@dataclass
class CallProbe:
    """Records, for every API call through CLIENTS, its name, the thread it ran in and the
    deadline it saw (app/deadline.py: seconds left, None when it saw none)."""

    clients: list[Any]
    calls: list[tuple[str, str, float | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for client in self.clients:
            client.meta.events.register("before-call.*.*", self._before)

    def _before(self, model: Any, **_: Any) -> None:
        self.calls.append((model.name, threading.current_thread().name, deadline.remaining()))


@dataclass
class EndlessUnprocessedItems:
    """Every BatchWriteItem through CLIENT answers with all of its items unprocessed, as DynamoDB
    answers while a partition stays throttled (DynamoDB Local never throttles). The writes do
    happen; only the answer says otherwise. After GIVE_UP_SECONDS it stops (gave_up), so that
    code without a bound ends the test instead of hanging it."""

    client: Any
    give_up_seconds: float = 30.0
    first: float | None = None
    gave_up: bool = False

    def __post_init__(self) -> None:
        self.client.meta.events.register("before-call.dynamodb.BatchWriteItem", self._remember)
        self.client.meta.events.register("after-call.dynamodb.BatchWriteItem", self._unprocess)

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["requested_items"] = json.loads(params["body"])["RequestItems"]

    def _unprocess(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self.first = self.first or time.monotonic()
        if time.monotonic() - self.first > self.give_up_seconds:
            self.gave_up = True
            return
        parsed["UnprocessedItems"] = context["requested_items"]


@dataclass
class PerKeyDeleteErrors:
    """Every DeleteObjects through CLIENT answers, as S3 does under load, 200 with a per-key
    error (CODE) for its first key; moto never reports per-key errors. The deletes do happen."""

    client: Any
    code: str

    def __post_init__(self) -> None:
        self.client.meta.events.register("after-call.s3.DeleteObjects", self._fail_first_key)

    def stop(self) -> None:
        self.client.meta.events.unregister("after-call.s3.DeleteObjects", self._fail_first_key)

    def _fail_first_key(self, parsed: dict[str, Any], **_: Any) -> None:
        parsed["Errors"] = [{"Key": "audio/any.wav", "Code": self.code, "Message": "injected"}]
