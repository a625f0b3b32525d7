"""The AWS clients (botocore), created once per process with one place for their configuration.

Endpoints are not configured here on purpose: botocore honours AWS_ENDPOINT_URL and the
per-service AWS_ENDPOINT_URL_<SERVICE> variables, which is how the local stack points at moto.
"""

from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

_COMMON = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)


@dataclass(frozen=True)
class AwsClients:
    dynamodb: Any
    s3: Any


# SigV4 is required for presigned URLs to work in every region and on moto.
_PER_SERVICE = {"s3": Config(signature_version="s3v4")}


@cache
def _session() -> botocore.session.Session:
    # One session per process: it caches botocore's endpoint and model data, so a client created
    # later (Secrets Manager, on the first cursor) does not load them a second time (~60 ms).
    # botocore, not boto3: the low-level clients are all Echoes uses, and importing boto3 (with
    # s3transfer) adds ~40 ms to every cold start (README, Performance).
    return botocore.session.get_session()


def create_client(service: str, region: str) -> Any:
    config = _COMMON.merge(_PER_SERVICE[service]) if service in _PER_SERVICE else _COMMON
    return _session().create_client(service, region_name=region, config=config)


def create_clients(region: str) -> AwsClients:
    return AwsClients(dynamodb=create_client("dynamodb", region), s3=create_client("s3", region))
