"""SnapStart's lifecycle, as Lambda's python runtime runs it (devtools/snapstart.py): init, the
before-snapshot hooks, then in each restored environment the after-restore hooks and the first
request. What AWS does and this cannot: the snapshot and restore themselves (memory copied into a
new microVM, its clock and entropy); here the environment is this process or a state saved in it.
"""

import json
import logging
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import snapshot_restore_py

from app import snapstart
from app.jwks import fetch_json
from app.main import create_app
from app.settings import get_settings
from app.store.retry import Backoff
from devtools.events import LambdaContext, rest_event
from devtools.local_aws import LocalStack
from devtools.moto import MotoEndpoint
from devtools.seed import seed_echoes
from devtools.snapstart import run_after_restore, run_before_snapshot
from tests.support import ORIGINS, User, sign_up

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty hook registries, as in a fresh Lambda environment (other tests import lambda_handler)."""
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])


@pytest.fixture
def aws(aws: LocalStack, moto_endpoint: MotoEndpoint, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """conftest's prod stack, and the app's settings for it in the environment."""
    stack = aws
    for name, value in stack.app_env(moto_endpoint.url, "prod", ORIGINS).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return stack


def _user_with_echoes(stack: LocalStack, email: str, echoes: int) -> User:
    user = sign_up(stack.user_pool_id, stack.app_client_id, email)
    seed_echoes(boto3.client("dynamodb"), stack.table_name, user.user_id, echoes)
    return user


def test_the_runner_runs_hooks_in_the_order_lambda_documents(registries: None) -> None:
    ran: list[str] = []
    for name in ("first", "second"):
        snapshot_restore_py.register_before_snapshot(ran.append, f"before {name}")
        snapshot_restore_py.register_after_restore(ran.append, f"after {name}")
    run_before_snapshot()
    run_after_restore()
    # Before the snapshot in reverse order of registration, after restore in order of registration.
    assert ran == ["before second", "before first", "after first", "after second"]


def test_lambda_handler_registers_the_hooks_the_runtime_runs(
    registries: None, aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "lambda_handler", raising=False)
    import lambda_handler

    assert snapshot_restore_py.get_before_snapshot() == [
        (snapstart.before_snapshot, (lambda_handler.app,), {})
    ]
    assert snapshot_restore_py.get_after_restore() == [(snapstart.after_restore, (lambda_handler.app,), {})]


# The child is a fresh interpreter, as a Lambda environment is: init (importing lambda_handler), the
# before-snapshot hooks, a look at everything the heap holds (what the snapshot would hold), the
# after-restore hooks, then the first request, whose token arrives on stdin only then.
LIFECYCLE = """
import gc, json, sys, threading
import lambda_handler
from devtools.events import LambdaContext
from devtools.snapstart import run_after_restore, run_before_snapshot

def heap_strings():
    gc.unfreeze()  # frozen objects are outside gc.get_objects()
    return [value for value in gc.get_referents(*gc.get_objects()) if isinstance(value, (str, bytes))]

# The needles come masked, and are unmasked into bytearrays, which the look below skips: a str or
# bytes of them in this process would be found in the heap itself.
MASK = 0x5A
needles = [bytearray(b ^ MASK for b in bytes.fromhex(masked)) for masked in json.loads(sys.argv[1])]

def held():
    shortest = min(map(len, needles))
    found = set()
    for value in heap_strings():
        if len(value) >= shortest:
            data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
            found |= {n for n, needle in enumerate(needles) if needle in data}
    return sorted(found)

