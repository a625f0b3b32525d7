"""The boto3 clients, created once per process with one place for their configuration.

Endpoints are not configured here on purpose: botocore honours AWS_ENDPOINT_URL and the
per-service AWS_ENDPOINT_URL_<SERVICE> variables, which is how the local stack points at moto.
"""

from dataclasses import dataclass
from typing import Any

import boto3
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
    session = boto3.session.Session(region_name=region)
    return AwsClients(
        dynamodb=session.client("dynamodb", config=_COMMON),
        # SigV4 is required for presigned URLs to work in every region and on moto.
        s3=session.client("s3", config=_COMMON.merge(Config(signature_version="s3v4"))),
    )
