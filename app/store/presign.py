"""Presigned S3 GET URLs without botocore's per-call pipeline.

botocore runs its whole per-call pipeline (endpoint rules, events, request objects) for each
presigned URL, and a page of 20 echoes needs 20 (docs/performance.md). This signer does SigV4 query
signing (stdlib hmac/hashlib; the AWS documented algorithm for presigned URLs) and derives the
signing key once per day. Where to send requests (virtual-host or path style, custom endpoint) is
still decided by botocore: the URL prefix is taken from one URL botocore presigned.
tests/unit/test_presign.py requires its URLs to equal botocore's for the same instant.
"""

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

_ALGORITHM = "AWS4-HMAC-SHA256"
_PROBE_KEY = "echoes-probe"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


class PresignedGetSigner:
    """CREDENTIALS: the botocore credentials the client signs with (Session.get_credentials(),
    botocore's public way to them), refreshed by botocore when they are temporary."""

    def __init__(self, client: Any, bucket: str, credentials: Any) -> None:
        sample = urlsplit(
            client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": _PROBE_KEY}, ExpiresIn=60
            )
        )
        self._origin = f"{sample.scheme}://{sample.netloc}"
        self._host = sample.netloc
        self._path_prefix = sample.path[: -len(_PROBE_KEY)]  # "/" or "/<bucket>/"
        self._region = client.meta.region_name
        self._credentials = credentials
        self._signing_keys: dict[tuple[str, str], bytes] = {}
        self._queries: dict[tuple[str, str | None, str, int], str] = {}

    def _signing_key(self, secret: str, day: str) -> bytes:
        cache_key = (secret, day)
        key = self._signing_keys.get(cache_key)
        if key is None:
            key = _hmac(
                _hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), self._region), "s3"), "aws4_request"
            )
            self._signing_keys = {cache_key: key}  # only today's key is ever needed
        return key

    def _canonical_query(self, access_key: str, token: str | None, timestamp: str, expires_in: int) -> str:
        """The same for every URL signed in the same second: computed once for a page of echoes."""
        cache_key = (access_key, token, timestamp, expires_in)
        query = self._queries.get(cache_key)
        if query is None:
            params = {
                "X-Amz-Algorithm": _ALGORITHM,
                "X-Amz-Credential": f"{access_key}/{timestamp[:8]}/{self._region}/s3/aws4_request",
                "X-Amz-Date": timestamp,
                "X-Amz-Expires": str(expires_in),
                "X-Amz-SignedHeaders": "host",
            }
            if token:
                params["X-Amz-Security-Token"] = token
            query = "&".join(
                f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
                for name, value in sorted(params.items())
            )
            self._queries = {cache_key: query}
        return query

    def urls(self, keys: list[str], expires_in: int, now: datetime | None = None) -> list[str]:
        """One URL per key, all signed at the same instant: the credentials, the timestamp, the
        query and the signing key are the page's, only the path and the signature each key's."""
        credentials = self._credentials.get_frozen_credentials()
        timestamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        day = timestamp[:8]  # YYYYMMDD
        query = self._canonical_query(credentials.access_key, credentials.token, timestamp, expires_in)
        signing_key = self._signing_key(credentials.secret_key, day)
        scope = f"{_ALGORITHM}\n{timestamp}\n{day}/{self._region}/s3/aws4_request\n"

        def signed(key: str) -> str:
            path = self._path_prefix + quote(key, safe="/~")
            canonical_request = f"GET\n{path}\n{query}\nhost:{self._host}\n\nhost\nUNSIGNED-PAYLOAD"
            string_to_sign = scope + hashlib.sha256(canonical_request.encode()).hexdigest()
            signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
            return f"{self._origin}{path}?{query}&X-Amz-Signature={signature}"

        return [signed(key) for key in keys]
