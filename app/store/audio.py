"""S3 access for audio objects: presigned upload and playback URLs, inspection, deletion."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from app.observability import count, logger
from app.store.presign import PresignedGetSigner

# Objects are tagged pending at upload; creating the echo removes the tag. A lifecycle rule in
# template.yaml expires objects still tagged pending, i.e. audio whose echo was never created.
PENDING_TAG_KEY = "echoes-state"
PENDING_TAG_VALUE = "pending"
PENDING_TAGGING = f"{PENDING_TAG_KEY}={PENDING_TAG_VALUE}"


@dataclass(frozen=True)
class UploadTarget:
    put_url: str
    put_headers: dict[str, str]


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str


def audio_key(user_id: str, echo_id: str, extension: str) -> str:
    return f"audio/{user_id}/{echo_id}.{extension}"


class AudioStore:
    def __init__(self, client: Any, bucket: str, credentials: Callable[[], Any]) -> None:
        """CREDENTIALS: the botocore credentials CLIENT signs with, on first use (playback URLs)."""
        self._client = client
        self.bucket = bucket
        self._credentials = credentials
        self._playback_signer: PresignedGetSigner | None = None

    def s3_url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def upload_target(self, key: str, content_type: str, size: int, expires_in: int) -> UploadTarget:
        """A presigned PUT signed for exactly SIZE bytes (Content-Length) and only if no object has
        the key yet (If-None-Match: *, S3's conditional write: 412 otherwise), so it can neither
        exceed the limit nor replace the audio of a created echo. The only way to upload: a POST
        form cannot forbid overwrites (If-None-Match is a header of PutObject and
        CompleteMultipartUpload; a POST policy has no condition for it), so within its expiry it
        could replace a created echo's audio and tag it pending again (docs/design.md, Uploads)."""
        # Content-Length is signed but not listed: every HTTP client sets it from the body (and
        # browsers refuse to let a page set it); the body must be exactly SIZE bytes.
        put_headers = {"Content-Type": content_type, "x-amz-tagging": PENDING_TAGGING, "If-None-Match": "*"}
        put_url = self._client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentType": content_type,
                "Tagging": PENDING_TAGGING,
                "ContentLength": size,
                "IfNoneMatch": "*",
            },
            ExpiresIn=expires_in,
        )
        return UploadTarget(put_url=put_url, put_headers=put_headers)

    def inspect(self, key: str) -> StoredObject | None:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return StoredObject(size=int(head["ContentLength"]), content_type=head.get("ContentType", ""))

    def mark_kept(self, key: str) -> None:
        self._client.delete_object_tagging(Bucket=self.bucket, Key=key)

    def mark_pending(self, key: str) -> None:
        """Let the lifecycle rule expire the object (unless it is kept again)."""
        self._client.put_object_tagging(
            Bucket=self.bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": PENDING_TAG_KEY, "Value": PENDING_TAG_VALUE}]},
        )

    def mark_pending_quietly(self, key: str) -> None:
        """mark_pending, best effort: if it fails, the object stays, unreferenced (logged)."""
        try:
            self.mark_pending(key)
        except Exception:
            logger.exception("Audio left untagged after a failed create", extra={"s3_key": key})
            count("OrphanedAudio")

    def playback_url(self, key: str, expires_in: int) -> str:
        if self._playback_signer is None:  # created on first use: /health never needs it
            self._playback_signer = PresignedGetSigner(self._client, self.bucket, self._credentials())
        return self._playback_signer.url(key, expires_in)

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)
