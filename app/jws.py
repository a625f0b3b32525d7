"""RS256 signatures of JWTs in compact form (RFC 7515, 7518), verified with `cryptography`.

Only what Cognito's tokens use, decoded strictly: three base64url segments without padding and in
their one canonical encoding, a JSON object for header and payload, RSASSA-PKCS1-v1_5 with SHA-256
by a key of at least 2048 bits. The claims are app/auth.py's to check, after the signature.

Imported on the first token (app/auth.py), not at init: it loads cryptography's RSA bindings. It
replaces PyJWT, whose package import also loads cryptography's X.509, SSH and elliptic-curve
modules and its own JWKS client; docs/performance.md has the figures.
"""

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MIN_KEY_BITS = 2048
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")


class MalformedToken(ValueError):
    """Not a compact JWS: wrong number of segments, bad base64url, or JSON that is not an object."""


class UnusableKey(ValueError):
    """A JWK that is not an RSA public key of at least MIN_KEY_BITS."""


def b64url_decode(segment: bytes) -> bytes:
    """base64url without padding (RFC 7515 section 2), strictly: one encoding per value, so a
    token cannot be altered by flipping the unused low bits of its last character."""
    if len(segment) % 4 == 1 or _BASE64URL.fullmatch(segment) is None:
        raise MalformedToken("not base64url")
    decoded = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != segment:
        raise MalformedToken("not the canonical base64url encoding")
    return decoded


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise MalformedToken("not JSON") from None
    if not isinstance(value, dict):
        raise MalformedToken("not a JSON object")
    return value


@dataclass(frozen=True)
class SignedToken:
    """A token parsed but not yet trusted: read `header` to choose the key, then `verify`."""

    header: dict[str, Any]
    signing_input: bytes
    payload: bytes
    signature: bytes

    def verify(self, key: rsa.RSAPublicKey) -> bool:
        """Whether the signature is RS256 over the header and payload by `key`."""
        try:
            key.verify(self.signature, self.signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    def claims(self) -> dict[str, Any]:
        """The payload's claims: call only after `verify`."""
        return _json_object(self.payload)


def parse(token: str) -> SignedToken:
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedToken("not ASCII") from None
    segments = raw.split(b".")
    if len(segments) != 3:
        raise MalformedToken("not three segments")
    header, payload, signature = segments
    return SignedToken(
        header=_json_object(b64url_decode(header)),
        signing_input=header + b"." + payload,
        payload=b64url_decode(payload),
        signature=b64url_decode(signature),
    )


def public_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    """The RSA public key of a JWK (RFC 7518 section 6.3.1: `n` and `e`, base64url, big-endian)."""
    try:
        n, e = (int.from_bytes(b64url_decode(str(jwk[name]).encode("ascii")), "big") for name in ("n", "e"))
        key = rsa.RSAPublicNumbers(e, n).public_key()
    except (KeyError, ValueError) as exc:  # MalformedToken and UnicodeEncodeError among them
        raise UnusableKey(f"not an RSA public key: {exc!r}") from None
    if key.key_size < MIN_KEY_BITS:
        raise UnusableKey(f"a {key.key_size}-bit key")
    return key
