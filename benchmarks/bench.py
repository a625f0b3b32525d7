"""Echoes benchmark: cold start, warm overhead, artifact size, memory, DynamoDB work per request
(on DynamoDB Local), parallel writes by one user.

Every speed is a median of interleaved runs (baseline, Echoes, baseline, Echoes, ...) and is given
as a ratio to a baseline measured in the same run, so a noisy machine cancels out.

    python -m benchmarks.bench [--quick] [--json FILE]
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench"
sys.path.insert(0, str(ROOT))

from benchmarks import features  # noqa: E402
from devtools.cognito import access_token  # noqa: E402
from devtools.dynamodb_local import DynamoDBLocal  # noqa: E402
from devtools.events import LambdaContext, rest_event  # noqa: E402
from devtools.local_aws import LocalStack, provision, provision_table  # noqa: E402
from devtools.moto import MotoEndpoint  # noqa: E402
from scripts.artifact_size import describe_largest, measure  # noqa: E402

PINS = {
    line.split("==")[0].split("[")[0]: line.strip()
    for line in (ROOT / "requirements-lambda.txt").read_text().splitlines()
    if "==" in line and not line.startswith("#")
}
BASELINE_PACKAGES = [PINS["fastapi"], PINS["starlette"], PINS["mangum"], PINS["pydantic"]]
ORIGINS = "http://localhost:3000"
EMOTIONS = ("calm", "joy", "hope", "love")


# --- builds -------------------------------------------------------------------------------------


def _run(command: list[str], **kwargs: Any) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def build_all() -> dict[str, Path]:
    """The Echoes artifact as package-function.sh makes it (x86_64, to run here), the baselines
    packaged the same way (.pyc included), and a runtime virtualenv holding only boto3."""
    WORK.mkdir(parents=True, exist_ok=True)
    echoes = WORK / "echoes-x86_64"
    shutil.rmtree(echoes, ignore_errors=True)
    _run([str(ROOT / "scripts" / "package-function.sh"), str(echoes)], env={**os.environ, "ARCH": "x86_64"})
    baseline = WORK / "baseline"
    shutil.rmtree(baseline, ignore_errors=True)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(baseline),
            *BASELINE_PACKAGES,
        ]
    )
    for module in ("hello.py", "hello_boto3.py"):
        shutil.copy(ROOT / "benchmarks" / "baselines" / module, baseline / module)
    _run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(baseline),
        ]
    )
    runtime = WORK / "runtime"
    if not (runtime / "bin" / "python").exists():
        venv.create(runtime, with_pip=True)
        boto3_pin = next(
            line
            for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
            if line.startswith("boto3==")
        )
        _run(
            [
                str(runtime / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                boto3_pin,
            ]
        )
        _run([str(runtime / "bin" / "python"), "-m", "compileall", "-q", "-j", "0", str(runtime / "lib")])
    return {"echoes": echoes, "baseline": baseline, "runtime": runtime / "bin" / "python"}


# --- the local AWS ------------------------------------------------------------------------------


@dataclass
class Environment:
    endpoint: MotoEndpoint
    stack: LocalStack
    token: str
    user_id: str

    def app_env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "Echoes",
            **self.stack.app_env(self.endpoint.url, "prod", "https://echoes.example"),
        }


def start_aws() -> Environment:
    endpoint = MotoEndpoint().start()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint.url,
    )
    stack = provision("prod", "https://echoes.example")
    token, user_id = _user(stack, "bench@example.com")
    return Environment(endpoint, stack, token, user_id)


def _user(stack: LocalStack, email: str) -> tuple[str, str]:
    """An access token and the user id for EMAIL."""
    import boto3
    import jwt

    tokens = access_token(
        boto3.client("cognito-idp"), stack.user_pool_id, stack.app_client_id, email, "Bench-Passw0rd-1"
    )
    return tokens["AccessToken"], jwt.decode(tokens["AccessToken"], options={"verify_signature": False})[
        "sub"
    ]


def seed(table: str, user_id: str, count: int) -> None:
    """`count` echoes for one user, written in batches with exactly the layout the app writes
    (echo items, dense slots per user and per emotion, counters)."""
    import boto3

    from app.store.records import ALL, COUNTS_SK, EchoRecord, count_attribute, key, slot_sk

    dynamodb = boto3.client("dynamodb")
    items, counts = [], {ALL: 0}
    for n in range(count):
        emotion = EMOTIONS[n % len(EMOTIONS)]
        counts[ALL] += 1
        counts[emotion] = counts.get(emotion, 0) + 1
        echo_id = f"00000000-0000-4000-8000-{n:012d}"
        record = EchoRecord(
            echo_id=echo_id,
            user_id=user_id,
            emotion=emotion,
            created_at=f"2026-01-01T00:00:00.{n:06d}Z",
            s3_key=f"audio/{user_id}/{echo_id}.webm",
            file_extension="webm",
            file_size=48_000,
            content_type="audio/webm",
            tags=("rain", "forest"),
            transcript="soft rain on leaves",
            detected_mood="serene",
            duration_seconds=12.5,
            location={"lat": 48.85, "lng": 2.35, "address": "Paris"},
            request_hash="0" * 64,
            slot=counts[ALL],
            emotion_slot=counts[emotion],
        )
        items.append(record.to_item())
        items.append(key(user_id, slot_sk(ALL, counts[ALL])) | {"echo_id": {"S": echo_id}})
        items.append(key(user_id, slot_sk(emotion, counts[emotion])) | {"echo_id": {"S": echo_id}})
    items.append(key(user_id, COUNTS_SK) | {count_attribute(g): {"N": str(n)} for g, n in counts.items()})
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={table: batch})


# --- 1 and 4: cold start and memory ---------------------------------------------------------------

COLD_CHILD = """
import json, sys
event, module = json.loads(sys.argv[1]), sys.argv[2]
handler = __import__(module).handler

