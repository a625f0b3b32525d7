"""Where moto is kinder than S3 in what a test depends on, made to do what S3 does.

moto 5's CopyObject checks neither x-amz-copy-source-if-match (S3: 412 PreconditionFailed when the
source's ETag differs) nor If-None-Match: * on the target (S3: 412 when the target exists; 409
ConditionalRequestConflict while another conditional write of it is in progress). Create's copy
from the staging key depends on both (app/store/audio.py, copy_verified), so the tests that prove
it run with copy_conditions_as_s3(): the two checks, then moto's own copy.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from moto.s3.exceptions import PreconditionFailed
from moto.s3.responses import S3Response

_moto_copy_object = S3Response.copy_object


def _copy_object_as_s3(self: S3Response) -> Any:
    source_etag = self.headers.get("x-amz-copy-source-if-match")
    if source_etag is not None:
        source = urlparse(self.headers["x-amz-copy-source"])
        bucket, key = unquote(source.path).lstrip("/").split("/", 1)
        found = self.backend.get_object(bucket, key)
        if found is None or found.etag.strip('"') != source_etag.strip('"'):
            raise PreconditionFailed("x-amz-copy-source-If-Match")
    target_exists = self.backend.get_object(self.bucket_name, self.parse_key_name()) is not None
    if self.headers.get("If-None-Match") == "*" and target_exists:
        raise PreconditionFailed("If-None-Match")
    return _moto_copy_object(self)


@contextmanager
def copy_conditions_as_s3() -> Iterator[None]:
    """moto's CopyObject honours the source ETag and the target's If-None-Match, as S3 does, in
    this process (mock_aws and the in-process server alike)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(S3Response, "copy_object", _copy_object_as_s3)
        yield
