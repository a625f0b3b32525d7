"""The user pool's signing keys (JWKS), fetched over TLS and cached per container.

The key set decides whose tokens are accepted, so HTTPS to it trusts only the roots Cognito's
certificates chain to, not the ~140 of the system store, which also take longer to load at every
cold start (docs/performance.md).
"""

import json
import math
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

JWKS_TIMEOUT_SECONDS = 3.0
# An unknown kid refetches the set at most once a minute: random kids cannot make us fetch often.
MIN_REFETCH_SECONDS = 60.0
# After a failed fetch, requests answer 503 at once for this long instead of each fetching in
# turn under the lock (each up to JWKS_TIMEOUT_SECONDS): at most one fetch per window goes out.
FAILED_FETCH_MEMORY_SECONDS = 5.0

JsonFetcher = Callable[[str], dict[str, Any]]

TRUSTED_ROOTS = Path(__file__).with_name("amazon_trust_roots.pem")


@cache
def _opener() -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=TRUSTED_ROOTS)
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))


def fetch_json(url: str) -> dict[str, Any]:
    with _opener().open(url, timeout=JWKS_TIMEOUT_SECONDS) as response:
        document: dict[str, Any] = json.load(response)
    return document


class JwksUnavailable(Exception):
    """The key set could not be fetched: the caller's token is not at fault. `retry_after` is how
    many seconds until the next fetch may go out."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _signing_keys(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The RSA signature keys of a JWKS document, by kid."""
    return {
        str(entry["kid"]): entry
        for entry in document.get("keys", [])
        if entry.get("kty") == "RSA"
        and entry.get("alg", "RS256") == "RS256"
        and entry.get("use", "sig") == "sig"  # an "enc" key signs nothing (RFC 7517 4.2)
        and isinstance(entry.get("n"), str)
        and isinstance(entry.get("e"), str)
    }


class JwksCache:
    """Signing keys by kid. Fetched once; refetched for an unknown kid at most once a minute; a
    failed fetch is remembered for FAILED_FETCH_MEMORY_SECONDS.

    Entries stay JWK dicts until a token needs one: the health probe refreshes the set without
    loading the crypto.
    """

    def __init__(self, url: str, fetch: JsonFetcher = fetch_json) -> None:
        self._url = url
        self._fetch = fetch
        self._jwks: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, RSAPublicKey] = {}  # built on first use
        self._fetched_at = float("-inf")
        self._failed_until = float("-inf")
        self._failure = ""
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> "RSAPublicKey | None":
        key = self._keys.get(kid)
        if key is not None:
            return key
        jwk = self._jwk_for(kid)
        return None if jwk is None else self._built(kid, jwk)

    def _jwk_for(self, kid: str) -> dict[str, Any] | None:
        jwk = self._jwks.get(kid)
        fetched_at = self._fetched_at
        if jwk is None and time.monotonic() - fetched_at >= MIN_REFETCH_SECONDS:
            self.refresh(unless_fetched_after=fetched_at)
            jwk = self._jwks.get(kid)
        return jwk

    def _built(self, kid: str, jwk: dict[str, Any]) -> "RSAPublicKey":
        from app import jws  # loads cryptography: the first token pays for it, not every cold start

        try:
            key = jws.public_key(jwk)
        except jws.UnusableKey as exc:  # a key the set cannot deliver: the caller's token is not at fault
            raise JwksUnavailable(f"JWKS key {kid!r} at {self._url} unusable: {exc}", 1) from exc
        with self._lock:  # a refresh may have replaced the set meanwhile: keep the key only if still there
            if self._jwks.get(kid) == jwk:
                self._keys[kid] = key
        return key

    def forget(self) -> None:
        """Drop the keys and when they were fetched (or failed to be): the next token fetches the
        set (after a SnapStart restore, the clock these were measured on is the snapshot's)."""
        with self._lock:
            self._jwks, self._keys = {}, {}
            self._fetched_at = self._failed_until = float("-inf")

    def refresh(self, unless_fetched_after: float | None = None) -> None:
        self._refuse_while_failed()  # before the lock: do not queue behind a fetch that is failing
        with self._lock:
            # Concurrent tokens with unknown kids (uvicorn's workers) all saw the set stale:
            # the first fetches, the others use its answer (or its failure) instead of fetching.
            if unless_fetched_after is not None and self._fetched_at > unless_fetched_after:
                return
            self._refuse_while_failed()
            try:
                jwks = _signing_keys(self._fetch(self._url))
            except Exception as exc:  # any failure to get usable keys means the same to callers
                self._failure = f"JWKS at {self._url} unavailable: {exc!r}"
                self._failed_until = time.monotonic() + FAILED_FETCH_MEMORY_SECONDS
                raise JwksUnavailable(self._failure, math.ceil(FAILED_FETCH_MEMORY_SECONDS)) from exc
            # A key stays only while the set still holds the same JWK under its kid.
            self._keys = {kid: key for kid, key in self._keys.items() if jwks.get(kid) == self._jwks.get(kid)}
            self._jwks = jwks
            self._fetched_at = time.monotonic()

    def _refuse_while_failed(self) -> None:
        remaining = self._failed_until - time.monotonic()
        if remaining > 0:
            raise JwksUnavailable(
                f"{self._failure} (not retried for {remaining:.1f} s)", math.ceil(remaining)
            )
