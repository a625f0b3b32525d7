"""Cognito users for local runs, tests and benchmarks: sign up, confirm, log in."""

from typing import Any


class WrongPassword(Exception):
    pass


def access_token(cognito: Any, pool_id: str, client_id: str, email: str, password: str) -> dict[str, str]:
    """Log EMAIL in with USER_PASSWORD_AUTH, signing them up and confirming them first if new.
    Returns Cognito's AuthenticationResult (AccessToken, IdToken, ...)."""
    try:
        cognito.sign_up(
            ClientId=client_id,
            Username=email,
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        cognito.admin_confirm_sign_up(UserPoolId=pool_id, Username=email)
    except cognito.exceptions.UsernameExistsException:
        pass
    try:
        result: dict[str, str] = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )["AuthenticationResult"]
    except cognito.exceptions.NotAuthorizedException:
        raise WrongPassword(email) from None
    return result
