"""The app's verifier (app/jws.py + app/auth.py) against PyJWT, the design card's library, on one
corpus of valid and forged tokens (issue 23): they decide alike, except where the app is stricter
on purpose, and the app never accepts a token PyJWT refuses.

PyJWT is given what the app gives its own checks: the key of the token's kid from the same key set,
RS256 only, the issuer, the required claims, CLOCK_SKEW_SECONDS of leeway for iat and nbf (PyJWT
also applies it to exp, so exp is checked again without it), then the same token rule
(app.auth._user_from: access token, scope, client). docs/performance.md says why the app does not
call PyJWT itself.
"""

import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.auth import CLOCK_SKEW_SECONDS, REQUIRED_CLAIMS, _user_from
from app.errors import ApiError
from tests.jws_tokens import CLIENT, DROP, ISSUER, KEY, KID, b64, claims, jwk_of, token, verifier

OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS = {KID: jwk_of(KEY)}


def pyjwt_accepts(raw: str) -> bool:
    try:
        kid = jwt.get_unverified_header(raw).get("kid")
        if not isinstance(kid, str) or kid not in KEYS:
            return False
        decoded: dict[str, Any] = jwt.decode(
            raw,
            jwt.PyJWK(KEYS[kid], algorithm="RS256").key,
            algorithms=["RS256"],
            issuer=ISSUER,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "verify_aud": False},
        )
        if time.time() >= int(decoded["exp"]):  # PyJWT reads NumericDates with int()
            return False
        _user_from(decoded, CLIENT)
    except (jwt.PyJWTError, ApiError):
        return False
    return True


def app_accepts(raw: str) -> bool:
    try:
        verifier().verify(raw)
    except ApiError as refused:
        assert refused.status_code == 401
        return False
    return True


def _resigned(raw: str, edit: Callable[[str], str]) -> str:
    """The token's signing input edited, then signed again with the right key."""
    head, body, _ = raw.split(".")
    signing_input = edit(f"{head}.{body}")
    signature = KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def _hs256_with_the_public_key() -> str:
    public = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    head = b64(json.dumps({"alg": "HS256", "kid": KID}).encode())
    body = b64(json.dumps(claims()).encode())
    signature = hmac.new(public, f"{head}.{body}".encode(), "sha256").digest()
    return f"{head}.{body}.{b64(signature)}"


def _flip_last_signature_char(raw: str) -> str:
    last = raw[-1]
    return raw[:-1] + ("A" if last != "A" else "B")


def corpus() -> dict[str, str]:
    now = int(time.time())
    good = token()
    return {
        "valid": good,
        "valid, a large extra header field": token(header={"alg": "RS256", "kid": KID, "x": "y" * 20_000}),
        "valid, nbf in the past": token(claims(nbf=now - 60)),
        "valid, iat 3 s ahead": token(claims(iat=now + 3)),
        "bad signature": _flip_last_signature_char(good),
        "signed by another key": token(key=OTHER_KEY),
        "signed over SHA-512": token(digest=hashes.SHA512()),
        "alg none": b64(b'{"alg":"none","kid":"key-1"}') + "." + good.split(".")[1] + ".",
        "HS256 with the public key as secret": _hs256_with_the_public_key(),
        "alg RS512": token(header={"alg": "RS512", "kid": KID}),
        "unknown kid": token(header={"alg": "RS256", "kid": "key-2"}),
        "kid a number": token(header={"alg": "RS256", "kid": 1}),
        "no kid": token(header={"alg": "RS256"}),
        "expired": token(claims(iat=now - 700, exp=now - 100)),
        "expired 2 s ago (inside PyJWT's leeway)": token(claims(iat=now - 700, exp=now - 2)),
        "iat 60 s ahead": token(claims(iat=now + 60)),
        "nbf 60 s ahead": token(claims(nbf=now + 60)),
        "sub a number": token(claims(sub=12345)),
        "crit header": token(header={"alg": "RS256", "kid": KID, "crit": ["exp"], "exp": now}),
        "no exp": token(claims(exp=DROP)),
        "no iat": token(claims(iat=DROP)),
        "no sub": token(claims(sub=DROP)),
        "another issuer": token(claims(iss="https://cognito-idp.us-east-1.amazonaws.com/other")),
        "ID token": token(claims(token_use="id")),
        "no scope": token(claims(scope=DROP)),
        "another client": token(claims(client_id="other")),
        "altered payload": _altered_payload(good),
        "two segments": ".".join(good.split(".")[:2]),
        "four segments": good + ".AAAA",
        "not base64": "!!!." + good.split(".", 1)[1],
        "payload a JSON array": token(b"[1,2]"),
        "payload not JSON": token(b"not json"),
        "header a JSON array": _resigned(good, lambda s: b64(b"[]") + "." + s.split(".")[1]),
    }


def _altered_payload(raw: str) -> str:
    head, _, signature = raw.split(".")
    return f"{head}.{b64(json.dumps(claims(sub='someone-else')).encode())}.{signature}"


# Where the app refuses what PyJWT 2.15 accepts, on purpose (docs/performance.md, the lever's row).
STRICTER = {
    "signature padded with '='": "one encoding per token: base64url without padding (RFC 7515 2)",
    "exp beyond a float": "a NumericDate is a float; 10**400 would never expire",
    "iat a string of digits": "a NumericDate is a JSON number (RFC 7519 2); PyJWT reads it with int()",
    "exp a string of digits": "the same, for exp",
}


def stricter_corpus() -> dict[str, str]:
    now = int(time.time())
    good = token()
    return {
        "signature padded with '='": good + "=" * (-len(good.split(".")[2]) % 4 or 4),
        "exp beyond a float": token(claims(exp=10**400)),
        "iat a string of digits": token(claims(iat=str(now))),
        "exp a string of digits": token(claims(exp=str(now + 600))),
    }


@pytest.mark.parametrize("case", list(corpus()))
def test_the_app_and_pyjwt_decide_alike(case: str) -> None:
    raw = corpus()[case]
    assert app_accepts(raw) == pyjwt_accepts(raw), case


def test_the_corpus_has_valid_and_forged_tokens() -> None:
    decisions = [app_accepts(raw) for raw in corpus().values()]
    assert decisions.count(True) == 4 and decisions.count(False) == len(decisions) - 4


@pytest.mark.parametrize("case", list(STRICTER))
def test_where_the_app_is_stricter_it_refuses_what_pyjwt_accepts(case: str) -> None:
    raw = stricter_corpus()[case]
    assert (app_accepts(raw), pyjwt_accepts(raw)) == (False, True), STRICTER[case]


def test_an_infinite_exp_is_refused_by_both() -> None:
    raw = token(json.dumps(claims(exp=float("inf"))).encode())  # json.dumps writes Infinity
    assert (app_accepts(raw), pyjwt_accepts(raw)) == (False, False)
