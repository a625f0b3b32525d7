"""S3 (moto) must serve what the fast GET presigner signs (its URLs equal botocore's: tests/unit)."""

import boto3
import requests
from botocore.config import Config

from app.store.presign import PresignedGetSigner


def test_s3_serves_the_signed_url(aws: None) -> None:
    session = boto3.Session()
    s3 = session.client("s3", config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="bucket-name")
    s3.put_object(Bucket="bucket-name", Key="audio/u/e.webm", Body=b"sound")
    response = requests.get(
        PresignedGetSigner(s3, "bucket-name", session.get_credentials()).urls(["audio/u/e.webm"], 60)[0],
        timeout=10,
    )
    assert response.status_code == 200 and response.content == b"sound"
