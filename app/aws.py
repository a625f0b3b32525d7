"""The AWS clients (botocore), created once per process with one place for their configuration.

Endpoints are not configured here on purpose: botocore honours AWS_ENDPOINT_URL and the
per-service AWS_ENDPOINT_URL_<SERVICE> variables, which is how the local stack points at moto.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

from app import deadline

# Every call Echoes makes is a small control-plane call (DynamoDB items, S3 head/tag/delete, one
# secret), so a second without a byte back means a hung endpoint, not a slow answer. With the
# request deadline (Settings.request_deadline_seconds, checked before every attempt below), a
# request that meets a hung endpoint ends within deadline + READ_TIMEOUT_SECONDS: well inside API
# Gateway's 29 s, and a client sees 503 + Retry-After instead of a hang.
CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 1.5
_COMMON = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    tcp_keepalive=True,
    # Every request is built by the store from input pydantic has validated, and the services
    # validate what they receive: botocore's client-side check only repeats that on every call.
    parameter_validation=False,
)


def _refuse_after_deadline(**_: Any) -> None:
    """Before each attempt of each call (retries included): no new attempt once the request's
    budget is spent. Not a botocore exception, so botocore's retry logic lets it through."""
    deadline.check()


def _no_retry_that_cannot_finish(caught_exception: Exception | None = None, **_: Any) -> None:
    """After an attempt that timed out or failed to connect: if less than one read timeout is
    left, give up now rather than sleep (botocore's backoff) and start an attempt that would end
    past the deadline. Other failures are left to botocore's retry policy."""
    left = deadline.remaining()
    if caught_exception is not None and left is not None and left < READ_TIMEOUT_SECONDS:
        raise deadline.DeadlineExceeded() from caught_exception


@dataclass(frozen=True)
class AwsClients:
    dynamodb: Any
    s3: Any


# SigV4 is required for presigned URLs to work in every region and on moto.
_PER_SERVICE = {"s3": Config(signature_version="s3v4")}


@cache
def _session() -> botocore.session.Session:
    # One session per process: it caches botocore's endpoint and model data, so a client created
    # later (Secrets Manager, on the first cursor) does not load them a second time.
    # botocore, not boto3: the low-level clients are all Echoes uses, and importing boto3 (with
    # s3transfer) would lengthen every cold start (docs/performance.md).
    session = botocore.session.get_session()
    session.register("before-send", _refuse_after_deadline)
    session.register("needs-retry", _no_retry_that_cannot_finish)
    return session


def observe_calls(
    before: Callable[..., None],
    after: Callable[..., None],
    failed: Callable[..., None],
    clients: Iterable[Any] = (),
) -> None:
    """Handlers around every API call of CLIENTS and of every client made from now on (botocore's
    before-call, after-call and after-call-error events; app/tracing.py), registered once."""
    for events in [_session(), *(client.meta.events for client in clients)]:
        events.register("before-call", before, unique_id="echoes-observe-before-call")
        events.register("after-call", after, unique_id="echoes-observe-after-call")
        events.register("after-call-error", failed, unique_id="echoes-observe-after-call-error")


def create_client(service: str, region: str, config_override: Config | None = None) -> Any:
    """A client of SERVICE with the common configuration, and CONFIG_OVERRIDE's where given."""
    config = _COMMON.merge(_PER_SERVICE[service]) if service in _PER_SERVICE else _COMMON
    if config_override is not None:
        config = config.merge(config_override)
    # A User-Agent given once (Config's documented `user_agent`, botocore's own short form): left
    # unset, botocore rebuilds its detailed one, with per-call feature flags, twice on every call.
    config = config.merge(Config(user_agent=_session().user_agent()))
    return _session().create_client(service, region_name=region, config=config)


def credentials() -> Any:
    """The credentials every client of this process signs with (botocore's Session.get_credentials:
    environment variables in Lambda, refreshed by botocore when temporary)."""
    return _session().get_credentials()


def create_clients(region: str) -> AwsClients:
    return AwsClients(dynamodb=create_client("dynamodb", region), s3=create_client("s3", region))
