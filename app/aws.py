"""The boto3 clients, created once per process with one place for their configuration.

Endpoints are not configured here on purpose: botocore honours AWS_ENDPOINT_URL and the
per-service AWS_ENDPOINT_URL_<SERVICE> variables, which is how the local stack points at moto.
"""

from dataclasses import dataclass
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


def create_clients(region: str) -> AwsClients:
    # botocore, not boto3: the low-level clients are all Echoes uses, and importing boto3 (with
    # s3transfer) adds ~40 ms to every cold start (README, Performance).
    session = botocore.session.get_session()
    return AwsClients(
        dynamodb=session.create_client("dynamodb", region_name=region, config=_COMMON),
        # SigV4 is required for presigned URLs to work in every region and on moto.
        s3=session.create_client(
            "s3", region_name=region, config=_COMMON.merge(Config(signature_version="s3v4"))
        ),
    )
