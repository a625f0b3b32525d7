"""Latency mode: warm requests of each route with every AWS call taking its service's round trip,
as on AWS, instead of the local AWS's microseconds. Per route: the AWS calls, how many of them
come one after the other on the request's critical path (by service), and p50/p99.

    python -m benchmarks.latency [--memory 1024] [--rtt dynamodb=5,s3=20] [--requests 50] [REF ...]

REF: commits to compare (`.`, the default, is the working tree), each run in turn on the same
local AWS (Amazon's DynamoDB Local for the table, moto's server for the rest), under the memory
size's CPU share. benchmarks/bench.py runs it for the working tree at the chosen size.
"""

import argparse
import os
import statistics
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.builds import ROOT, run_measuring_child
from benchmarks.cpu_share import CpuShares
from benchmarks.stack import Environment, dynamodb_local_table, seed, start_aws, writes_counters_in_index

# Round trips in one region, by botocore service id, in ms. DynamoDB: "consistent single-digit
# millisecond" responses (https://aws.amazon.com/dynamodb/); S3: small requests' median latency
# "often in the tens of milliseconds range" (https://docs.aws.amazon.com/whitepapers/latest/
# s3-optimizing-performance-best-practices/timeouts-and-retries-for-latency-sensitive-applications.html).
# Other services publish no figure: assumed.
DEFAULT_RTT_MS = {"dynamodb": 5.0, "s3": 20.0}
OTHER_RTT_MS = 10.0


def rtt_list(text: str) -> dict[str, float]:
    """`dynamodb=5,s3=20` -> {"dynamodb": 5.0, "s3": 20.0}, over the defaults."""
    given = {}
    for part in filter(None, text.split(",")):
        service, _, ms = part.partition("=")
        try:
            given[service.strip()] = float(ms)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not SERVICE=MS: {part}") from None
    return DEFAULT_RTT_MS | given


def latency_run(
    env: Environment,
    source: Path,
    rtt_ms: dict[str, float],
    requests: int,
    preexec: Callable[[], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """One process (benchmarks/latency_run.py) under `preexec`'s CPU quota running SOURCE's app
    against the local AWS, with DynamoDB on DynamoDB Local (AWS_ENDPOINT_URL_DYNAMODB)."""
    token, user_id = env.user(f"latency-{uuid.uuid4().hex[:12]}@example.com")
    # More than a page: the list signs a cursor. The counters as SOURCE writes them.
    seed(env.stack.table_name, user_id, 25, writes_counters_in_index(source))
    spec = {
        "source": str(source),
        "root": str(ROOT),
        "env": env.app_env()
        | {
            "AWS_ENDPOINT_URL_DYNAMODB": os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
            "UPLOADS_PER_USER_PER_HOUR": "100000",
            # Every init-upload request leaves a pending upload: room for all of them (the most
            # the settings allow; the full plan makes 50 requests a route).
            "MAX_PENDING_UPLOADS_PER_USER": "1000",
        },
        "token": token,
        "rtt_ms": rtt_ms,
        "default_rtt_ms": OTHER_RTT_MS,
        "requests": requests,
    }
    results: dict[str, dict[str, Any]] = run_measuring_child(
        "latency_run.py", spec, preexec, f"latency run of {source}"
    )
    return results


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def summary(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "calls": max(figures["calls"]),
        "sequential": max(figures["sequential"]),
        "by_service": figures["by_service"],
        "chain": figures["chain"],
        "p50_ms": statistics.median(figures["ms"]),
        "p99_ms": _p99(figures["ms"]),
        "model_p50_ms": statistics.median(figures["model_ms"]),
        "model_p99_ms": _p99(figures["model_ms"]),
    }


def table(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Rows by route, a column per ref: AWS calls, sequential calls (DynamoDB, S3), p50 / p99."""
    refs = list(results)
    first = results[refs[0]]
    lines = [
        "| route | "
        + " | ".join(
            f"{ref}: calls, sequential (DynamoDB + S3 + other), p50 / p99, model p50 / p99" for ref in refs
        )
        + " |",
        "|---|" + "---|" * len(refs),
    ]
    for route in first:
        cells = []
        for ref in refs:
            s = summary(results[ref][route])
            by = s["by_service"]
            other = s["sequential"] - by.get("dynamodb", 0) - by.get("s3", 0)
            cells.append(
                f"{s['calls']}, {s['sequential']} ({by.get('dynamodb', 0)} + {by.get('s3', 0)} + {other}), "
                f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f} ms, {s['model_p50_ms']:.1f} / {s['model_p99_ms']:.1f} ms"
            )
        lines.append(f"| {route} | " + " | ".join(cells) + " |")
    return lines


def heading(memory: int | None, rtt_ms: dict[str, float], requests: int) -> str:
    rtts = ", ".join(f"{service} {ms:g} ms" for service, ms in rtt_ms.items())
    share = f"{memory} MB's CPU share" if memory else "two whole cores"
    return (
        f"Latency mode ({share}; round trips: {rtts}, any other service {OTHER_RTT_MS:g} ms; "
        f"{requests} warm requests per route): AWS calls per request, the calls one after the "
        "other on its critical path, p50 / p99 with the round trips applied, and the model: the "
        "request's CPU time plus the round trips on its critical path (the local AWS's own time, "
        "which a loaded machine stretches past the round trips, left out)"
    )


def latency_lines(latency: dict[str, Any]) -> list[str]:
    """The report's section, from the figures as the bench's JSON holds them."""
    requests = len(next(iter(latency["routes"].values()))["ms"])
    return [
        heading(latency["memory_mb"], latency["rtt_ms"], requests),
        "",
        *table({"this commit": latency["routes"]}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("refs", nargs="*", default=["."], help="commits, or `.` for the working tree")
    parser.add_argument(
        "--memory", type=int, default=1024, help="MB whose CPU share to run under (0: two cores)"
    )
    parser.add_argument(
        "--rtt", type=rtt_list, default=DEFAULT_RTT_MS, help="SERVICE=MS,... over the defaults"
    )
    parser.add_argument("--requests", type=int, default=50, help="warm requests per route")
    args = parser.parse_args()
    from benchmarks.compare import checkout

    sources = {ref: checkout(ref) for ref in args.refs}
    env = start_aws()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        with dynamodb_local_table(env), CpuShares() as shares:
            print(shares.description, file=sys.stderr)
            for ref, source in sources.items():
                results[ref] = latency_run(
                    env, source, args.rtt, args.requests, shares.preexec(args.memory or None)
                )
    finally:
        env.endpoint.stop()
    print(heading(args.memory or None, args.rtt, args.requests) + "\n")
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
