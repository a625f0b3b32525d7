"""The cost model and the memory rule, on figures chosen to sit either side of its limits."""

import pytest

from benchmarks.memory import (
    ASSUMED_AWS_WAIT_MS,
    MIX,
    PRICE_PER_GB_SECOND,
    PRICE_PER_MILLION_REQUESTS,
    SNAPSTART_CACHE_PER_GB_SECOND,
    SNAPSTART_RESTORE_PER_GB,
    SizeFigures,
    pick,
)


def figures(memory: int, cold: float, p99: float, mean: float = 2.0) -> SizeFigures:
    return SizeFigures(memory, cold, p99, dict.fromkeys(MIX, mean))


def test_cost_is_billed_gb_seconds_plus_requests() -> None:
    size = figures(1024, 500.0, 10.0, mean=1.2)
    seconds = sum(share * -(-(1.2 + ASSUMED_AWS_WAIT_MS[kind]) // 1) / 1000 for kind, share in MIX.items())
    assert size.cost_per_million() == pytest.approx(
        1e6 * seconds * 1.0 * PRICE_PER_GB_SECOND + PRICE_PER_MILLION_REQUESTS
    )
    assert figures(2048, 500.0, 10.0, mean=1.2).cost_per_million() > size.cost_per_million()


def test_with_snapstart_cold_starts_are_restores_billed_from_the_hooks_plus_the_restore() -> None:
    cold, restored = 700.0, 50.0
    means = dict.fromkeys(MIX, 2.0) | {"cold first authenticated list": cold}
    on_demand = SizeFigures(2048, cold, 10.0, means, restored_list_ms=restored)
    saved_seconds = MIX["cold first authenticated list"] * 1e6 * (cold - restored) / 1000
    restores = MIX["cold first authenticated list"] * 1e6 * 2 * SNAPSTART_RESTORE_PER_GB
    assert on_demand.cost_per_million(snapstart=True) == pytest.approx(
        on_demand.cost_per_million() - saved_seconds * 2 * PRICE_PER_GB_SECOND + restores
    )
    assert on_demand.snapstart_cache_per_month() == pytest.approx(
        2 * 30 * 86400 * SNAPSTART_CACHE_PER_GB_SECOND
    )
    with pytest.raises(ValueError):
        figures(1024, cold, 10.0).cost_per_million(snapstart=True)


def test_pick_is_the_cheapest_size_meeting_the_rule() -> None:
    sizes = [
        figures(256, 3_000.0, 90.0),  # cold too slow
        figures(512, 999.0, 50.0),  # p99 not under 50 ms
        figures(1024, 999.0, 49.0),
        figures(1769, 500.0, 5.0),
    ]
    chosen = pick(sizes)
    assert chosen is not None and chosen.memory_mb == 1024
    assert pick(sizes[:2]) is None