class Context:
    function_name = "bench"; memory_limit_in_mb = 256; aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    def get_remaining_time_in_millis(self): return 10000

status = handler(event, Context())["statusCode"]
# VmHWM, not ru_maxrss: Linux carries the forked parent's peak across exec into ru_maxrss.
peak_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"status": status, "rss_kb": peak_kb}), flush=True)
"""


def cold_start(
    python: Path, folder: Path, module: str, event: dict, env: dict[str, str]
) -> tuple[float, int]:
    """Milliseconds from process start to the first answer, and the process's peak RSS in KB."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(python), "-c", COLD_CHILD, json.dumps(event), module],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
        env={**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    line = process.stdout.readline()
    elapsed = (time.perf_counter() - started) * 1000
    _, errors = process.communicate()
    if not line:
        raise SystemExit(f"{module} cold start failed:\n{errors[-3000:]}")
    answer = json.loads(line)
    if answer["status"] != 200:
        raise SystemExit(f"{module} answered {answer['status']}:\n{errors[-2000:]}")
    return elapsed, answer["rss_kb"]


def import_time_top(
    python: Path, folder: Path, env: dict[str, str], top: int = 10
) -> list[tuple[str, float]]:
    """`python -X importtime`'s self times summed by top-level package: where init time goes."""
    result = subprocess.run(
        [str(python), "-X", "importtime", "-c", "import lambda_handler"],
        capture_output=True,
        text=True,
        cwd="/",
        env={**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    by_package: dict[str, float] = {}
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| \s*(\S+)", line)
        if match:
            package = match[2].split(".")[0]
            by_package[package] = by_package.get(package, 0.0) + int(match[1]) / 1000
    return sorted(by_package.items(), key=lambda row: -row[1])[:top]


# --- 2: warm overhead ---------------------------------------------------------------------------


def _canned_aws(records: list[dict], total: int) -> Callable[..., Any]:
    """Answers DynamoDB at botocore's send step: full (de)serialisation, no network."""
    from botocore.awsrequest import AWSResponse

    query = json.dumps({"Items": records, "Count": len(records), "ScannedCount": len(records)}).encode()
    counts = json.dumps(
        {"Item": {"pk": {"S": "x"}, "sk": {"S": "COUNTS"}, "total": {"N": str(total)}}}
    ).encode()

    class Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_: Any):
            yield self._body

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        body = {"DynamoDB_20120810.Query": query, "DynamoDB_20120810.GetItem": counts}.get(target)
        if body is None:
            return None  # anything else (the health probe, once) goes to the local AWS
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, Raw(body))

    return answer


def _percentiles(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] / 1000, ordered[int(len(ordered) * 0.99)] / 1000


def warm(env: Environment, invocations: int) -> dict[str, tuple[float, float]]:
    """p50/p99 microseconds per invocation, in this process, blocks interleaved."""
    os.environ.update(env.app_env())
    from app.settings import get_settings

    get_settings.cache_clear()
    import lambda_handler
    from benchmarks.baselines import hello

    listed = _listed_items(env, 20)
    lambda_handler.app.state.aws_clients.dynamodb.meta.events.register(
        "before-send.dynamodb", _canned_aws(listed, 20)
    )
    auth = {"Authorization": f"Bearer {env.token}"}
    variants = {
        "baseline (a) /health": (hello.handler, rest_event("GET", "/health")),
        "echoes /health": (lambda_handler.handler, rest_event("GET", "/health")),
        "echoes list of 20": (
            lambda_handler.handler,
            rest_event("GET", "/api/v1/echoes", {"page_size": "20"}, auth),
        ),
    }
    samples: dict[str, list[int]] = {name: [] for name in variants}
    context = LambdaContext()
    for name, (handler, event) in variants.items():  # warm-up, and a correctness check
        response = handler(event, context)
        assert response["statusCode"] == 200, (name, response)
        if "list" in name:
            assert len(json.loads(response["body"])["echoes"]) == 20
    block = 500
    for _ in range(max(1, invocations // block)):
        for name, (handler, event) in variants.items():
            timings = samples[name]
            for _ in range(block):
                started = time.perf_counter_ns()
                handler(event, context)
                timings.append(time.perf_counter_ns() - started)
    return {name: _percentiles(timings) for name, timings in samples.items()}


def _listed_items(env: Environment, count: int) -> list[dict]:
    """What DynamoDB answers the app's list query with: the newest items, projected as it asks."""
    import boto3

    from app.store.records import LISTED_NAMES, LISTED_PROJECTION

    response = boto3.client("dynamodb").query(
        TableName=env.stack.table_name,
        IndexName="by_created",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": f"USER#{env.user_id}"}},
        ScanIndexForward=False,
        Limit=count + 1,
        ProjectionExpression=LISTED_PROJECTION,
        ExpressionAttributeNames=LISTED_NAMES,
    )
    return response["Items"]


# --- 5: DynamoDB work per request -----------------------------------------------------------------


def dynamodb_work(env: Environment, sizes: list[int]) -> dict[int, dict[str, tuple[int, int]]]:
    """Calls and items read per request, for users with each number of echoes."""
    import lambda_handler

    fresh = lambda_handler.create_app(lambda_handler.get_settings())  # without warm()'s canned answers
    from mangum import Mangum

    handler = Mangum(fresh, lifespan="off")
    reads: list[int] = []

    def count_reads(parsed: dict, model: Any, **_: Any) -> None:
        if model.name == "Query":
            reads.append(parsed.get("ScannedCount", 0))
        elif model.name == "GetItem":
            reads.append(1 if "Item" in parsed else 0)

    fresh.state.aws_clients.dynamodb.meta.events.register("after-call.dynamodb", count_reads)
    results: dict[int, dict[str, tuple[int, int]]] = {}
    for size in sizes:
        token, user_id = _user(env.stack, f"work-{size}@example.com")
        seed(env.stack.table_name, user_id, size)
        auth = {"Authorization": f"Bearer {token}"}

        def measure_request(
            path: str, query: dict | None = None, auth: dict[str, str] = auth
        ) -> tuple[dict, tuple[int, int]]:
            reads.clear()
            response = handler(rest_event("GET", path, query, auth), LambdaContext())
            assert response["statusCode"] == 200, response
            return json.loads(response["body"]), (len(reads), sum(reads))

        first, first_work = measure_request("/api/v1/echoes", {"page_size": "20"})
        _, later_work = (
            measure_request("/api/v1/echoes", {"page_size": "20", "cursor": first["next_cursor"]})
            if first["next_cursor"]
            else (None, (0, 0))
        )
        row = {
            "list, first page (incl. total_count)": first_work,
            "list, next page by cursor": later_work,
            "random": measure_request("/api/v1/echoes/random")[1],
            "random by emotion": measure_request("/api/v1/echoes/random", {"emotion": "joy"})[1],
            "get": measure_request(f"/api/v1/echoes/{first['echoes'][0]['echo_id']}")[1],
        }
        results[size] = row
    return results


# --- 5b: the DynamoDB work on Amazon's DynamoDB Local, and parallel writes by one user ----------


@contextmanager
def dynamodb_local_table(env: Environment) -> Iterator[str]:
    """The stack's table again, on Amazon's DynamoDB Local (moto does not isolate transactions);
    botocore clients created inside this block use it. Yields its endpoint URL."""
    server = DynamoDBLocal().start()
    previous = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = server.url
    try:
        provision_table("prod", "https://echoes.example", env.stack.region, server.url)
        yield server.url
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
        else:
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = previous
        server.stop()


def _writer_init(app_env: dict[str, str]) -> None:
    """A worker process stands for one Lambda instance: its own interpreter, app and clients."""
    os.environ.update(app_env)
    import lambda_handler  # noqa: F401  # the init phase, before the timed request


def _timed_delete(path: str, token: str) -> tuple[int, float]:
    import lambda_handler

    event = rest_event("DELETE", path, None, {"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    status = lambda_handler.handler(event, LambdaContext())["statusCode"]
    return status, (time.perf_counter() - started) * 1000


def parallel_deletes(env: Environment, dynamodb_endpoint: str, writers: int) -> dict[str, float]:
    """WRITERS parallel DELETEs by one user, each in its own process (as concurrent Lambda
    instances would be), all contending for the user's counters item: success rate, p50/p99."""
    import multiprocessing

    import boto3

    token, user_id = _user(env.stack, f"writer-{writers}@example.com")
    seed(env.stack.table_name, user_id, writers)
    s3 = boto3.client("s3")
    for n in range(writers):
        echo_id = f"00000000-0000-4000-8000-{n:012d}"
        s3.put_object(Bucket=env.stack.bucket_name, Key=f"audio/{user_id}/{echo_id}.webm", Body=b"\0" * 64)
    app_env = {**env.app_env(), "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint}
    paths = [f"/api/v1/echoes/00000000-0000-4000-8000-{n:012d}" for n in range(writers)]
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


# --- 5c: issue 12's endpoints (benchmarks/features.py) --------------------------------------------


def issue_12_figures(
    env: Environment, sizes: list[int], erase: int
) -> tuple[dict[int, dict[str, tuple[int, int]]], dict[str, float]]:
    """DynamoDB work rows for stats, PATCH and the from/to and tag listings; account erasure time."""

    def user_for(email: str) -> tuple[str, str]:
        return _user(env.stack, email)

    rows = features.feature_work(env.stack.table_name, user_for, sizes)
    return rows, features.erasure_time(env.stack.table_name, env.stack.bucket_name, user_for, erase)


# --- the report ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="few runs: proves the benchmark works, not the figures"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    rounds, invocations, sizes = (3, 1_000, [10, 100]) if args.quick else (30, 10_000, [10, 1_000, 10_000])

    builds = build_all()
    env = start_aws()
    try:
        seed(env.stack.table_name, env.user_id, 25)  # more than a page: the list also signs a cursor
        app_env = env.app_env()
        health, listing = (
            rest_event("GET", "/health"),
            rest_event("GET", "/api/v1/echoes", None, {"Authorization": f"Bearer {env.token}"}),
        )
        runs = {
            "baseline (a) hello": (builds["baseline"], "hello", health),
            "baseline (b) hello + boto3 clients": (builds["baseline"], "hello_boto3", health),
            "echoes /health": (builds["echoes"], "lambda_handler", health),
            "echoes first authenticated list": (builds["echoes"], "lambda_handler", listing),
        }
        cold: dict[str, list[float]] = {name: [] for name in runs}
        rss: dict[str, list[int]] = {name: [] for name in runs}
        for _ in range(rounds):  # interleaved: a, b, echoes, echoes-list, a, b, ...
            for name, (folder, module, event) in runs.items():
                ms, kb = cold_start(builds["runtime"], folder, module, event, app_env)
                cold[name].append(ms)
                rss[name].append(kb)
        imports = import_time_top(builds["runtime"], builds["echoes"], app_env)
        warm_figures = warm(env, invocations)
        with dynamodb_local_table(env) as dynamodb_endpoint:
            work = dynamodb_work(env, sizes)
            writes = parallel_deletes(env, dynamodb_endpoint, 8 if args.quick else 16)
            added, erasure = issue_12_figures(env, sizes, 200 if args.quick else 10_000)
            for size, rows in added.items():
                work[size] |= rows
    finally:
        env.endpoint.stop()
    artifact_dir = WORK / "echoes-aarch64"
    shutil.rmtree(artifact_dir, ignore_errors=True)
    _run([str(ROOT / "scripts" / "package-function.sh"), str(artifact_dir)])
    artifact = measure(artifact_dir)

    median = {name: statistics.median(values) for name, values in cold.items()}
    b = median["baseline (b) hello + boto3 clients"]
    lines = [
        f"Echoes benchmark, {datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {rounds} interleaved cold runs, {invocations} warm invocations"
        + (" (QUICK: figures not meaningful)" if args.quick else ""),
        "",
        "| measure | value | ratio | target |",
        "|---|---|---|---|",
    ]
    for name in runs:
        lines.append(
            f"| cold start: {name} | {median[name]:.0f} ms | {median[name] / b:.2f} x (b) | "
            + {"echoes /health": "<= 1.10 x (b)", "echoes first authenticated list": "<= 1.25 x (b)"}.get(
                name, ""
            )
            + " |"
        )
    a_p50 = warm_figures["baseline (a) /health"][0]
    for name, (p50, p99) in warm_figures.items():
        target = {"echoes /health": "p50 <= 1.2 x (a)", "echoes list of 20": "p50 <= 3000 us"}.get(name, "")
        lines.append(
            f"| warm: {name} | p50 {p50:.0f} us, p99 {p99:.0f} us | {p50 / a_p50:.2f} x (a) | {target} |"
        )
    lines.append(
        f"| artifact (arm64, sam build output) | {artifact['unzipped_bytes'] / 1e6:.1f} MB unzipped, "
        f"{artifact['zipped_bytes'] / 1e6:.1f} MB zipped, {artifact['files']} files | | <= 25 MB, <= 8 MB |"
    )
    lines.append(f"| largest packages | {describe_largest(artifact)} | | |")
    for name in runs:
        lines.append(
            f"| peak RSS at cold start: {name} | {statistics.median(rss[name]) / 1024:.0f} MB | | "
            + ("<= 90 MB" if name.startswith("echoes") else "")
            + " |"
        )
    lines += [
        "",
        "DynamoDB work per request (calls, items read) by number of the user's echoes:",
        "",
        "| request | " + " | ".join(f"{size} echoes" for size in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for request in work[sizes[0]]:
        lines.append(
            f"| {request} | "
            + " | ".join(f"{work[s][request][0]} calls, {work[s][request][1]} items" for s in sizes)
            + " |"
        )
    lines += [
        "",
        f"Parallel writes on DynamoDB Local: {writes['writers']} parallel DELETEs by one user, one process each:",
        f"success {writes['success_rate']:.0%}, p50 {writes['p50_ms']:.0f} ms, p99 {writes['p99_ms']:.0f} ms"
        " (target: success 100%)",
    ]
    lines += ["", features.erasure_line(erasure)]
    lines += ["", "python -X importtime of lambda_handler, top 10 packages by import self time:", ""]
    lines += [f"  {ms:7.1f} ms  {module}" for module, ms in imports]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "cold_ms": cold,
                    "rss_kb": rss,
                    "warm_us": warm_figures,
                    "artifact": artifact,
                    "dynamodb": {str(k): v for k, v in work.items()},
                    "parallel_writes": writes,
                    "account_erasure": erasure,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
