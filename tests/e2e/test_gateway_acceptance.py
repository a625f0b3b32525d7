"""Issue 11's acceptance over real HTTP: the token `./scripts/local.sh token` prints reaches the app;
the other token type, a missing and an expired token get a 401 a browser on an allowed origin can
read; unknown routes a 404; a body over 10 MB the gateway's 413. In --lambda mode the gateway
(devtools/gateway.py, from template.yaml) answers those itself; under uvicorn the app does, and
must give the same answers to the same tokens."""

import time

import boto3
import httpx
import jwt
import pytest

from devtools.local_stack import DEFAULT_PASSWORD
from tests.e2e.stack import RunningStack
from tests.support import pool_signed_token

pytestmark = pytest.mark.e2e
LIST = "/api/v1/echoes"


@pytest.fixture(scope="module")
def api(local_stack: RunningStack) -> httpx.Client:
    with httpx.Client(base_url=local_stack.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(local_stack: RunningStack) -> dict[str, str]:
    email = f"gateway-{local_stack.mode}@example.com"
    access = local_stack.token(email)  # the README's token: signs the user up
    state = local_stack.state()
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=state["endpoint"],
        region_name=state["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    result = cognito.initiate_auth(
        ClientId=state["app_client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": DEFAULT_PASSWORD},
    )["AuthenticationResult"]
    claims = jwt.decode(access, options={"verify_signature": False})
    now = int(time.time())
    expired = pool_signed_token({**claims, "iat": now - 7200, "exp": now - 3600})  # the pool's own key
    return {"access": access, "id": result["IdToken"], "expired": expired}


def _assert_readable_401(response: httpx.Response, stack: RunningStack) -> None:
    origin = stack.origin
    assert response.status_code == 401, response.text
    body = response.json()
    if stack.mode == "lambda":  # refused by the gateway (the template's UNAUTHORIZED), not the app
        assert body["message"] == "Unauthorized" and body["timestamp"].endswith("+0000"), body
    assert body["error"] == "authentication_failed"
    assert set(body) == {"error", "message", "details", "timestamp", "request_id"}
    assert response.headers["access-control-allow-origin"] == origin, "a browser could not read it"


def test_the_readme_token_reaches_the_app(local_stack: RunningStack, api: httpx.Client, tokens) -> None:
    response = api.get(LIST, headers={"Authorization": f"Bearer {tokens['access']}"})
    assert response.status_code == 200, response.text
    assert response.json()["echoes"] == []


@pytest.mark.parametrize("kind", ["id", "expired", "missing"])
def test_other_tokens_get_a_401_the_browser_can_read(
    local_stack: RunningStack, api: httpx.Client, tokens, kind: str
) -> None:
    headers = {"Origin": local_stack.origin}
    if kind != "missing":
        headers["Authorization"] = f"Bearer {tokens[kind]}"
    _assert_readable_401(api.get(LIST, headers=headers), local_stack)


def test_unknown_routes_get_the_404_error(local_stack: RunningStack, api: httpx.Client) -> None:
    response = api.get("/no/such/route", headers={"Origin": local_stack.origin})
    assert response.status_code == 404
    assert response.json()["error"] == "resource_not_found"
    assert response.headers["access-control-allow-origin"] == local_stack.origin


def test_a_body_over_10_mb_gets_the_gateways_413(
    local_stack: RunningStack, api: httpx.Client, tokens
) -> None:
    if local_stack.mode != "lambda":
        pytest.skip("the 10 MB limit is API Gateway's; uvicorn has none (the app bounds what it reads)")
    response = api.post(
        "/api/v1/echoes/init-upload",
        content=b"x" * (10 * 1024 * 1024 + 1),
        headers={"Authorization": f"Bearer {tokens['access']}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "file_too_large"
