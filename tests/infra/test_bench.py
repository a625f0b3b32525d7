"""The benchmark's quick mode runs in the test command so it cannot rot. It asserts that every
section produced figures, never how fast anything was (speed is for the benchmark to print)."""

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks.bench import QUICK

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_prints_every_section(tmp_path: Path) -> None:
    figures = tmp_path / "bench.json"
    # 1024 MB, the chosen size, is a fraction of a core: the CPU quota is exercised, without the
    # long waits of 256 MB's seventh of a core (docs/local-development.md, the test command).
    result = subprocess.run(
        [str(ROOT / "scripts" / "bench.sh"), "--quick", "--memory", "1024,1769", "--json", str(figures)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = result.stdout
    # One line says whether the CPU shares apply (root with a writable cgroup) or not.
    assert table.startswith(("CPU limited by cgroup", "CPU NOT LIMITED")), table[:300]
    assert "| measure | 2 cores | 1024 MB | 1769 MB |" in table
    for heading in (
        "| cold: echoes /health |",
        "| cold: echoes first authenticated list |",
        "| SnapStart: echoes first authenticated list after restore (from the after-restore hooks) |",
        "| cost of 1M requests with SnapStart, + snapshot cache a month |",
        "| first authenticated list after a SnapStart restore <= 100 ms at 1024 MB |",
        "| warm: echoes /health p50 / p99 |",
        "| warm: echoes list of 20 p50 / p99 |",
        "| cost of 1M requests (mix below) |",
        "| meets the rule |",
        "Rule: ",
        "Pick: ",
        "| target | status | measured |",
        "Artifact (arm64",
        "Peak RSS at cold start",
        "DynamoDB work per request",
        "Parallel writes on DynamoDB Local",
        "Account erasure",
        "importtime of lambda_handler",
        "Latency mode (1024 MB's CPU share; round trips: dynamodb 5 ms, s3 20 ms",
        "| list, first page | ",
        "| create | ",
    ):
        assert heading in table, heading
    data = json.loads(figures.read_text())
    assert set(data["cold_ms"]) == {"2 cores", "1024 MB", "1769 MB"}
    assert all(
        len(runs) == QUICK.cold_rounds for column in data["cold_ms"].values() for runs in column.values()
    )
    assert all(
        "echoes first authenticated list after restore" in column for column in data["cold_ms"].values()
    )
    assert all(set(column["echoes list of 20"]) == {"p50", "p99", "mean"} for column in data["warm"].values())
    assert data["pick_mb"] in (None, 1024, 1769)
    assert data["artifact"]["unzipped_bytes"] > 0 and data["artifact"]["largest"]
    work = data["dynamodb"]
    # The property the table exists to show: reads per request do not grow with the echoes.
    for request in work["10"]:
        if request != "list, next page by cursor":  # 10 echoes fit on one page: no cursor
            assert work["10"][request][0] == work["100"][request][0], request
    assert work["100"]["random"] == [3, 3]
    assert {
        "stats",
        "PATCH emotion (moves counters and slots)",
        "list by tag, 1 in 10 echoes (page of 20)",
    } <= set(work["10"])
    assert data["account_erasure"]["status"] == 204
    latency = data["latency"]["routes"]
    # Each route's requests were held to the round trips and their calls counted: a warm get
    # reads one echo, in one DynamoDB round trip.
    assert all(len(route["ms"]) == QUICK.latency_requests for route in latency.values())
    assert latency["get"]["calls"] == [1] * QUICK.latency_requests
    assert latency["get"]["by_service"] == {"dynamodb": 1}
    writes = data["parallel_writes"]
    assert (
        writes["writers"] == QUICK.parallel_writers
        and 0 <= writes["success_rate"] <= 1
        and writes["p99_ms"] >= writes["p50_ms"]
    )
