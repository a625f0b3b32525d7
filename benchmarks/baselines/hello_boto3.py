"""Baseline (b): baseline (a) plus DynamoDB and S3 clients created at import: the smallest
realistic app. (Packaged next to hello.py, as top-level modules.)"""

import boto3
from hello import app, handler  # noqa: F401 - the function's handler is hello's

dynamodb = boto3.client("dynamodb")
s3 = boto3.client("s3")
