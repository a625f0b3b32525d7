"""The cost of a memory size and the rule that picks FunctionMemoryMB from measured figures."""

import math
from dataclasses import dataclass

# AWS Lambda, us-east-1, arm64 (the template's architecture), first pricing tier; as listed on
# https://aws.amazon.com/lambda/pricing/ (checked 2026-11-26). Duration is billed per 1 ms, and
# since August 2025 the INIT phase of on-demand functions is billed as duration too.
PRICE_PER_GB_SECOND = 0.0000133334
PRICE_PER_MILLION_REQUESTS = 0.20

# SnapStart for Python, us-east-1, from the same page's SnapStart section (2026-12-05; the page draws
# its price tables with script, so these were taken from a copy quoting them: check them there):
# caching a published version's snapshot, per GB of memory per second while the version is active
# (at least 3 hours; a version not invoked for 14 days goes inactive), and each restore of it, per GB.
# The duration of a restored environment's after-restore hooks is billed as duration too.
SNAPSTART_CACHE_PER_GB_SECOND = 0.0000015046
SNAPSTART_RESTORE_PER_GB = 0.0001397998
SECONDS_PER_MONTH = 30 * 24 * 3600

# The stated mix of one million requests: share of requests by kind.
COLD = "cold first authenticated list"
MIX = {COLD: 0.01, "warm list of 20": 0.89, "warm /health": 0.10}
# Time spent waiting on AWS per request, which the benchmark does not measure (moto is local, the
# warm runs answer DynamoDB in-process) but Lambda bills: assumed, not measured. A list makes two
# DynamoDB calls; /health serves its cached probe round; a cold start also opens TLS connections
# and fetches the JWKS and the cursor key.
ASSUMED_AWS_WAIT_MS = {
    COLD: 150.0,  # after a restore as after a cold start: new connections, the JWKS, the key
    "warm list of 20": 10.0,
    "warm /health": 0.0,
}

COLD_LIST_LIMIT_MS = 1_000.0
WARM_LIST_P99_LIMIT_MS = 50.0
RULE = (
    f"the cheapest memory size whose first authenticated request after a cold start (median) is "
    f"under {COLD_LIST_LIMIT_MS / 1000:.0f} s and whose warm list of 20 has a p99 under "
    f"{WARM_LIST_P99_LIMIT_MS:.0f} ms"
)


@dataclass(frozen=True)
class SizeFigures:
    """What the rule and the cost need from one memory size's measurements, in milliseconds."""

    memory_mb: int
    cold_list_ms: float  # median, process start to the first answer
    warm_list_p99_ms: float
    mean_ms: dict[str, float]  # by MIX kind: what one such request takes on average
    restored_list_ms: float | None = None  # median, after-restore hooks to the answer (SnapStart)

    @property
    def gigabytes(self) -> float:
        return self.memory_mb / 1024

    def cost_per_million(self, snapstart: bool = False) -> float:
        """Dollars for one million requests of MIX: billed duration (rounded up to 1 ms) at the
        arm64 price per GB-second, plus the request price. With SNAPSTART, each cold start is a
        restore instead: billed from its after-restore hooks, plus the restore's own price."""
        mean = dict(self.mean_ms)
        restores = 0.0
        if snapstart:
            if self.restored_list_ms is None:
                raise ValueError("no figure for a first request after restore")
            mean[COLD] = self.restored_list_ms
            restores = 1_000_000 * MIX[COLD] * self.gigabytes * SNAPSTART_RESTORE_PER_GB
        seconds = sum(
            share * math.ceil(mean[kind] + ASSUMED_AWS_WAIT_MS[kind]) / 1000 for kind, share in MIX.items()
        )
        return (
            1_000_000 * seconds * self.gigabytes * PRICE_PER_GB_SECOND + PRICE_PER_MILLION_REQUESTS + restores
        )

    def snapstart_cache_per_month(self) -> float:
        """Dollars a month for one active SnapStart version's snapshot (a deploy leaves the one
        before it active until it has not been invoked for 14 days)."""
        return self.gigabytes * SECONDS_PER_MONTH * SNAPSTART_CACHE_PER_GB_SECOND

    def meets_rule(self) -> bool:
        return self.cold_list_ms < COLD_LIST_LIMIT_MS and self.warm_list_p99_ms < WARM_LIST_P99_LIMIT_MS


def pick(sizes: list[SizeFigures]) -> SizeFigures | None:
    """The rule's pick, or None when no measured size meets it."""
    passing = [size for size in sizes if size.meets_rule()]
    return min(passing, key=lambda size: (size.cost_per_million(), size.memory_mb), default=None)
