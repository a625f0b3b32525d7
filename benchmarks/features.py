"""Benchmark rows for issue 12's endpoints: DynamoDB work per request of stats, PATCH and the
from/to and tag listings, and the time to erase an account, by number of the user's echoes.

    python -m benchmarks.features [--sizes 10 1000 10000] [--erase 10000]

benchmarks/bench.py adds the work rows to its DynamoDB-work table and the erasure time to its
report.
"""

import argparse
import json
import os
import time
from collections.abc import Callable

import boto3

from benchmarks.work import Counter, Work, counted_handler
from devtools.events import LambdaContext, rest_event
from devtools.seed import seed_echoes


def feature_work(
    table: str, user_for: Callable[[str], tuple[str, str]], sizes: list[int]
) -> dict[int, dict[str, Work]]:
    """Rows for each size: a user with that many seeded echoes (every one tagged "rain", one in ten
    also "night"), then one request of each kind."""
    counter = Counter()
    _, handler = counted_handler(counter)
    results: dict[int, dict[str, Work]] = {}
    for size in sizes:
        token, user_id = user_for(f"features-{size}@example.com")
        seeded = seed_echoes(boto3.client("dynamodb"), table, user_id, size)
        auth_header = {"Authorization": f"Bearer {token}"}

        def call(
            method: str,
            path: str,
            query: dict | None = None,
            body: dict | None = None,
            auth_header: dict[str, str] = auth_header,
        ) -> Callable[[], dict]:
            payload = json.dumps(body).encode() if body is not None else None
            headers = dict(auth_header) | ({"Content-Type": "application/json"} if payload else {})
            return lambda: handler(rest_event(method, path, query, headers, payload), LambdaContext.fresh())

        middle = seeded.echo_ids[size // 2]
        echo = f"/api/v1/echoes/{middle}"
        # A window around the middle of the history: 20 of the user's echoes fall inside it.
        since = f"2026-01-01T00:00:{(size // 2) // 1000 % 60:02d}.{(size // 2) % 1000:03d}Z"
        listed, _ = counter.measure(call("GET", "/api/v1/echoes", {"page_size": "20", "from": since}))
        assert listed["statusCode"] == 200
        results[size] = {
            "stats": counter.measure(call("GET", "/api/v1/echoes/stats"))[1],
            "PATCH transcript and tags": counter.measure(
                call("PATCH", echo, body={"transcript": "edited", "tags": ["rain", "edited"]})
            )[1],
            "PATCH emotion (moves counters and slots)": counter.measure(
                call("PATCH", echo, body={"emotion": "sadness"})
            )[1],
            "list by from (page of 20)": counter.measure(
                call("GET", "/api/v1/echoes", {"page_size": "20", "from": since})
            )[1],
            "list by from/to and emotion (page of 20)": counter.measure(
                call("GET", "/api/v1/echoes", {"page_size": "20", "emotion": "calm", "to": since})
            )[1],
            "list by tag, 1 in 10 echoes (page of 20)": counter.measure(
                call("GET", "/api/v1/echoes", {"page_size": "20", "tag": "night"})
            )[1],
            "list by tag, next page by cursor": _next_page_work(
                counter, call, {"page_size": "20", "tag": "night"}
            ),
        }
    return results


def _next_page_work(counter: Counter, call: Callable[..., Callable[[], dict]], query: dict) -> Work:
    first, _ = counter.measure(call("GET", "/api/v1/echoes", query))
    cursor = json.loads(first["body"])["next_cursor"]
    if cursor is None:
        return (0, 0)
    return counter.measure(call("GET", "/api/v1/echoes", query | {"cursor": cursor}))[1]


# Passes the benchmark waits for, over chains the caller resumes: twice a chain's cap.
MAX_ERASURE_PASSES = 200


def erasure_time(
    table: str, bucket: str, user_for: Callable[[str], tuple[str, str]], count: int
) -> dict[str, float]:
    """Seconds to erase an account of COUNT echoes (with versioned audio: 1.2 versions and 0.2
    delete markers an echo), passes chained as the erasure function chains them (app/erasure.py),
    the first one started by the API's DELETE /api/v1/me as outside Lambda (in process)."""
    from app.aws import create_clients
    from app.erasure import ErasureEvent, build_passes, handle
    from app.settings import get_settings

    _token, user_id = user_for(f"erase-{count}@example.com")
    seed_echoes(boto3.client("dynamodb"), table, user_id, count, boto3.client("s3"), bucket)
    get_settings.cache_clear()
    settings = get_settings()
    clients = create_clients(settings.aws_region)
    queued: list[ErasureEvent] = []
    passes = build_passes(settings, clients.dynamodb, clients.s3, queued.append)
    username = f"erase-{count}@example.com"
    first = ErasureEvent(user_id, username).to_json()
    started, answer = time.perf_counter(), handle(passes, first, 10.0)
    count_passes, failed, resumed = 1, int("failed" in answer), 0
    while not answer.get("done") and count_passes < MAX_ERASURE_PASSES:
        count_passes += 1
        if not queued:  # the chain stopped (3 failed passes in a row): the caller's DELETE resumes it
            resumed += 1
        try:
            answer = handle(passes, queued.pop(0).to_json() if queued else first, 10.0)
            failed += int("failed" in answer)
        except Exception:  # as in Lambda: the failed pass has queued the next one (a loaded
            failed += 1  # machine can stretch the local AWS's answers past the read timeout)
            answer = {}
    return {
        "echoes": count,
        "seconds": time.perf_counter() - started,
        "passes": count_passes,
        "failed_passes": failed,
        "resumed": resumed,
        "status": 204 if answer.get("done") else 202,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 10_000])
    parser.add_argument("--erase", type=int, nargs="*", default=[2_000, 10_000])
    args = parser.parse_args()
    from benchmarks.stack import start_aws
    from devtools.dynamodb_local import DynamoDBLocal

    # DynamoDB Local for the table (moto's server copies every table on each transaction, which
    # makes writes slower with each item stored); moto for S3 and Cognito.
    dynamodb = DynamoDBLocal().start()
    env = start_aws(dynamodb.url)
    os.environ.update(env.app_env())
    try:
        work = feature_work(env.stack.table_name, env.user, args.sizes)
        erased = [erasure_time(env.stack.table_name, env.stack.bucket_name, env.user, n) for n in args.erase]
    finally:
        env.endpoint.stop()
        dynamodb.stop()
    print("| request | " + " | ".join(f"{size} echoes" for size in args.sizes) + " |")
    print("|---|" + "---|" * len(args.sizes))
    print(rows(work, args.sizes))
    for figures in erased:
        print(erasure_line(figures))


def erasure_line(figures: dict[str, float]) -> str:
    return (
        f"Account erasure (DELETE /api/v1/me, passes chained as in Lambda), {figures['echoes']:.0f} echoes: "
        f"{figures['seconds']:.1f} s in {figures['passes']:.0f} passes "
        f"({figures.get('failed_passes', 0):.0f} failed and continued, {figures.get('resumed', 0):.0f} chains "
        f"resumed by the caller), last status {figures['status']:.0f}"
    )


def rows(work: dict[int, dict[str, Work]], sizes: list[int]) -> str:
    lines = []
    for request in work[sizes[0]]:
        lines.append(
            f"| {request} | "
            + " | ".join(f"{work[s][request][0]} calls, {work[s][request][1]} items" for s in sizes)
            + " |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
