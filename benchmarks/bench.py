"""Echoes benchmark: cold start and warm requests at each memory size's CPU share, cost, the
memory pick, artifact size, memory, DynamoDB work per request (on DynamoDB Local), parallel writes by
one user.

Cold starts are medians of interleaved runs (baseline (a), baseline (b), Echoes /health, Echoes
list, at each size in turn, then again), and the targets are ratios to baseline (b) measured in
the same run and at the same size, so a noisy machine cancels out as far as it can.

    python -m benchmarks.bench [--quick] [--memory 128,256,512,1024,1769] [--json FILE]
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench"
UV = ROOT / ".uv" / "bin" / "uv"  # scripts/bench.sh installs it (scripts/lib.sh, ensure_uv)
sys.path.insert(0, str(ROOT))

from benchmarks import features  # noqa: E402
from benchmarks.cpu_share import CpuShares  # noqa: E402
from benchmarks.memory import (  # noqa: E402
    ASSUMED_AWS_WAIT_MS,
    MIX,
    PRICE_PER_GB_SECOND,
    PRICE_PER_MILLION_REQUESTS,
    RULE,
    SizeFigures,
    pick,
)
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
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--python",
            sys.executable,
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
    if not (runtime / "bin" / "python").exists():  # as Lambda's runtime: boto3, not even pip
        boto3_pin = next(
            line
            for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
            if line.startswith("boto3==")
        )
        _run([str(UV), "venv", "--quiet", "--no-python-downloads", "--python", sys.executable, str(runtime)])
        python = str(runtime / "bin" / "python")
        _run([str(UV), "pip", "install", "--quiet", "--compile-bytecode", "--python", python, boto3_pin])
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


def start_aws(dynamodb_endpoint: str | None = None) -> Environment:
    """moto's server as AWS, the stack provisioned on it; the table on DYNAMODB_ENDPOINT (DynamoDB
    Local) when given."""
    endpoint = MotoEndpoint().start()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint.url,
    )
    if dynamodb_endpoint:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_endpoint
    stack = provision("prod", "https://echoes.example", dynamodb_endpoint=dynamodb_endpoint)
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
    python: Path,
    folder: Path,
    module: str,
    event: dict,
    env: dict[str, str],
    preexec: Callable[[], None] | None = None,
) -> tuple[float, int]:
    """Milliseconds from process start to the first answer, and the process's peak RSS in KB;
    `preexec` puts the process under a CPU quota before it starts the interpreter."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(python), "-c", COLD_CHILD, json.dumps(event), module],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
        env={**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=preexec,
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


# --- 5: DynamoDB work per request -----------------------------------------------------------------


def dynamodb_work(env: Environment, sizes: list[int]) -> dict[int, dict[str, tuple[int, int]]]:
    """Calls and items read per request, for users with each number of echoes."""
    os.environ.update(env.app_env())
    from app.main import create_app
    from app.settings import get_settings

    get_settings.cache_clear()
    fresh = create_app(get_settings())  # without warm()'s canned answers
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

        first, first_work = measure_request("/api/v1/echoes", {"page_size": str(PAGE_SIZE)})
        _, later_work = (
            measure_request("/api/v1/echoes", {"page_size": str(PAGE_SIZE), "cursor": first["next_cursor"]})
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


# --- 2: warm invocations ------------------------------------------------------------------------
# --- 5c: issue 12's endpoints (benchmarks/features.py) --------------------------------------------


def issue_12_figures(
    env: Environment, sizes: list[int], erase: int
) -> tuple[dict[int, dict[str, tuple[int, int]]], dict[str, float]]:
    """DynamoDB work rows for stats, PATCH and the from/to and tag listings; account erasure time."""

    def user_for(email: str) -> tuple[str, str]:
        return _user(env.stack, email)

    rows = features.feature_work(env.stack.table_name, user_for, sizes)
    return rows, features.erasure_time(env.stack.table_name, env.stack.bucket_name, user_for, erase)


def warm_samples(
    env: Environment,
    source: Path,
    invocations: int,
    block: int,
    preexec: Callable[[], None] | None = None,
) -> dict[str, list[int]]:
    """Nanoseconds per invocation, by variant, from one process running the code in `source`
    (benchmarks/warm.py) under `preexec`'s CPU quota."""
    spec = {
        "source": str(source),
        "env": env.app_env(),
        "token": env.token,
        "listed": _listed_items(env, PAGE_SIZE),
        "invocations": invocations,
        "block": block,
    }
    process = subprocess.run(  # the dev venv: the app's requirements plus devtools'
        [sys.executable, str(ROOT / "benchmarks" / "warm.py"), json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=preexec,
        check=False,
    )
    if process.returncode != 0:
        raise SystemExit(f"warm run of {source} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.splitlines()[-1])


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


def percentiles(samples: list[int]) -> dict[str, float]:
    """p50, p99 and mean of nanosecond samples, in milliseconds."""
    ordered = sorted(samples)
    return {
        "p50": ordered[len(ordered) // 2] / 1e6,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6,
        "mean": sum(ordered) / len(ordered) / 1e6,
    }


# --- the run ------------------------------------------------------------------------------------

COLD = {
    "baseline (a) hello": ("baseline", "hello", "health"),
    "baseline (b) hello + boto3 clients": ("baseline", "hello_boto3", "health"),
    "echoes /health": ("echoes", "lambda_handler", "health"),
    "echoes first authenticated list": ("echoes", "lambda_handler", "list"),
}
B = "baseline (b) hello + boto3 clients"
PAGE_SIZE = 20


@dataclass(frozen=True)
class Plan:
    cold_rounds: int
    warm_rounds: int
    warm_per_round: int  # invocations per variant per round
    block: int
    work_sizes: list[int]
    parallel_writers: int  # parallel DELETEs by one user, on DynamoDB Local
    erase_echoes: int  # echoes of the user whose account erasure is timed


# --quick proves that every section still runs (the test command runs it): one cold run of each
# variant, a few warm invocations, small users. Its figures mean nothing.
QUICK = Plan(
    cold_rounds=1,
    warm_rounds=1,
    warm_per_round=20,
    block=10,
    work_sizes=[10, 100],  # more than a page of 20: the list's next page by cursor is measured
    parallel_writers=4,
    erase_echoes=50,
)
FULL = Plan(
    cold_rounds=10,
    warm_rounds=2,
    warm_per_round=1_000,
    block=250,
    work_sizes=[10, 1_000, 10_000],
    parallel_writers=16,
    erase_echoes=10_000,
)


def column_name(memory_mb: int | None) -> str:
    return "2 cores" if memory_mb is None else f"{memory_mb} MB"


def measure_all(plan: Plan, memories: list[int], shares: CpuShares) -> dict[str, Any]:
    """Every figure of the run: cold starts and warm blocks for each column (two whole cores, then
    each memory size's CPU share), interleaved so that machine load falls on all of them alike."""
    builds = build_all()
    columns: list[int | None] = [None, *memories]
    env = start_aws()
    try:
        seed(env.stack.table_name, env.user_id, 25)  # more than a page: the list also signs a cursor
        app_env = env.app_env()
        events = {
            "health": rest_event("GET", "/health"),
            "list": rest_event("GET", "/api/v1/echoes", None, {"Authorization": f"Bearer {env.token}"}),
        }
        cold: dict[str, dict[str, list[float]]] = {column_name(c): {n: [] for n in COLD} for c in columns}
        rss: dict[str, list[int]] = {name: [] for name in COLD}
        for _ in range(plan.cold_rounds):  # a, b, echoes, echoes-list at each size, then again
            for memory in columns:
                for name, (build, module, event) in COLD.items():
                    ms, kb = cold_start(
                        builds["runtime"],
                        builds[build],
                        module,
                        events[event],
                        app_env,
                        shares.preexec(memory),
                    )
                    cold[column_name(memory)][name].append(ms)
                    if memory is None:
                        rss[name].append(kb)
        warm: dict[str, dict[str, list[int]]] = {column_name(c): {} for c in columns}
        for _ in range(plan.warm_rounds):
            for memory in columns:
                samples = warm_samples(
                    env, builds["echoes"], plan.warm_per_round, plan.block, shares.preexec(memory)
                )
                for name, values in samples.items():
                    warm[column_name(memory)].setdefault(name, []).extend(values)
        imports = import_time_top(builds["runtime"], builds["echoes"], app_env)
        with dynamodb_local_table(env) as dynamodb_endpoint:
            work = dynamodb_work(env, plan.work_sizes)
            writes = parallel_deletes(env, dynamodb_endpoint, plan.parallel_writers)
            added, erasure = issue_12_figures(env, plan.work_sizes, plan.erase_echoes)
            for size, rows in added.items():
                work[size] |= rows
    finally:
        env.endpoint.stop()
    artifact_dir = WORK / "echoes-aarch64"
    shutil.rmtree(artifact_dir, ignore_errors=True)
    _run([str(ROOT / "scripts" / "package-function.sh"), str(artifact_dir)])
    return {
        "cold_ms": cold,
        "warm": {c: {n: percentiles(v) for n, v in by_name.items()} for c, by_name in warm.items()},
        "rss_kb": rss,
        "imports_ms": imports,
        "artifact": measure(artifact_dir),
        "dynamodb": {str(size): row for size, row in work.items()},
        "parallel_writes": writes,
        "account_erasure": erasure,
    }


def size_figures(memory: int, figures: dict[str, Any]) -> SizeFigures:
    cold = {
        name: statistics.median(values) for name, values in figures["cold_ms"][column_name(memory)].items()
    }
    warm = figures["warm"][column_name(memory)]
    return SizeFigures(
        memory_mb=memory,
        cold_list_ms=cold["echoes first authenticated list"],
        warm_list_p99_ms=warm["echoes list of 20"]["p99"],
        mean_ms={
            "cold first authenticated list": cold["echoes first authenticated list"],
            "warm list of 20": warm["echoes list of 20"]["mean"],
            "warm /health": warm["echoes /health"]["mean"],
        },
    )


# --- the report ---------------------------------------------------------------------------------


def _met(ok: bool | None) -> str:
    """A target's status; None: the run could not measure it (too few echoes, in --quick)."""
    return "**not measured**" if ok is None else "**met**" if ok else "**not met**"


def report(figures: dict[str, Any], memories: list[int], header: str) -> list[str]:
    columns = ["2 cores", *(column_name(m) for m in memories)]
    cold = {c: {n: statistics.median(v) for n, v in by.items()} for c, by in figures["cold_ms"].items()}
    warm = figures["warm"]
    sizes = [size_figures(m, figures) for m in memories]
    chosen = pick(sizes)
    lines = [header, "", "| measure | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]

    def row(label: str, cell: Callable[[str], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(c) for c in columns) + " |")

    for name in COLD:
        ratio = name.startswith("echoes")
        row(
            f"cold: {name}",
            lambda c, n=name, r=ratio: (
                f"{cold[c][n]:,.0f} ms" + (f" ({cold[c][n] / cold[c][B]:.2f} x b)" if r else "")
            ),
        )
    for name in warm["2 cores"]:
        row(
            f"warm: {name} p50 / p99",
            lambda c, n=name: f"{warm[c][n]['p50']:.2f} / {warm[c][n]['p99']:.2f} ms",
        )
    by_column = {column_name(s.memory_mb): s for s in sizes}
    row(
        "cost of 1M requests (mix below)",
        lambda c: f"${by_column[c].cost_per_million():.2f}" if c in by_column else "",
    )
    row(
        "meets the rule",
        lambda c: ("yes" if by_column[c].meets_rule() else "no") if c in by_column else "",
    )
    mix = ", ".join(f"{share:.0%} {kind}" for kind, share in MIX.items())
    waits = ", ".join(f"{kind} +{ms:.0f} ms" for kind, ms in ASSUMED_AWS_WAIT_MS.items())
    lines += [
        "",
        f"Cost: one million requests of {mix}; billed duration is the measured mean (cold: the "
        f"median cold start) plus an assumed wait on AWS ({waits}), rounded up to 1 ms, at "
        f"${PRICE_PER_GB_SECOND:.10f} per GB-s (arm64, us-east-1) plus ${PRICE_PER_MILLION_REQUESTS:.2f} "
        "per million requests.",
        f"Rule: {RULE}.",
        f"Pick: FUNCTION_MEMORY_MB={chosen.memory_mb}"
        if chosen
        else "Pick: none of the measured sizes meets the rule",
    ]
    lines += ["", *targets(figures, memories, cold, chosen)]
    lines += _artifact_and_work(figures)
    return lines


def reads_constant(work: dict[Any, dict[str, list[int]]]) -> tuple[bool | None, list[str]]:
    """Whether the DynamoDB reads per request are constant with the user's echoes (WORK: by size,
    by request, [calls, items read]): the same calls at every size that makes the request, and
    never more items than a page, the one after it (is there a next page?) and the counter, which
    one size shows as well as many. None when nothing fails but a request was made at fewer than
    two sizes (a next page needs more echoes than a page: 10 fit on one): its calls are not
    compared. Also returns those requests."""
    requests = list(work[next(iter(work))])
    made = {
        request: [work[size][request][0] for size in work if work[size][request][0]] for request in requests
    }
    unmeasured = [request for request, calls in made.items() if len(calls) < 2]
    bounded = all(max(work[size][request][1] for size in work) <= PAGE_SIZE + 2 for request in requests)
    same_calls = all(len(set(calls)) == 1 for request, calls in made.items() if request not in unmeasured)
    if not (bounded and same_calls):
        return False, unmeasured
    return (None if unmeasured else True), unmeasured


def targets(
    figures: dict[str, Any],
    memories: list[int],
    cold: dict[str, dict[str, float]],
    chosen: SizeFigures | None,
) -> list[str]:
    list_name, health_name = "echoes first authenticated list", "echoes /health"
    ratios = {
        name: {column_name(m): cold[column_name(m)][name] / cold[column_name(m)][B] for m in memories}
        for name in (list_name, health_name)
    }
    worst = {name: max(by.items(), key=lambda item: item[1]) for name, by in ratios.items()}
    two_cores = figures["warm"]["2 cores"]["echoes list of 20"]
    artifact = figures["artifact"]
    peak = max(statistics.median(v) for n, v in figures["rss_kb"].items() if n.startswith("echoes")) / 1024
    work = figures["dynamodb"]
    constant, unmeasured = reads_constant(work)
    chosen_cold = chosen.cold_list_ms if chosen else None
    rows: list[tuple[str, bool | None, str]] = [
        (
            "cold first authenticated list <= 1.0 s at the chosen size",
            chosen_cold is not None and chosen_cold <= 1000,
            f"{chosen_cold:,.0f} ms at {chosen.memory_mb} MB" if chosen and chosen_cold else "no size chosen",
        ),
        (
            "cold first authenticated list <= 1.15 x (b) at every size",
            worst[list_name][1] <= 1.15,
            f"worst {worst[list_name][1]:.2f} x at {worst[list_name][0]}",
        ),
        (
            "cold /health <= 1.05 x (b) at every size",
            worst[health_name][1] <= 1.05,
            f"worst {worst[health_name][1]:.2f} x at {worst[health_name][0]}",
        ),
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
            ", ".join(f"{size}" for size in work)
            + " echoes compared"
            + (f"; made at fewer than two sizes: {', '.join(unmeasured)}" if unmeasured else ""),
        ),
    ]
    return [
        "| target | status | measured |",
        "|---|---|---|",
        *(f"| {name} | {_met(ok)} | {value} |" for name, ok, value in rows),
    ]


def _artifact_and_work(figures: dict[str, Any]) -> list[str]:
    artifact, work = figures["artifact"], figures["dynamodb"]
    sizes = list(work)
    lines = [
        "",
        f"Artifact (arm64, sam build output): {artifact['unzipped_bytes'] / 1e6:.1f} MB unzipped, "
        f"{artifact['zipped_bytes'] / 1e6:.1f} MB zipped, {artifact['files']} files; largest: "
        f"{describe_largest(artifact)}.",
        "Peak RSS at cold start (two cores): "
        + ", ".join(f"{name} {statistics.median(v) / 1024:.0f} MB" for name, v in figures["rss_kb"].items())
        + ".",
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
    writes = figures["parallel_writes"]
    lines += [
        "",
        f"Parallel writes on DynamoDB Local: {writes['writers']} parallel DELETEs by one user, one process each:",
        f"success {writes['success_rate']:.0%}, p50 {writes['p50_ms']:.0f} ms, p99 {writes['p99_ms']:.0f} ms"
        " (target: success 100%)",
    ]
    lines += ["", features.erasure_line(figures["account_erasure"])]
    lines += [
        "",
        "python -X importtime of lambda_handler (two cores), top 10 packages by import self time:",
        "",
    ]
    lines += [f"  {ms:7.1f} ms  {module}" for module, ms in figures["imports_ms"]]
    return lines


def memory_list(text: str) -> list[int]:
    sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    if not sizes or any(size < 128 or size > 10_240 for size in sizes):
        raise argparse.ArgumentTypeError("memory sizes are MB between 128 and 10240, comma-separated")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="few runs: proves the benchmark works, not the figures"
    )
    parser.add_argument(
        "--memory",
        type=memory_list,
        default=[128, 256, 512, 1024, 1769],
        help="memory sizes (MB) whose CPU share to measure under, e.g. 256,1769",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    commit = _run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"]).strip()
    with CpuShares() as shares:
        print(shares.description, flush=True)
        started = time.monotonic()
        figures = measure_all(plan, args.memory, shares)
    header = (
        f"Echoes benchmark, {datetime.now(UTC):%Y-%m-%d}, commit {commit}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {shares.description}; "
        f"{plan.cold_rounds} interleaved cold runs and {plan.warm_rounds * plan.warm_per_round} warm "
        f"invocations per variant and column; took {(time.monotonic() - started) / 60:.1f} min"
        + (" (QUICK: figures not meaningful)" if args.quick else "")
    )
    print("\n".join(report(figures, args.memory, header)))
    if args.json:
        chosen = pick([size_figures(m, figures) for m in args.memory])
        figures["pick_mb"] = chosen.memory_mb if chosen else None
        figures["commit"] = commit
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
