"""Dependency probes for /health, cached briefly so the endpoint can be polled often."""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

from botocore.exceptions import BotoCoreError, ClientError

from app.aws import AwsClients
from app.jwks import JwksCache, JwksUnavailable
from app.store.records import HEALTH_PROBE_KEY

CONNECTED = "connected"
Probe = Callable[[], str]


def _describe_failure(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"error: {exc.response.get('Error', {}).get('Code', 'unknown')}"
    if isinstance(exc, JwksUnavailable):
        return "error: signing keys unreachable"
    return f"error: {type(exc).__name__}"  # never the message: it may name hosts or credentials


def dynamodb_probe(clients: AwsClients, table: str) -> Probe:
    """A read of a key no user partition can have: it takes the data path requests take, needs no
    permission beyond theirs (no DescribeTable), and its answer is tiny, which counts at cold start."""

    def probe() -> str:
        clients.dynamodb.get_item(TableName=table, Key=HEALTH_PROBE_KEY, ProjectionExpression="pk")
        return CONNECTED

    return probe


def s3_probe(clients: AwsClients, bucket: str) -> Probe:
    def probe() -> str:
        clients.s3.head_bucket(Bucket=bucket)
        return CONNECTED

    return probe


def cognito_probe(jwks: JwksCache) -> Probe:
    """Fetching the pool's signing keys proves the pool is reachable, and warms the key cache."""

    def probe() -> str:
        jwks.refresh()
        return CONNECTED

    return probe


@dataclass(frozen=True)
class HealthReport:
    """One round of probes, kept as it is served: /health may be polled often."""

    dependencies: dict[str, str]

    @cached_property
    def healthy(self) -> bool:
        return all(state == CONNECTED for state in self.dependencies.values())


class HealthChecker:
    def __init__(self, probes: dict[str, Probe], cache_seconds: float) -> None:
        self._probes = probes
        self._cache_seconds = cache_seconds
        self._cached: HealthReport | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def cached(self) -> HealthReport | None:
        """The last report while still fresh, without blocking: None means probe again."""
        if self._cached is None or time.monotonic() - self._checked_at >= self._cache_seconds:
            return None
        return self._cached

    def forget(self) -> None:
        """Probe again on the next request (after a SnapStart restore: the clock it was cached
        against is the snapshot's)."""
        with self._lock:
            self._cached, self._checked_at = None, float("-inf")

    def report(self) -> HealthReport:
        with self._lock:
            fresh = self.cached()
            if fresh is not None:
                return fresh
            self._cached = HealthReport(self._probe_all())
            self._checked_at = time.monotonic()
            return self._cached

    def _probe_all(self) -> dict[str, str]:
        # Concurrently: each probe is a network round trip (a TLS handshake at cold start), so
        # /health waits for the slowest dependency, not for the sum of them.
        with ThreadPoolExecutor(max_workers=len(self._probes)) as pool:
            return dict(zip(self._probes, pool.map(self._run, self._probes.values()), strict=True))

    @staticmethod
    def _run(probe: Probe) -> str:
        try:
            return probe()
        except (ClientError, BotoCoreError, JwksUnavailable) as exc:
            return _describe_failure(exc)
