"""Opaque, tamper-proof pagination cursors: an HMAC-signed payload bound to one user's query."""

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

SIGNATURE_BYTES = 16


class InvalidCursor(Exception):
    pass


@dataclass(frozen=True)
class CursorState:
    page: int
    created_at: str
    echo_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyUnavailable(Exception):
    """The signing key could not be loaded (Secrets Manager unreachable, throttled or too slow)."""


class CursorCodec:
    """The key is loaded on first use (from Secrets Manager in production) and then kept."""

    def __init__(self, load_key: Callable[[], bytes]) -> None:
        self._load_key = load_key
        self._key: bytes | None = None

    def _signature(self, scope: str, payload: bytes) -> bytes:
        if self._key is None:
            self._key = self._load_key()
        message = scope.encode() + b"\x00" + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def encode(self, scope: str, state: CursorState) -> str:
        """`scope` names the user and query the cursor is valid for; it is signed, not sent."""
        payload = json.dumps([state.page, state.created_at, state.echo_id], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._signature(scope, payload))}"

    def decode(self, scope: str, cursor: str) -> CursorState:
        try:
            payload_text, signature_text = cursor.split(".")
            payload, signature = _unb64(payload_text), _unb64(signature_text)
        except (ValueError, binascii.Error):
            raise InvalidCursor("malformed") from None
        if not hmac.compare_digest(signature, self._signature(scope, payload)):
            raise InvalidCursor("bad signature")
        # Signed by us, but checked all the same: a cursor signed with the real key and a payload
        # it was never given (a key rotated in, a format change, a bug) must be a 400, not a 500.
        try:
            page, created_at, echo_id = json.loads(payload)
        except (ValueError, TypeError):
            raise InvalidCursor("malformed") from None
        if not _is_position(page, created_at, echo_id):
            raise InvalidCursor("malformed")
        return CursorState(page, created_at, echo_id)


def _is_position(page: object, created_at: object, echo_id: object) -> bool:
    """What encode() writes: the page after a first one (>= 2), and two non-empty strings."""
    return (
        type(page) is int  # not bool, float or str
        and page >= 2
        and isinstance(created_at, str)
        and isinstance(echo_id, str)
        and bool(created_at)
        and bool(echo_id)
    )


def secrets_manager_key(secret_name: str, create_client: Callable[[], Any]) -> Callable[[], bytes]:
    """Read with a client from the app's own botocore session, once per container (CursorCodec
    keeps the key). Not through Powertools Parameters, which issue 2 named: its SecretsProvider
    imports boto3 whatever client it is given, and that import was the largest part of the first
    cursor's cost (docs/performance.md)."""

    def load() -> bytes:
        try:
            response = create_client().get_secret_value(SecretId=secret_name)
        except (BotoCoreError, ClientError) as exc:  # unreachable, throttled, denied or missing
            raise KeyUnavailable(secret_name) from exc
        secret = response.get("SecretString") or response.get("SecretBinary")
        if not secret:
            raise RuntimeError(f"secret {secret_name} is empty")
        return secret.encode() if isinstance(secret, str) else bytes(secret)

    return load
