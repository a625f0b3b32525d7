"""S3 access for audio objects: presigned upload and playback URLs, inspection, the verified copy
from the staging key into the echo's key, deletion.

Two prefixes: clients upload under uploads/ (the staging key), where a presigned PUT signed for
host and Content-Type only can write any size, any number of times while it is valid; the echo's
audio lives under audio/, where only the API writes (a copy of what create verified). A lifecycle
rule expires everything under uploads/ (template.yaml).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from app.observability import count, logger
from app.store.presign import PresignedGetSigner

AUDIO_PREFIX = "audio/"
STAGING_PREFIX = "uploads/"
# Audio no echo owns is tagged pending: after a create that failed, or before an echo's delete. A
# lifecycle rule in template.yaml expires objects still tagged pending.
PENDING_TAG_KEY = "echoes-state"
PENDING_TAG_VALUE = "pending"


@dataclass(frozen=True)
class UploadTarget:
    put_url: str
    put_headers: dict[str, str]


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str
    etag: str  # names these bytes: a copy conditioned on it copies exactly what was inspected


def audio_key(user_id: str, echo_id: str, extension: str) -> str:
    return f"{AUDIO_PREFIX}{user_id}/{echo_id}.{extension}"


def staging_key(user_id: str, echo_id: str, extension: str) -> str:
    return f"{STAGING_PREFIX}{user_id}/{echo_id}.{extension}"


# How S3 answers for a key that holds nothing.
_ABSENT = {"404", "NoSuchKey", "NotFound"}


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# CopyObject's refusals of its conditions: 412 when the source's ETag differs or the target exists,
# 409 while a concurrent conditional write of the target is in progress.
_REFUSED_COPY = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


class AudioStore:
    def __init__(self, client: Any, bucket: str, credentials: Callable[[], Any]) -> None:
        """CREDENTIALS: the botocore credentials CLIENT signs with, on first use (playback URLs)."""
        self._client = client
        self.bucket = bucket
        self._credentials = credentials
        self._playback_signer: PresignedGetSigner | None = None

    def s3_url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def upload_target(self, key: str, content_type: str, expires_in: int) -> UploadTarget:
        """A presigned PUT of the staging KEY that signs host and Content-Type only: what a
        browser's PUT of a File with its type sends (the API guide's client sends Content-Type
        alone, and S3 refuses a PUT that lacks a signed header). So the URL bounds neither the size
        nor overwrites: create verifies what the key holds, then copies it into the echo's key,
        which no URL can write (docs/design.md, Uploads)."""
        put_url = self._client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=expires_in,
        )
        return UploadTarget(put_url=put_url, put_headers={"Content-Type": content_type})

    def inspect(self, key: str) -> StoredObject | None:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _ABSENT:
                return None
            raise
        return StoredObject(int(head["ContentLength"]), head.get("ContentType", ""), head.get("ETag", ""))

    def copy_verified(self, source: str, target: str, etag: str) -> bool:
        """Copy SOURCE into TARGET, untagged (kept), only if SOURCE still holds the bytes named by
        ETAG (what was verified: a PUT since then changes it) and TARGET does not exist (S3's
        conditional write: never overwriting). False when S3 refuses either condition."""
        try:
            self._client.copy_object(
                Bucket=self.bucket,
                Key=target,
                CopySource={"Bucket": self.bucket, "Key": source},
                CopySourceIfMatch=etag,
                IfNoneMatch="*",
                MetadataDirective="COPY",  # the Content-Type that was verified
                TaggingDirective="REPLACE",  # none of the source's tags: the copy is kept
            )
        except ClientError as error:
            if _error_code(error) in _REFUSED_COPY:
                return False
            raise
        return True

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
        """mark_pending, best effort: if it fails, the object stays, unreferenced (logged). An
        absent object needs nothing."""
        try:
            self.mark_pending(key)
        except Exception as error:
            if isinstance(error, ClientError) and _error_code(error) in _ABSENT:
                return
            logger.exception("Audio left untagged after a failed create", extra={"s3_key": key})
            count("OrphanedAudio")

    def playback_url(self, key: str, expires_in: int) -> str:
        return self.playback_urls([key], expires_in)[0]

    def playback_urls(self, keys: list[str], expires_in: int) -> list[str]:
        """A URL per key, signed together (a page of echoes: app/store/presign.py)."""
        if self._playback_signer is None:  # created on first use: /health never needs it
            self._playback_signer = PresignedGetSigner(self._client, self.bucket, self._credentials())
        return self._playback_signer.urls(keys, expires_in)

    def delete(self, key: str) -> None:
        """Hide KEY behind a delete marker: its versions stay until the noncurrent-version
        lifecycle rule removes them (for staged uploads and refused copies)."""
        self._client.delete_object(Bucket=self.bucket, Key=key)

    def versions_of(self, key: str) -> list[dict[str, str]]:
        """Every version and delete marker of KEY, by version id. One listing page is enough: the
        API writes an echo's key once (a copy that never overwrites), so it holds a few entries."""
        listed = self._client.list_object_versions(Bucket=self.bucket, Prefix=key)
        return [
            {"Key": key, "VersionId": entry["VersionId"]}
            for kind in ("Versions", "DeleteMarkers")
            for entry in listed.get(kind, [])
            if entry["Key"] == key  # the prefix also matches longer keys
        ]

    def delete_versions(self, key: str, versions: list[dict[str, str]]) -> None:
        """Remove KEY for good: its VERSIONS (versions_of), delete markers included (the bucket is
        versioned, so a plain delete leaves the audio readable by version id)."""
        if not versions:
            return
        response = self._client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": versions, "Quiet": True}
        )
        if response.get("Errors"):
            raise RuntimeError(f"S3 kept {len(response['Errors'])} versions of {key}")
