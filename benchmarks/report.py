"""The benchmark's report: the table by memory size, the cost and the rule's pick, the targets,
then the artifact, memory, DynamoDB work, parallel writes, erasure and import-time sections."""

import statistics
from collections.abc import Callable
from typing import Any

from benchmarks import features
from benchmarks.cold import COLD, B
from benchmarks.latency import latency_lines
from benchmarks.memory import (
    ASSUMED_AWS_WAIT_MS,
    MIX,
    PRICE_PER_GB_SECOND,
    PRICE_PER_MILLION_REQUESTS,
    RULE,
    SNAPSTART_CACHE_PER_GB_SECOND,
    SNAPSTART_RESTORE_PER_GB,
    SizeFigures,
    pick,
)
from benchmarks.restore import RESTORED
from benchmarks.stack import PAGE_SIZE
from scripts.artifact_size import describe_largest

LIST, HEALTH = "echoes first authenticated list", "echoes /health"
RESTORE_TARGET_MB = 1024


def column_name(memory_mb: int | None) -> str:
    return "2 cores" if memory_mb is None else f"{memory_mb} MB"


def cold_medians(figures: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {c: {n: statistics.median(v) for n, v in by.items()} for c, by in figures["cold_ms"].items()}


def size_figures(memory: int, figures: dict[str, Any]) -> SizeFigures:
    cold = cold_medians(figures)[column_name(memory)]
    warm = figures["warm"][column_name(memory)]
    return SizeFigures(
        memory_mb=memory,
        cold_list_ms=cold[LIST],
        warm_list_p99_ms=warm["echoes list of 20"]["p99"],
        mean_ms={
            "cold first authenticated list": cold[LIST],
            "warm list of 20": warm["echoes list of 20"]["mean"],
            "warm /health": warm["echoes /health"]["mean"],
        },
        restored_list_ms=cold.get(RESTORED),
    )


def chosen_size(figures: dict[str, Any], memories: list[int]) -> SizeFigures | None:
    return pick([size_figures(m, figures) for m in memories])


def _met(ok: bool | None) -> str:
    """A target's status; None: the run could not measure it (too few echoes, in --quick)."""
    return "**not measured**" if ok is None else "**met**" if ok else "**not met**"


class Table:
    """A markdown table with a column per measured column (two cores, then each memory size)."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.lines = ["| measure | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]

    def row(self, label: str, cell: Callable[[str], str]) -> None:
        self.lines.append(f"| {label} | " + " | ".join(cell(c) for c in self.columns) + " |")


def measures(figures: dict[str, Any], memories: list[int]) -> list[str]:
    """The table by column: cold starts (with their ratio to (b)), warm percentiles, cost, rule."""
    table = Table(["2 cores", *(column_name(m) for m in memories)])
    cold, warm = cold_medians(figures), figures["warm"]
    for name in COLD:
        ratio = name.startswith("echoes")
        table.row(
            f"cold: {name}",
            lambda c, n=name, r=ratio: (
                f"{cold[c][n]:,.0f} ms" + (f" ({cold[c][n] / cold[c][B]:.2f} x b)" if r else "")
            ),
        )
    table.row(
        f"SnapStart: {RESTORED} (from the after-restore hooks)",
        lambda c: f"{cold[c][RESTORED]:,.0f} ms ({cold[c][RESTORED] / cold[c][LIST]:.2f} x cold)",
    )
    for name in warm["2 cores"]:
        table.row(
            f"warm: {name} p50 / p99",
            lambda c, n=name: f"{warm[c][n]['p50']:.2f} / {warm[c][n]['p99']:.2f} ms",
        )
    by_column = {column_name(m): size_figures(m, figures) for m in memories}
    table.row(
        "cost of 1M requests (mix below)",
        lambda c: f"${by_column[c].cost_per_million():.2f}" if c in by_column else "",
    )
    table.row(
        "cost of 1M requests with SnapStart, + snapshot cache a month",
        lambda c: (
            f"${by_column[c].cost_per_million(snapstart=True):.2f} + ${by_column[c].snapstart_cache_per_month():.2f}"
            if c in by_column
            else ""
        ),
    )
    table.row(
        "meets the rule", lambda c: ("yes" if by_column[c].meets_rule() else "no") if c in by_column else ""
    )
    return table.lines


def cost_and_rule(chosen: SizeFigures | None) -> list[str]:
    mix = ", ".join(f"{share:.0%} {kind}" for kind, share in MIX.items())
    waits = ", ".join(f"{kind} +{ms:.0f} ms" for kind, ms in ASSUMED_AWS_WAIT_MS.items())
    return [
        f"Cost: one million requests of {mix}; billed duration is the measured mean (cold: the "
        f"median cold start) plus an assumed wait on AWS ({waits}), rounded up to 1 ms, at "
        f"${PRICE_PER_GB_SECOND:.10f} per GB-s (arm64, us-east-1) plus ${PRICE_PER_MILLION_REQUESTS:.2f} "
        "per million requests. With SnapStart, each cold start is a restore: billed from its "
        "after-restore hooks (the runtime's own restore work, also billed, is not measured), plus "
        f"${SNAPSTART_RESTORE_PER_GB:.10f} per GB restored; each active version's snapshot costs "
        f"${SNAPSTART_CACHE_PER_GB_SECOND:.10f} per GB-s cached (a month shown).",
        f"Rule: {RULE}.",
        f"Pick: FUNCTION_MEMORY_MB={chosen.memory_mb}"
        if chosen
        else "Pick: none of the measured sizes meets the rule",
    ]


def reads_constant(work: dict[Any, dict[str, list[int]]]) -> tuple[bool | None, list[str]]:
    """Whether the DynamoDB reads per request are constant with the user's echoes (WORK: by size,
    by request, [calls, items read]): the same calls at every size that makes the request, and
    never more items than a page, the one after it (is there a next page?) and the counter, which
    one size shows as well as many. None when nothing fails but a request was made at fewer than
    two sizes (a next page needs more echoes than a page: 10 fit on one): its calls are not
    compared. Also returns those requests."""
    rows = list(work.values())
    calls = {request: [row[request][0] for row in rows if row[request][0]] for request in rows[0]}
    unmeasured = [request for request, made in calls.items() if len(made) < 2]
    if not (_within_a_page(rows) and _same_calls(calls, unmeasured)):
        return False, unmeasured
    return (None if unmeasured else True), unmeasured


def _within_a_page(rows: list[dict[str, list[int]]]) -> bool:
    return max(items for row in rows for _, items in row.values()) <= PAGE_SIZE + 2


def _same_calls(calls: dict[str, list[int]], unmeasured: list[str]) -> bool:
    return all(len(set(made)) == 1 for request, made in calls.items() if request not in unmeasured)


Target = tuple[str, bool | None, str]  # what, met (None: not measured), the figure


def _worst_ratio(figures: dict[str, Any], memories: list[int], name: str) -> tuple[str, float]:
    """The column where NAME's cold start is the largest multiple of baseline (b)'s."""
    cold = cold_medians(figures)
    ratios = {column_name(m): cold[column_name(m)][name] / cold[column_name(m)][B] for m in memories}
    return max(ratios.items(), key=lambda item: item[1])


def cold_targets(figures: dict[str, Any], memories: list[int], chosen: SizeFigures | None) -> list[Target]:
    at, worst_list = _worst_ratio(figures, memories, LIST)
    health_at, worst_health = _worst_ratio(figures, memories, HEALTH)
    return [
        (
            "cold first authenticated list <= 1.0 s at the chosen size",
            chosen is not None and chosen.cold_list_ms <= 1000,
            f"{chosen.cold_list_ms:,.0f} ms at {chosen.memory_mb} MB" if chosen else "no size chosen",
        ),
        (
            "cold first authenticated list <= 1.15 x (b) at every size",
            worst_list <= 1.15,
            f"worst {worst_list:.2f} x at {at}",
        ),
        (
            "cold /health <= 1.05 x (b) at every size",
            worst_health <= 1.05,
            f"worst {worst_health:.2f} x at {health_at}",
        ),
        _restored_target(figures),
    ]


def _restored_target(figures: dict[str, Any]) -> Target:
    at = cold_medians(figures).get(column_name(RESTORE_TARGET_MB), {}).get(RESTORED)
    return (
        f"first authenticated list after a SnapStart restore <= 100 ms at {RESTORE_TARGET_MB} MB",
        None if at is None else at <= 100,
        "not measured at that size" if at is None else f"{at:,.0f} ms",
    )


def other_targets(figures: dict[str, Any]) -> list[Target]:
    two_cores = figures["warm"]["2 cores"]["echoes list of 20"]
    artifact = figures["artifact"]
    peak = max(statistics.median(v) for n, v in figures["rss_kb"].items() if n.startswith("echoes")) / 1024
    constant, unmeasured = reads_constant(figures["dynamodb"])
    compared = ", ".join(str(size) for size in figures["dynamodb"]) + " echoes compared"
    return [
        (
            "warm list of 20 with two cores: p50 <= 1.5 ms, p99 <= 3 ms",
            two_cores["p50"] <= 1.5 and two_cores["p99"] <= 3,
            f"p50 {two_cores['p50']:.2f} ms, p99 {two_cores['p99']:.2f} ms",
        ),
        (
            "artifact <= 40 MB unzipped, <= 15 MB zipped",
            artifact["unzipped_bytes"] <= 40e6 and artifact["zipped_bytes"] <= 15e6,
            f"{artifact['unzipped_bytes'] / 1e6:.1f} MB, {artifact['zipped_bytes'] / 1e6:.1f} MB",
        ),
        ("peak RSS <= 90 MB", peak <= 90, f"{peak:.0f} MB"),
        (
            "DynamoDB reads per request constant with the user's echoes",
            constant,
            compared + (f"; made at fewer than two sizes: {', '.join(unmeasured)}" if unmeasured else ""),
        ),
    ]


def targets(figures: dict[str, Any], memories: list[int], chosen: SizeFigures | None) -> list[str]:
    rows = cold_targets(figures, memories, chosen) + other_targets(figures)
    return [
        "| target | status | measured |",
        "|---|---|---|",
        *(f"| {n} | {_met(ok)} | {v} |" for n, ok, v in rows),
    ]


def artifact_and_memory(figures: dict[str, Any]) -> list[str]:
    artifact = figures["artifact"]
    return [
        f"Artifact (arm64, sam build output): {artifact['unzipped_bytes'] / 1e6:.1f} MB unzipped, "
        f"{artifact['zipped_bytes'] / 1e6:.1f} MB zipped, {artifact['files']} files; largest: "
        f"{describe_largest(artifact)}.",
        "Peak RSS at cold start (two cores): "
        + ", ".join(f"{name} {statistics.median(v) / 1024:.0f} MB" for name, v in figures["rss_kb"].items())
        + ".",
    ]


def dynamodb_work(work: dict[Any, dict[str, list[int]]]) -> list[str]:
    sizes = list(work)
    lines = [
        "DynamoDB work per request (calls, items read) by number of the user's echoes:",
        "",
        "| request | " + " | ".join(f"{size} echoes" for size in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for request in work[sizes[0]]:
        cells = (f"{work[s][request][0]} calls, {work[s][request][1]} items" for s in sizes)
        lines.append(f"| {request} | " + " | ".join(cells) + " |")
    return lines


def writes_erasure_imports(figures: dict[str, Any]) -> list[str]:
    writes = figures["parallel_writes"]
    return [
        f"Parallel writes on DynamoDB Local: {writes['writers']} parallel DELETEs by one user, one process each:",
        f"success {writes['success_rate']:.0%}, p50 {writes['p50_ms']:.0f} ms, p99 {writes['p99_ms']:.0f} ms"
        " (target: success 100%)",
        "",
        features.erasure_line(figures["account_erasure"]),
        "",
        "python -X importtime of lambda_handler (two cores), top 10 packages by import self time:",
        "",
        *(f"  {ms:7.1f} ms  {module}" for module, ms in figures["imports_ms"]),
    ]


def report(figures: dict[str, Any], memories: list[int], header: str) -> list[str]:
    chosen = chosen_size(figures, memories)
    sections = [
        [header],
        measures(figures, memories),
        cost_and_rule(chosen),
        targets(figures, memories, chosen),
        artifact_and_memory(figures),
        dynamodb_work(figures["dynamodb"]),
        latency_lines(figures["latency"]),
        writes_erasure_imports(figures),
    ]
    return [line for section in sections for line in [*section, ""]][:-1]
