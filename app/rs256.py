"""RS256 (RSASSA-PKCS1-v1_5 with SHA-256) for PyJWT, backed by python-rsa instead of cryptography.

Verifying a token needs only the public key, so a maintained pure-Python RSA library serves:
the artifact loses cryptography's 15 MB and its import time (README, Performance). No crypto is
written here: python-rsa checks the padding and the DigestInfo; this module only insists that the
digest is SHA-256 and converts JWKS entries into public keys.
"""

import base64
from typing import Any, NoReturn

import rsa
from jwt import PyJWS
from jwt.algorithms import Algorithm
from jwt.exceptions import InvalidKeyError


def _b64_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def public_key_from_jwk(jwk: dict[str, Any]) -> rsa.PublicKey:
    if jwk.get("kty") != "RSA" or "n" not in jwk or "e" not in jwk:
        raise InvalidKeyError("not an RSA public key")
    return rsa.PublicKey(_b64_int(jwk["n"]), _b64_int(jwk["e"]))


class RS256(Algorithm):
    def prepare_key(self, key: Any) -> rsa.PublicKey:
        if not isinstance(key, rsa.PublicKey):
            raise InvalidKeyError("RS256 verification needs an rsa.PublicKey")
        return key

    def verify(self, msg: bytes, key: rsa.PublicKey, sig: bytes) -> bool:
        try:
            return rsa.verify(msg, sig, key) == "SHA-256"
        except rsa.VerificationError:
            return False

    def sign(self, msg: bytes, key: Any) -> NoReturn:
        raise NotImplementedError("Echoes only verifies tokens")

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> NoReturn:
        raise NotImplementedError("Echoes only verifies tokens")

    @staticmethod
    def from_jwk(jwk: Any) -> rsa.PublicKey:
        return public_key_from_jwk(jwk)


def rs256_only() -> PyJWS:
    """A JWS verifier that knows RS256 and nothing else (no 'none', no HMAC)."""
    jws = PyJWS(algorithms=[])
    jws.register_algorithm("RS256", RS256())
    return jws
