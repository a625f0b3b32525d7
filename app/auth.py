"""Cognito token verification: RS256 against the user pool's JWKS, cached per container.

The token rule (which Cognito tokens the API accepts) is declared here once, and template.yaml's
authorizer must say the same (tests/infra/test_template.py ties them): access tokens carrying
ACCEPTED_SCOPE. With AuthorizationScopes set, API Gateway's Cognito authorizer accepts only access
tokens with a listed scope and refuses ID tokens, so the app refuses ID tokens too.

Signatures are checked with `cryptography` (app/jws.py), imported on the first token verified rather
than at init: /health and cold starts that never see a token need not load it. The claims are
checked here, as PyJWT checked them before (docs/performance.md says why it was replaced).
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

from botocore.exceptions import ClientError
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.concurrency import run_blocking
from app.errors import ApiError, ErrorCode, unavailable
from app.jwks import JwksCache, JwksUnavailable
from app.observability import logger

# The token rule, read by template.yaml's test and by devtools' gateway emulation's test.
ACCEPTED_TOKEN_USE = "access"
ACCEPTED_SCOPE = "aws.cognito.signin.user.admin"  # every InitiateAuth/SRP access token carries it
# Clocks drift: a token minted by Cognito a moment "in the future" of this container's clock is
# still good. The leeway covers iat and nbf only; a token is never accepted after its exp.
CLOCK_SKEW_SECONDS = 5
MAX_CACHED_TOKENS = 512

REQUIRED_CLAIMS = ("exp", "iat", "iss", "sub", "token_use")
# GetUser's answers that mean "this token no longer opens a session": signed out (GlobalSignOut,
# AdminUserGlobalSignOut, RevokeToken), user disabled or deleted, password reset forced.
REVOKED_CODES = frozenset(
    {
        "NotAuthorizedException",
        "UserNotFoundException",
        "PasswordResetRequiredException",
        "UserNotConfirmedException",
    }
)


@dataclass(frozen=True)
class CurrentUser:
    user_id: str
    username: str | None
    token_use: str


def _refused(reason: str) -> ApiError:
    return ApiError(ErrorCode.AUTHENTICATION_FAILED, "Invalid or expired token", {"reason": reason})


class VerifiedTokens:
    """Tokens this container has verified, by the whole token, each until its exp: a user's
    repeated calls skip the RSA check. Bounded; expired entries go first when full."""

    def __init__(self, capacity: int = MAX_CACHED_TOKENS) -> None:
        self._capacity = capacity
        self._entries: dict[str, tuple[CurrentUser, float]] = {}
        self._lock = threading.Lock()  # uvicorn verifies in threadpool workers

    def get(self, token: str) -> CurrentUser | None:
        # Reads only: every change is a put's, under the lock, so a read racing an eviction's
        # walk over the entries cannot change them under it. An expired entry goes when full.
        entry = self._entries.get(token)
        if entry is None:
            return None
        user, exp = entry
        return user if time.time() < exp else None

    def put(self, token: str, user: CurrentUser, exp: float) -> None:
        with self._lock:
            self._evict_if_full()
            self._entries[token] = (user, exp)

    def _evict_if_full(self) -> None:
        if len(self._entries) >= self._capacity:
            now = time.time()
            for stale in [t for t, (_, e) in self._entries.items() if e <= now]:
                del self._entries[stale]
            while len(self._entries) >= self._capacity:
                del self._entries[next(iter(self._entries))]  # the oldest insertion


class TokenVerifier:
    def __init__(self, issuer: str, client_id: str, jwks: JwksCache) -> None:
        self._issuer = issuer
        self._client_id = client_id
        self.jwks = jwks
        self._verified = VerifiedTokens()

    def verify(self, token: str) -> CurrentUser:
        user = self._verified.get(token)
        if user is None:
            claims = self._verified_claims(token)
            user = _user_from(claims, self._client_id)
            self._verified.put(token, user, float(claims["exp"]))
        return user

    def _verified_claims(self, token: str) -> dict[str, Any]:
        """The claims of a token signed by the pool (RS256, a key of its JWKS by kid) for this
        issuer, current: required claims present, iat and nbf not ahead by more than
        CLOCK_SKEW_SECONDS, exp not reached (no leeway)."""
        from app import jws  # loads cryptography: the first token pays for it, not every cold start

        try:
            signed = jws.parse(token)
        except jws.MalformedToken:
            raise _refused("malformed token") from None
        header = signed.header
        if header.get("alg") != "RS256":
            raise _refused("unsupported algorithm")
        if "crit" in header or "b64" in header:  # extensions (RFC 7515 4.1.11, RFC 7797) Cognito never uses
            raise _refused("unsupported header")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise _refused("malformed token")
        try:
            key = self.jwks.key_for(kid)
        except JwksUnavailable as failure:
            logger.warning("Cannot verify tokens: JWKS unavailable", extra={"reason": str(failure)})
            raise unavailable("Token verification is temporarily unavailable", failure.retry_after) from None
        if key is None:
            raise _refused("unknown signing key")
        # The reasons below keep the names clients saw while PyJWT verified tokens.
        if not signed.verify(key):
            raise _refused("InvalidSignatureError")
        try:
            claims = signed.claims()
        except jws.MalformedToken:
            raise _refused("DecodeError") from None
        _check_claims(claims, self._issuer, time.time())
        return claims


class CognitoSessions:
    """Whether Cognito still honours an access token: GetUser, authorized by the token itself (no
    IAM). A token's signature and exp, all that the API Gateway authorizer and TokenVerifier can
    check, say nothing of a sign-out: until its exp a revoked token passes both. The routes that
    cannot be undone (erasure) or hand out everything (export) ask Cognito first."""

    def __init__(self, create_client: Callable[[], Any]) -> None:
        self._create_client = create_client

    @cached_property
    def _client(self) -> Any:  # created on the first such request: most containers never need it
        return self._create_client()

    def check(self, token: str) -> None:
        try:
            self._client.get_user(AccessToken=token)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in REVOKED_CODES:
                raise _refused("token revoked: sign in again") from None
            raise  # throttled or failing: 503 (app/errors.py); anything else is ours to fix


def _numeric_date(value: object) -> float | None:
    """A NumericDate (RFC 7519 section 2) as a float, or None for anything else. Python's json
    reads NaN, Infinity and integers of any size: NaN compares false with everything (an exp that
    never passes, an iat never ahead), and an int beyond a float overflowed later (a 500)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _check_claims(claims: dict[str, Any], issuer: str, now: float) -> None:
    for name in REQUIRED_CLAIMS:
        if claims.get(name) is None:
            raise _refused("MissingRequiredClaimError")
    _check_not_before(claims, now)
    _check_identity(claims, issuer)
    exp = _numeric_date(claims["exp"])
    if exp is None:
        raise _refused("malformed exp")
    if now >= exp:  # no leeway: a token is never accepted after its exp
        raise _refused("token expired")


