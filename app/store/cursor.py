"""Opaque, tamper-proof pagination cursors: an HMAC-signed payload bound to one user's query."""

import base64
import binascii
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from app.errors import KeyUnavailable

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


# How long a container signs with the keys it loaded before it reads them again, so that it stops
# signing with a key rotated out long ago; and how soon after a load a cursor no key verifies may
# cause another one (a cursor signed by a container that already has a key rotated in since). Both
# bound the GetSecretValue calls a container makes, whatever cursors it is sent.
KEY_MAX_AGE_SECONDS = 3600.0
RELOAD_INTERVAL_SECONDS = 60.0


class CursorCodec:
    """Signs with the current key (AWSCURRENT); verifies with the current and the previous one
    (AWSPREVIOUS), so that a cursor signed before a rotation still decodes after it, and one signed
    two rotations ago does not. Keys are loaded on first use and kept: the previous one only when a
    cursor needs it, both again when a cursor verifies with neither (at most once a minute) and
    after an hour (docs/deployment.md, cursor-key rotation)."""

    def __init__(
        self,
        load_key: Callable[[], bytes],
        load_previous_key: Callable[[], bytes | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load_key = load_key
        self._load_previous_key = load_previous_key or (lambda: None)
        self._clock = clock
        self._key: bytes | None = None
        self._previous: bytes | None = None
        self._previous_loaded = False
        self._loaded_at = 0.0

    def _current_key(self) -> bytes:
        if self._key is None or self._clock() - self._loaded_at > KEY_MAX_AGE_SECONDS:
            return self._reload()
        return self._key

    def _reload(self) -> bytes:
        """Read the current key again and forget the previous one (read when next needed). A
        refresh that fails keeps the key it has, at most one rotation old; a first load that fails
        raises KeyUnavailable (503)."""
        self._loaded_at = self._clock()
        try:
            key = self._load_key()
        except KeyUnavailable:
            if self._key is None:
                raise
            return self._key
        self._key, self._previous, self._previous_loaded = key, None, False
        return key

    def _previous_key(self) -> bytes | None:
        if not self._previous_loaded:
            self._previous, self._previous_loaded = self._load_previous_key(), True
        return self._previous

    def _signature(self, scope: str, payload: bytes, key: bytes | None = None) -> bytes:
        message = scope.encode() + b"\x00" + payload
        return hmac.new(key or self._current_key(), message, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def _signed_by(self, key: bytes | None, scope: str, payload: bytes, signature: bytes) -> bool:
        return key is not None and hmac.compare_digest(signature, self._signature(scope, payload, key))

    def _verifies(self, scope: str, payload: bytes, signature: bytes) -> bool:
        if self._signed_by(self._current_key(), scope, payload, signature):
            return True
        if self._signed_by(self._previous_key(), scope, payload, signature):
            return True
        if self._clock() - self._loaded_at < RELOAD_INTERVAL_SECONDS:
            return False
        self._reload()  # another container may sign with a key rotated in since this one loaded
        return self._signed_by(self._current_key(), scope, payload, signature) or self._signed_by(
            self._previous_key(), scope, payload, signature
        )

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
        if not self._verifies(scope, payload, signature):
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
    """The current key (AWSCURRENT), read with a client from the app's own botocore session (CursorCodec
    keeps it). Not through Powertools Parameters, which issue 2 named: its SecretsProvider
    imports boto3 whatever client it is given, and that import was the largest part of the first
    cursor's cost (docs/performance.md)."""

    def load() -> bytes:
        try:
            response = create_client().get_secret_value(SecretId=secret_name, VersionStage="AWSCURRENT")
        except (BotoCoreError, ClientError) as exc:  # unreachable, throttled, denied or missing
            raise KeyUnavailable(secret_name) from exc
        secret = response.get("SecretString") or response.get("SecretBinary")
        if not secret:
            raise RuntimeError(f"secret {secret_name} is empty")
        return secret.encode() if isinstance(secret, str) else bytes(secret)

    return load


def secrets_manager_previous_key(
    secret_name: str, create_client: Callable[[], Any]
) -> Callable[[], bytes | None]:
    """The key the last rotation replaced (AWSPREVIOUS); None before the first rotation, and when it
    cannot be read (a cursor it signed is then refused, as after two rotations, never a 503)."""

    def load() -> bytes | None:
        try:
            response = create_client().get_secret_value(SecretId=secret_name, VersionStage="AWSPREVIOUS")
        except (BotoCoreError, ClientError):  # no previous version yet, or unreadable
            return None
        secret = response.get("SecretString") or response.get("SecretBinary")
        return (secret.encode() if isinstance(secret, str) else bytes(secret)) if secret else None

    return load


def secrets_manager_codec(secret_name: str, create_client: Callable[[], Any]) -> CursorCodec:
    """The deployed codec: both keys from the secret, with one client made on the first load."""
    client = functools.cache(create_client)
    return CursorCodec(
        secrets_manager_key(secret_name, client), secrets_manager_previous_key(secret_name, client)
    )
