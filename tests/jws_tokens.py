"""Tokens made byte by byte with a key of the tests' own (tests/unit/test_jws.py,
tests/unit/test_jws_differential.py), so that each test can break exactly one thing."""

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.auth import TokenVerifier
from app.jwks import JwksCache

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool"
CLIENT = "app-client"
KID = "key-1"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_of(key: rsa.RSAPrivateKey, kid: str = KID) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()

    def uint(value: int) -> str:
        return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": uint(numbers.n),
        "e": uint(numbers.e),
    }


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "user-1",
        "iss": ISSUER,
        "client_id": CLIENT,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "iat": now,
        "exp": now + 600,
        "jti": "jti-1",
        "username": "alice",
    }
    return {key: value for key, value in (base | overrides).items() if value is not DROP}


DROP = object()


def token(
    payload: dict[str, Any] | bytes | None = None,
    header: dict[str, Any] | None = None,
    key: rsa.RSAPrivateKey = KEY,
    digest: hashes.HashAlgorithm | None = None,
) -> str:
    head = b64(json.dumps({"alg": "RS256", "kid": KID} if header is None else header).encode())
    raw = (
        payload
        if isinstance(payload, bytes)
        else json.dumps(claims() if payload is None else payload).encode()
    )
    signing_input = f"{head}.{b64(raw)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), digest or hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def verifier(fetch: Callable[[str], dict[str, Any]] | None = None) -> TokenVerifier:
    return TokenVerifier(
        ISSUER, CLIENT, JwksCache("https://jwks", fetch or (lambda _: {"keys": [jwk_of(KEY)]}))
    )