def _check_not_before(claims: dict[str, Any], now: float) -> None:
    """iat, and nbf when present: finite numbers not ahead by more than CLOCK_SKEW_SECONDS."""
    iat = _numeric_date(claims["iat"])
    if iat is None:
        raise _refused("InvalidIssuedAtError")
    if iat > now + CLOCK_SKEW_SECONDS:
        raise _refused("ImmatureSignatureError")
    if "nbf" in claims:
        nbf = _numeric_date(claims["nbf"])
        if nbf is None:
            raise _refused("DecodeError")
        if nbf > now + CLOCK_SKEW_SECONDS:
            raise _refused("ImmatureSignatureError")


def _check_identity(claims: dict[str, Any], issuer: str) -> None:
    if claims["iss"] != issuer:
        raise _refused("InvalidIssuerError")
    if not isinstance(claims["sub"], str):
        raise _refused("InvalidSubjectError")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise _refused("InvalidJTIError")


def _user_from(claims: dict[str, Any], client_id: str) -> CurrentUser:
    """The token rule: an access token of this app client carrying ACCEPTED_SCOPE."""
    token_use = claims["token_use"]
    if token_use == "id":
        raise _refused(f"ID tokens are not accepted: send the access token ({ACCEPTED_SCOPE})")
    if token_use != ACCEPTED_TOKEN_USE:
        raise _refused("unexpected token_use")
    scopes = claims.get("scope")
    # Space-delimited (RFC 6749 section 3.3): str.split() would also split at tabs, newlines and
    # Unicode spaces, which no scope name Cognito allows contains.
    if not isinstance(scopes, str) or ACCEPTED_SCOPE not in scopes.split(" "):
        raise _refused(f"access token without the {ACCEPTED_SCOPE} scope")
    # API Gateway's authorizer does not check the client; the app also insists on its own.
    if claims.get("client_id") != client_id:
        raise _refused("token issued for another client")
    if not str(claims["sub"]).strip():
        raise _refused("empty subject")
    return CurrentUser(
        user_id=str(claims["sub"]),
        username=_username(claims),
        token_use=token_use,
    )


def _username(claims: dict[str, Any]) -> str | None:
    """The Cognito username (access tokens say `username`, ID tokens `cognito:username`): only a
    string, since account erasure passes it on to AdminDeleteUser."""
    for name in ("username", "cognito:username"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return None


_bearer = HTTPBearer(
    auto_error=False, description=f"Cognito access token (scope {ACCEPTED_SCOPE}); ID tokens are refused"
)


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_current_user(request: Request, credentials: BearerCredentials) -> CurrentUser:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(ErrorCode.AUTHENTICATION_FAILED, "A Bearer token is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    return await run_blocking(request, verifier.verify, credentials.credentials)  # may fetch the JWKS


AuthenticatedUser = Annotated[CurrentUser, Depends(get_current_user)]


async def get_signed_in_user(
    request: Request, credentials: BearerCredentials, user: AuthenticatedUser
) -> CurrentUser:
    """The caller, whose token Cognito has also confirmed not revoked (one GetUser)."""
    assert credentials is not None  # get_current_user refused the request otherwise
    sessions: CognitoSessions = request.app.state.cognito_sessions
    await run_blocking(request, sessions.check, credentials.credentials)
    return user


SignedInUser = Annotated[CurrentUser, Depends(get_signed_in_user)]
