"""Cognito token verification: RS256 against the user pool's JWKS, cached per container."""

import json
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import jwt
import rsa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.concurrency import run_blocking
from app.errors import ApiError, ErrorCode, unavailable
from app.observability import logger
from app.rs256 import public_key_from_jwk, rs256_only

JWKS_TIMEOUT_SECONDS = 3.0
MIN_REFETCH_SECONDS = 60.0
REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "token_use"]

JsonFetcher = Callable[[str], dict[str, Any]]


# The key set decides whose tokens are accepted, so HTTPS to it trusts only the roots Cognito's
# certificates chain to, not the ~140 of the system store; loading 5 roots also takes ~1 ms
# where the system store takes ~20 ms at every cold start (README, Performance).
TRUSTED_ROOTS = Path(__file__).with_name("amazon_trust_roots.pem")


@cache
def _opener() -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=TRUSTED_ROOTS)
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))


def fetch_json(url: str) -> dict[str, Any]:
    with _opener().open(url, timeout=JWKS_TIMEOUT_SECONDS) as response:
        return json.load(response)


@dataclass(frozen=True)
class CurrentUser:
    user_id: str
    username: str | None
    token_use: str


class JwksUnavailable(Exception):
    """The key set could not be fetched: the caller's token is not at fault."""


class JwksCache:
    """Signing keys by kid. Fetched once; refetched for an unknown kid at most once a minute."""

    def __init__(self, url: str, fetch: JsonFetcher = fetch_json) -> None:
        self._url = url
        self._fetch = fetch
        self._keys: dict[str, rsa.PublicKey] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> rsa.PublicKey | None:
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._fetched_at >= MIN_REFETCH_SECONDS:
            self.refresh()
            key = self._keys.get(kid)
        return key

    def refresh(self) -> None:
        with self._lock:
            try:
                document = self._fetch(self._url)
                keys = {
                    entry["kid"]: public_key_from_jwk(entry)
                    for entry in document.get("keys", [])
                    if entry.get("kty") == "RSA" and entry.get("alg", "RS256") == "RS256"
                }
            except Exception as exc:  # any failure to get usable keys means the same to callers
                raise JwksUnavailable(f"JWKS at {self._url} unavailable: {exc!r}") from exc
            self._keys = keys
            self._fetched_at = time.monotonic()


def _refused(reason: str) -> ApiError:
    return ApiError(ErrorCode.AUTHENTICATION_FAILED, "Invalid or expired token", {"reason": reason})


class TokenVerifier:
    def __init__(self, issuer: str, client_id: str, jwks: JwksCache) -> None:
        self._issuer = issuer
        self._client_id = client_id
        self.jwks = jwks
        self._jws = rs256_only()

    def verify(self, token: str) -> CurrentUser:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refused("malformed token") from None
        if header.get("alg") != "RS256":
            raise _refused("unsupported algorithm")
        try:
            key = self.jwks.key_for(str(header.get("kid")))
        except JwksUnavailable:
            logger.exception("Cannot verify tokens: JWKS unavailable")
            raise unavailable("Token verification is temporarily unavailable") from None
        if key is None:
            raise _refused("unknown signing key")
        try:
            self._jws.decode_complete(token, key, algorithms=["RS256"])
            # Signature checked above; PyJWT now validates the claims (exp, iat, iss, required).
            claims = jwt.decode(
                token,
                issuer=self._issuer,
                options={
                    "verify_signature": False,
                    "verify_exp": True,
                    "verify_iat": True,
                    "verify_iss": True,
                    "verify_aud": False,
                    "require": REQUIRED_CLAIMS,
                },
            )
        except jwt.ExpiredSignatureError:
            raise _refused("token expired") from None
        except jwt.PyJWTError as exc:
            raise _refused(type(exc).__name__) from None
        self._check_audience(claims)
        return CurrentUser(
            user_id=str(claims["sub"]),
            username=claims.get("username") or claims.get("cognito:username"),
            token_use=claims["token_use"],
        )

    def _check_audience(self, claims: dict[str, Any]) -> None:
        token_use = claims["token_use"]
        if token_use == "access":
            audience = claims.get("client_id")
        elif token_use == "id":
            audience = claims.get("aud")
        else:
            raise _refused("unexpected token_use")
        if audience != self._client_id:
            raise _refused("token issued for another client")
        if not str(claims["sub"]).strip():
            raise _refused("empty subject")


_bearer = HTTPBearer(auto_error=False, description="Cognito access or ID token")


async def get_current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> CurrentUser:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(ErrorCode.AUTHENTICATION_FAILED, "A Bearer token is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    return await run_blocking(request, verifier.verify, credentials.credentials)  # may fetch the JWKS


AuthenticatedUser = Annotated[CurrentUser, Depends(get_current_user)]
