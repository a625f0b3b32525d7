"""From the staging key to the echo's key: an upload's audio is checked where the client put it,
copied into the echo's key (conditioned on what was checked, never overwriting) and checked there,
so that what the echo owns is what was verified, and no later PUT can change it.

The staging key's URL signs host and Content-Type only (the API guide's client sends nothing
else), so S3 bounds neither the size nor overwrites there: the checks here are the only ones.
"""

from app.errors import ApiError, ErrorCode
from app.observability import logger
from app.store.audio import AudioStore, StoredObject
from app.store.records import PendingUpload


class StagedAudio:
    def __init__(self, audio: AudioStore, max_bytes: int) -> None:
        self._audio = audio
        self._max_bytes = max_bytes

    def place(self, upload: PendingUpload) -> StoredObject:
        """The upload's audio, checked in the echo's key. Copied there first unless an earlier
        attempt of this create copied it already (checked before it was copied, it wins over
        whatever the staging key holds now)."""
        if self._audio.inspect(upload.s3_key) is None:
            self._copy(upload)
        return self._checked(upload, upload.s3_key)

    def _copy(self, upload: PendingUpload) -> None:
        staged = self._checked(upload, upload.upload_key)
        copied = self._audio.copy_verified(upload.upload_key, upload.s3_key, staged.etag)
        if not copied and self._audio.inspect(upload.s3_key) is None:
            # Refused, and nothing is in the echo's key (else a concurrent create copied it): the
            # staging key changed since it was checked (a PUT in between). Nothing was copied.
            raise ApiError(
                ErrorCode.CONFLICT,
                "The upload changed while it was being verified: create the echo again",
                {"s3_key": upload.upload_key},
            )

    def discard(self, upload: PendingUpload) -> None:
        """After the echo is created: its staging object is no longer needed. Best effort: the
        lifecycle rule expires whatever is left under the staging prefix."""
        try:
            self._audio.delete(upload.upload_key)
        except Exception:
            logger.warning("Staged upload left to the lifecycle rule", extra={"s3_key": upload.upload_key})

    def _checked(self, upload: PendingUpload, key: str) -> StoredObject:
        """KEY's object, if it has an allowed size and the declared type; refused and deleted if not."""
        stored = self._audio.inspect(key)
        if stored is None:
            raise ApiError(ErrorCode.VALIDATION_ERROR, "The audio has not been uploaded yet", {"s3_key": key})
        if stored.size > self._max_bytes or stored.size == 0:
            self._audio.delete(key)
            raise ApiError(
                ErrorCode.FILE_TOO_LARGE if stored.size else ErrorCode.VALIDATION_ERROR,
                f"Uploaded audio must be 1 to {self._max_bytes} bytes",
                {"max_bytes": self._max_bytes, "file_size": stored.size},
            )
        if stored.content_type.lower() != upload.content_type:
            self._audio.delete(key)
            raise ApiError(
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "Uploaded audio does not have the declared content type",
                {"expected": upload.content_type, "received": stored.content_type},
            )
        return stored