report = {}
run_before_snapshot()
report["snapshot_holds"] = held()
report["snapshot_threads"] = threading.active_count()
state = lambda_handler.app.state
report["built_before_snapshot"] = {  # by the priming request, and the client made ahead
    "middleware stack": lambda_handler.app.middleware_stack is not None,
    "secrets manager client": state.secrets_manager.cache_info().currsize == 1,
}
modules = set(sys.modules)
reads = []
secrets = state.secrets_manager()
secrets.meta.events.register("after-call.secrets-manager.GetSecretValue", lambda **_: reads.append(1))
run_after_restore()
event = json.loads(sys.stdin.read())
response = lambda_handler.handler(event, LambdaContext.fresh())
report["status"] = response["statusCode"]
report["next_cursor"] = json.loads(response["body"])["next_cursor"] is not None
report["imported_by_first_request"] = sorted(set(sys.modules) - modules)
report["key_reads_after_restore"] = len(reads)
report["first_request_holds"] = held()
print("REPORT " + json.dumps(report), flush=True)
"""


def test_the_snapshot_holds_no_token_no_key_no_user_data_and_a_restored_environment_imports_nothing(
    aws: LocalStack,
) -> None:
    user = _user_with_echoes(aws, "snap@example.com", 25)  # more than a page: the list signs a cursor
    key = boto3.client("secretsmanager").get_secret_value(SecretId=aws.secret_name)["SecretString"]
    masked = [
        bytes(b ^ 0x5A for b in needle.encode()).hex() for needle in (user.access_token, key, user.user_id)
    ]
    event = rest_event("GET", "/api/v1/echoes", None, user.headers)
    result = subprocess.run(
        [sys.executable, "-c", LIFECYCLE, json.dumps(masked)],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(lines[-1].removeprefix("REPORT "))
    assert report["snapshot_holds"] == []  # none of: the token, the cursor key, the user's id
    assert report["snapshot_threads"] == 1  # no worker thread frozen into the snapshot
    assert report["built_before_snapshot"] == {"middleware stack": True, "secrets manager client": True}
    assert report["status"] == 200 and report["next_cursor"]
    assert report["imported_by_first_request"] == []
    assert report["key_reads_after_restore"] == 1  # the cursor key comes after restore
    # The look at the heap finds them once the first request has them: it would have seen them.
    assert report["first_request_holds"] == [0, 1, 2]  # token, key, user id


@pytest.fixture
def hooked(registries: None, aws: LocalStack) -> Any:
    """An app with its hooks registered, JWKS fetches counted."""
    fetches: list[str] = []

    def counting_fetch(url: str) -> dict[str, Any]:
        fetches.append(url)
        return fetch_json(url)

    app = create_app(get_settings(), fetch_jwks=counting_fetch)
    app.state.jwks_fetches = fetches
    snapstart.install(app)
    return app


def test_every_restored_environment_draws_its_own_retry_jitter(hooked: Any) -> None:
    run_before_snapshot()
    snapshot = random.getstate()  # what every environment restored from this snapshot starts with

    def restored_jitter() -> list[float]:
        random.setstate(snapshot)
        run_after_restore()
        pauses: list[float] = []
        backoff = Backoff(sleep=pauses.append)  # the store's retry policy, its default jitter source
        for attempt in backoff.attempts():
            if attempt == 5:
                break
        return pauses

    assert restored_jitter() != restored_jitter()


def _invoke(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    from mangum import Mangum

    response: dict[str, Any] = Mangum(app, lifespan="off")(event, LambdaContext.fresh())
    return response


@pytest.fixture
def urllib3_connections(caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """The connections botocore opens, from urllib3's own log."""
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        yield lambda: sum("Starting new HTTP" in record.getMessage() for record in caplog.records)


def test_after_restore_connections_are_new_health_is_probed_again_and_the_jwks_refetched(
    hooked: Any, aws: LocalStack, urllib3_connections: Any
) -> None:
    user, other = _user_with_echoes(aws, "clock@example.com", 3), _user_with_echoes(aws, "new@example.com", 1)
    listing = rest_event("GET", "/api/v1/echoes", None, user.headers)
    run_before_snapshot()
    # Whatever the environment did before (here, after the before-snapshot hooks: a real request
    # and a health round, cached against the clock) ...
    assert _invoke(hooked, listing)["statusCode"] == 200
    assert _invoke(hooked, rest_event("GET", "/health"))["statusCode"] == 200
    assert hooked.state.health.cached() is not None
    opened, fetched = urllib3_connections(), len(hooked.state.jwks_fetches)
    assert _invoke(hooked, listing)["statusCode"] == 200
    assert urllib3_connections() == opened  # pooled: the same connection again
    run_after_restore()
    # ... a restored environment opens its own connections, probes again, fetches the keys again.
    assert hooked.state.health.cached() is None
    assert _invoke(hooked, rest_event("GET", "/api/v1/echoes", None, other.headers))["statusCode"] == 200
    assert urllib3_connections() > opened
    assert len(hooked.state.jwks_fetches) == fetched + 1
