"""The cost of a memory size and the rule that picks FunctionMemoryMB from measured figures."""

import math
from dataclasses import dataclass

# AWS Lambda, us-east-1, arm64 (the template's architecture), first pricing tier; as listed on
# https://aws.amazon.com/lambda/pricing/ (checked 2026-11-26). Duration is billed per 1 ms, and
# since August 2025 the INIT phase of on-demand functions is billed as duration too.
PRICE_PER_GB_SECOND = 0.0000133334
PRICE_PER_MILLION_REQUESTS = 0.20

# The stated mix of one million requests: share of requests by kind.
MIX = {"cold first authenticated list": 0.01, "warm list of 20": 0.89, "warm /health": 0.10}
# Time spent waiting on AWS per request, which the benchmark does not measure (moto is local, the
# warm runs answer DynamoDB in-process) but Lambda bills: assumed, not measured. A list makes two
# DynamoDB calls; /health serves its cached probe round; a cold start also opens TLS connections
# and fetches the JWKS and the cursor key.
ASSUMED_AWS_WAIT_MS = {
    "cold first authenticated list": 150.0,
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

    def cost_per_million(self) -> float:
        """Dollars for one million requests of MIX: billed duration (rounded up to 1 ms) at the
        arm64 price per GB-second, plus the request price."""
        gigabytes = self.memory_mb / 1024
        seconds = sum(
            share * math.ceil(self.mean_ms[kind] + ASSUMED_AWS_WAIT_MS[kind]) / 1000
            for kind, share in MIX.items()
        )
        return 1_000_000 * seconds * gigabytes * PRICE_PER_GB_SECOND + PRICE_PER_MILLION_REQUESTS

    def meets_rule(self) -> bool:
        return self.cold_list_ms < COLD_LIST_LIMIT_MS and self.warm_list_p99_ms < WARM_LIST_P99_LIMIT_MS


def pick(sizes: list[SizeFigures]) -> SizeFigures | None:
    """The rule's pick, or None when no measured size meets it."""
    passing = [size for size in sizes if size.meets_rule()]
    return min(passing, key=lambda size: (size.cost_per_million(), size.memory_mb), default=None)
