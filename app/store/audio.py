"""S3 access for audio objects: presigned upload and playback URLs, inspection, deletion."""

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
_PENDING_TAGGING_XML = (
    f"<Tagging><TagSet><Tag><Key>{PENDING_TAG_KEY}</Key><Value>{PENDING_TAG_VALUE}</Value>"
    "</Tag></TagSet></Tagging>"
)


@dataclass(frozen=True)
class UploadTarget:
    put_url: str
    put_headers: dict[str, str]
    post_url: str
    post_fields: dict[str, str]


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str


def audio_key(user_id: str, echo_id: str, extension: str) -> str:
    return f"audio/{user_id}/{echo_id}.{extension}"


class AudioStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.bucket = bucket
        self._playback_signer: PresignedGetSigner | None = None

    def s3_url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def upload_target(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> UploadTarget:
        put_url = self._client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentType": content_type,
                "Tagging": PENDING_TAGGING,
            },
            ExpiresIn=expires_in,
        )
        post = self._client.generate_presigned_post(
            self.bucket,
            key,
            Fields={"Content-Type": content_type, "tagging": _PENDING_TAGGING_XML},
            Conditions=[
                {"Content-Type": content_type},
                {"tagging": _PENDING_TAGGING_XML},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=expires_in,
        )
        return UploadTarget(
            put_url=put_url,
            put_headers={"Content-Type": content_type, "x-amz-tagging": PENDING_TAGGING},
            post_url=post["url"],
            post_fields=post["fields"],
        )

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

    def mark_pending_quietly(self, key: str) -> None:
        """Hand the object back to the lifecycle rule after a create that certainly failed; best
        effort: if this fails too, the object stays, unreferenced (logged, never lost data)."""
        try:
            self._client.put_object_tagging(
                Bucket=self.bucket,
                Key=key,
                Tagging={"TagSet": [{"Key": PENDING_TAG_KEY, "Value": PENDING_TAG_VALUE}]},
            )
        except Exception:
            logger.exception("Audio left untagged after a failed create", extra={"s3_key": key})
            count("OrphanedAudio")

    def playback_url(self, key: str, expires_in: int) -> str:
        if self._playback_signer is None:  # created on first use: /health never needs it
            self._playback_signer = PresignedGetSigner(self._client, self.bucket)
        return self._playback_signer.url(key, expires_in)

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)
