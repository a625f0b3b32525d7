"""A token revoked by a sign-out (issue 22, finding 6).

After GlobalSignOut, Cognito refuses the token (GetUser: NotAuthorizedException), but its
signature and exp are unchanged, so the API Gateway authorizer and the app's TokenVerifier (and
its verified-token cache) accept it until it expires: AccessTokenMinutes, 30 in prod. The two
routes that cannot be undone or hand out everything ask Cognito first. moto's GetUser forgets a
signed-out user's access tokens (its UserPool.sign_out), as Cognito does.
"""

import boto3
import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from devtools.local_aws import LocalStack
from tests.support import EchoFactory, User, new_user

LIST = "/api/v1/echoes"


def _sign_out(user: User) -> None:
    boto3.client("cognito-idp", region_name="us-east-1").global_sign_out(AccessToken=user.access_token)


def _assert_revoked(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "authentication_failed"
    assert response.json()["details"] == {"reason": "token revoked: sign in again"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_signed_out_token_cannot_erase_the_account(
    client: TestClient, stack: LocalStack, make_echo: EchoFactory
) -> None:
    user = new_user(stack, "revoked")
    echo = make_echo(user)
    assert client.get(LIST, headers=user.headers).status_code == 200  # verified and cached
    _sign_out(user)
    _assert_revoked(client.delete("/api/v1/me", headers=user.headers))
    # Nothing was erased: the echo is still there for the cached (revoked) token, which the
    # data routes accept until it expires, as the authorizer does.
    assert client.get(f"{LIST}/{echo['echo_id']}", headers=user.headers).status_code == 200


def test_a_signed_out_token_cannot_export(client: TestClient, stack: LocalStack) -> None:
    user = new_user(stack, "revoked-export")
    assert client.get("/api/v1/me/export", headers=user.headers).status_code == 200
    _sign_out(user)
    _assert_revoked(client.get("/api/v1/me/export", headers=user.headers))


def test_a_live_token_erases_and_exports(client: TestClient, alice: User) -> None:
    assert client.get("/api/v1/me/export", headers=alice.headers).status_code == 200
    assert client.delete("/api/v1/me", headers=alice.headers).status_code == 204


def test_cognito_throttling_the_check_answers_503(
    client: TestClient, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(**_: object) -> None:
        raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "GetUser")

    sessions = client.app.state.cognito_sessions  # type: ignore[attr-defined]
    monkeypatch.setattr(sessions._client, "get_user", throttled)
    response = client.delete("/api/v1/me", headers=alice.headers)
    assert response.status_code == 503, response.text
    assert "Retry-After" in response.headers
    assert client.get("/api/v1/me/export", headers=alice.headers).status_code == 503
