"""From the staging key to the echo's key: an upload's audio is checked where the client put it,
copied into the echo's key (conditioned on what was checked, never overwriting), so that what the
echo owns is what was verified, and no later PUT can change it.

The staging key's URL signs host and Content-Type only (the API guide's client sends nothing
else), so S3 bounds neither the size nor overwrites there: the checks here are the only ones.
"""

from app import deadline
from app.errors import ApiError, ErrorCode
from app.observability import logger
from app.service import CLEANUP_GRACE_SECONDS
from app.store.audio import AudioStore, StoredObject
from app.store.records import PendingUpload


class StagedAudio:
    def __init__(self, audio: AudioStore, max_bytes: int) -> None:
        self._audio = audio
        self._max_bytes = max_bytes

    def place(self, upload: PendingUpload, staged: StoredObject | None) -> StoredObject:
        """The upload's audio in the echo's key, checked. STAGED: the staged object's HeadObject
        (None: absent). On a first attempt one CopyObject, conditioned on the ETag that was checked
        (so the copy holds exactly the checked bytes) and on the echo's key being absent. When S3
        refuses the copy, or the staged object is gone, the echo's key may hold an earlier
        attempt's copy (checked before it was made, it wins over whatever the staging key holds
        now); else the staged object changed in between, or was never uploaded."""
        if staged is not None and self._refusal(upload, staged) is None and self._copy(upload, staged):
            return staged
        copied = self._audio.inspect(upload.s3_key)
        if copied is not None:
            checked = self._checked(upload, upload.s3_key, copied)
            self._audio.mark_kept(upload.s3_key)  # its attempt may have handed it to the lifecycle rule
            return checked
        if staged is None:
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                "The audio has not been uploaded yet",
                {"s3_key": upload.upload_key},
            )
        self._checked(upload, upload.upload_key, staged)  # an unacceptable upload: refused, deleted
        raise ApiError(  # refused by S3: the staged object changed since it was checked (a PUT)
            ErrorCode.CONFLICT,
            "The upload changed while it was being verified: create the echo again",
            {"s3_key": upload.upload_key},
        )

    def _copy(self, upload: PendingUpload, staged: StoredObject) -> bool:
        """The checked copy, kept (untagged): the transaction comes next. If the copy fails, it may
        have been made all the same (its answer lost): it is handed to the lifecycle rule, and a
        retry keeps it again."""
        try:
            return self._audio.copy_verified(upload.upload_key, upload.s3_key, staged.etag)
        except Exception:
            with deadline.grace(CLEANUP_GRACE_SECONDS):
                self._audio.mark_pending_quietly(upload.s3_key)
            raise

    def discard(self, upload: PendingUpload) -> None:
        """Once the echo's key holds the checked copy, the staging object is no longer needed.
        Best effort: the lifecycle rule expires whatever is left under the staging prefix."""
        try:
            self._audio.delete(upload.upload_key)
        except Exception:
            logger.warning("Staged upload left to the lifecycle rule", extra={"s3_key": upload.upload_key})

    def _checked(self, upload: PendingUpload, key: str, stored: StoredObject) -> StoredObject:
        """STORED (KEY's object) if it is acceptable; else it is deleted and refused."""
        refusal = self._refusal(upload, stored)
        if refusal is not None:
            self._audio.delete(key)
            raise refusal
        return stored

    def _refusal(self, upload: PendingUpload, stored: StoredObject) -> ApiError | None:
        """Why STORED cannot be the upload's audio (its size, or not the declared type), if so."""
        if stored.size > self._max_bytes or stored.size == 0:
            return ApiError(
                ErrorCode.FILE_TOO_LARGE if stored.size else ErrorCode.VALIDATION_ERROR,
                f"Uploaded audio must be 1 to {self._max_bytes} bytes",
                {"max_bytes": self._max_bytes, "file_size": stored.size},
            )
        if stored.content_type.lower() != upload.content_type:
            return ApiError(
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "Uploaded audio does not have the declared content type",
                {"expected": upload.content_type, "received": stored.content_type},
            )
        return None
