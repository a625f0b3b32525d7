"""The local gateway and the app apply one clock rule to tokens (issue 22, finding 12).

The --lambda gateway refused a token whose iat was 5 s ahead, which the app accepts
(CLOCK_SKEW_SECONDS): locally, where the token's clock and the gateway's can differ, a request
the app would serve got the gateway's 401. Both now accept iat and nbf up to CLOCK_SKEW_SECONDS
ahead and nothing after exp. The same tokens go through both.
"""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.auth import CLOCK_SKEW_SECONDS, TokenVerifier
from app.errors import ApiError
from app.jwks import JwksCache
from devtools.gateway import CognitoTokens
from tests.support import access_claims, moto_jwks, pool_signed_token

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool"
CLIENT = "client"


@pytest.fixture(scope="module")
def gateway(jwks_url: str) -> CognitoTokens:
    return CognitoTokens(ISSUER, jwks_url)  # keeps the fetched keys, as the local gateway does


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    body = json.dumps(moto_jwks("")).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


def _app_accepts(token: str) -> bool:
    verifier = TokenVerifier(ISSUER, CLIENT, JwksCache("https://jwks", moto_jwks))
    try:
        verifier.verify(token)
    except ApiError:
        return False
    return True


# Claims as offsets from the moment the token is made, in seconds.
CASES: dict[str, tuple[dict[str, int], bool]] = {
    "current": ({}, True),
    "iat 3 s ahead": ({"iat": 3}, True),
    "iat at the leeway": ({"iat": CLOCK_SKEW_SECONDS - 1}, True),
    "iat 30 s ahead": ({"iat": 30}, False),
    "nbf 3 s ahead": ({"nbf": 3}, True),
    "nbf 30 s ahead": ({"nbf": 30}, False),
    "expired 2 s ago": ({"iat": -600, "exp": -2}, False),
}


@pytest.mark.parametrize("case", CASES)
def test_the_gateway_and_the_app_decide_alike_on_time(gateway: CognitoTokens, case: str) -> None:
    offsets, accepted = CASES[case]
    now = int(time.time())
    token = pool_signed_token(access_claims(ISSUER, CLIENT, **{name: now + o for name, o in offsets.items()}))
    gateway_accepts = gateway.claims(f"Bearer {token}") is not None
    assert (gateway_accepts, _app_accepts(token)) == (accepted, accepted)


def test_the_gateway_and_the_app_refuse_another_issuer(gateway: CognitoTokens) -> None:
    other = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"
    token = pool_signed_token(access_claims(other, CLIENT))
    assert gateway.claims(f"Bearer {token}") is None
    assert not _app_accepts(token)
