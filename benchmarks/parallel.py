"""Parallel writes by one user on Amazon's DynamoDB Local: N DELETEs at once, each in its own
process (as concurrent Lambda instances would be), all contending for the user's counters item."""

import multiprocessing
import statistics
import time

from benchmarks.stack import Environment, echo_id, seed
from devtools.events import LambdaContext, rest_event


def _writer_init(app_env: dict[str, str]) -> None:
    """A worker process stands for one Lambda instance: its own interpreter, app and clients."""
    import os

    os.environ.update(app_env)
    import lambda_handler  # noqa: F401  # the init phase, before the timed request


def _timed_delete(path: str, token: str) -> tuple[int, float]:
    import lambda_handler

    event = rest_event("DELETE", path, None, {"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    status = lambda_handler.handler(event, LambdaContext())["statusCode"]
    return status, (time.perf_counter() - started) * 1000


def parallel_deletes(env: Environment, dynamodb_endpoint: str, writers: int) -> dict[str, float]:
    """WRITERS parallel DELETEs by one user: success rate, p50/p99 in ms."""
    import boto3

    token, user_id = env.user(f"writer-{writers}@example.com")
    seed(env.stack.table_name, user_id, writers)
    s3 = boto3.client("s3")
    for n in range(writers):
        s3.put_object(Bucket=env.stack.bucket_name, Key=f"audio/{user_id}/{echo_id(n)}.webm", Body=b"\0" * 64)
    app_env = {**env.app_env(), "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint}
    paths = [f"/api/v1/echoes/{echo_id(n)}" for n in range(writers)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(writers, initializer=_writer_init, initargs=(app_env,)) as pool:
        results = pool.starmap(_timed_delete, [(path, token) for path in paths], chunksize=1)
    latencies = sorted(ms for _, ms in results)
    return {
        "writers": writers,
        "success_rate": sum(status == 204 for status, _ in results) / writers,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
    }
