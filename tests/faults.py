"""Fault injection for AWS calls: a botocore event hook that fails one chosen call of a request."""

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

BEFORE, AFTER = "before", "after"


@dataclass
class FaultInjector:
    """Records the API calls made through CLIENTS and, once armed, fails call number INDEX:
    'before' it reaches AWS (nothing happened), or 'after' AWS did it (the response was lost)."""

    clients: list[Any]
    calls: list[str] = field(default_factory=list)
    armed: tuple[int, str] | None = None
    fired: str | None = None

    def __post_init__(self) -> None:
        for client in self.clients:
            client.meta.events.register("before-call.*.*", self._before)
            client.meta.events.register("after-call.*.*", self._after)

    def arm(self, index: int, phase: str) -> None:
        self.calls, self.armed, self.fired = [], (index, phase), None

    def _maybe_fail(self, phase: str, name: str, index: int) -> None:
        if self.armed == (index, phase):
            self.armed, self.fired = None, f"{name} ({phase})"
            if phase == BEFORE:
                raise EndpointConnectionError(endpoint_url=f"injected-before-{name}")
            raise ConnectionClosedError(endpoint_url=f"injected-after-{name}")

    def _before(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
        self._maybe_fail(BEFORE, model.name, len(self.calls) - 1)

    def _after(self, model: Any, **_: Any) -> None:
        self._maybe_fail(AFTER, model.name, len(self.calls) - 1)
