"""A failing JWKS fetch is remembered briefly (issue 22, finding 7).

Before: every request with a token retried the fetch, one after another under the cache's lock,
so 40 requests against a fetch failing in 0.2 s took 8.1 s, and each sent a fetch to Cognito.
Counted here in fetches (not in seconds): one fetch per FAILED_FETCH_MEMORY_SECONDS, however many
requests, and every request in the window answers 503 with a Retry-After at once.
"""

import base64
import json
import threading
import time

import pytest

from app.auth import TokenVerifier
from app.errors import ApiError
from app.jwks import FAILED_FETCH_MEMORY_SECONDS, JwksCache, JwksUnavailable

REQUESTS = 40


def _segment(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


# Well-formed, so that verifying it needs the key set: the signature is never reached.
TOKEN = f"{_segment({'alg': 'RS256', 'kid': 'k1'})}.{_segment({'sub': 'x'})}.{_segment({'s': 1})}"


class FailingFetch:
    def __init__(self, seconds: float = 0.02) -> None:
        self.calls = 0
        self._seconds = seconds
        self._lock = threading.Lock()

    def __call__(self, _url: str) -> dict:
        with self._lock:
            self.calls += 1
        time.sleep(self._seconds)  # a fetch that fails slowly, as an unreachable endpoint does
        raise OSError("connection refused")


def _verify_all(verifier: TokenVerifier, count: int) -> list[ApiError]:
    errors: list[ApiError] = []

    def one() -> None:
        try:
            verifier.verify(TOKEN)
        except ApiError as error:
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_concurrent_requests_share_one_failed_jwks_fetch() -> None:
    fetch = FailingFetch()
    verifier = TokenVerifier("https://issuer", "client", JwksCache("https://jwks", fetch))
    errors = _verify_all(verifier, REQUESTS)
    assert len(errors) == REQUESTS
    assert {error.status_code for error in errors} == {503}
    assert fetch.calls == 1, f"{fetch.calls} fetches for {REQUESTS} requests: they queued behind each other"
    assert all(1 <= int(error.headers["Retry-After"]) <= FAILED_FETCH_MEMORY_SECONDS for error in errors)


def test_a_failed_fetch_is_retried_once_per_window(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("app.jwks.time.monotonic", lambda: clock[0])
    fetch = FailingFetch(seconds=0)
    cache = JwksCache("https://jwks", fetch)
    for _ in range(5):
        with pytest.raises(JwksUnavailable):
            cache.key_for("k1")
    assert fetch.calls == 1
    clock[0] += FAILED_FETCH_MEMORY_SECONDS - 0.5
    with pytest.raises(JwksUnavailable) as refused:
        cache.refresh()  # the health probe's path is bound by the same window
    assert refused.value.retry_after == 1
    assert fetch.calls == 1
    clock[0] += 0.5
    with pytest.raises(JwksUnavailable):
        cache.key_for("k1")
    assert fetch.calls == 2, "once the window has passed, the next request fetches again"


def test_a_fetch_that_succeeds_after_a_failure_serves_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("app.jwks.time.monotonic", lambda: clock[0])
    answers: list[object] = [OSError("down"), {"keys": []}]

    def fetch(url: str) -> dict:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, dict)
        return answer

    cache = JwksCache("https://jwks", fetch)
    with pytest.raises(JwksUnavailable):
        cache.key_for("k1")
    clock[0] += FAILED_FETCH_MEMORY_SECONDS
    assert cache.key_for("k1") is None  # fetched: the set answered, without this kid
    assert answers == []
