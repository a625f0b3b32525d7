"""The echo use cases: each composes the stores and turns their outcomes into API errors."""

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from app import deadline
from app.errors import ApiError, ErrorCode, not_found, unavailable
from app.models import (
    AUDIO_FORMATS,
    CreateEchoRequest,
    Echo,
    EchoPage,
    InitUploadRequest,
    InitUploadResponse,
    Location,
    UploadForm,
)
from app.observability import count, logger
from app.settings import Settings
from app.store.audio import AudioStore, StoredObject, audio_key
from app.store.cursor import CursorCodec, CursorState, InvalidCursor
from app.store.echoes import (
    ContentionError,
    EchoAlreadyExists,
    EchoStore,
    PageKey,
    UploadNotPending,
)
from app.store.limits import UploadLimit
from app.store.records import EchoRecord, PendingUpload

# Clean-up after a failed write may run this long past the request's deadline.
CLEANUP_GRACE_SECONDS = 1.0


def parse_echo_id(raw: str) -> str:
    """Canonical lower-case UUID, or 404: a malformed id names no echo."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise not_found() from None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _content_type_matches(extension: str, content_type: str) -> bool:
    base_type = content_type.split(";", 1)[0].strip()
    return base_type in AUDIO_FORMATS[extension]


def _supported_formats() -> dict[str, str]:
    return {extension: types[0] for extension, types in AUDIO_FORMATS.items()}


def _check_extension(extension: str) -> str:
    if extension not in AUDIO_FORMATS:
        raise ApiError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"Unsupported audio format {extension!r}",
            {"supported_formats": _supported_formats()},
        )
    return extension


def _request_hash(request: CreateEchoRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class EchoService:
    def __init__(
        self,
        settings: Settings,
        echoes: EchoStore,
        audio: AudioStore,
        cursors: CursorCodec,
        upload_limit: UploadLimit,
    ) -> None:
        self._settings = settings
        self._upload_limit = upload_limit
        self._echoes = echoes
        self._audio = audio
        self._cursors = cursors

    def _to_echo(self, record: EchoRecord) -> Echo:
        return Echo(
            echo_id=record.echo_id,
            emotion=record.emotion,
            timestamp=record.created_at,
            s3_url=self._audio.s3_url(record.s3_key),
            location=Location(**record.location) if record.location else None,
            tags=list(record.tags),
            transcript=record.transcript,
            detected_mood=record.detected_mood,
            duration_seconds=record.duration_seconds,
            file_size=record.file_size,
            content_type=record.content_type,
            created_at=record.created_at,
            audio_url=self._audio.playback_url(record.s3_key, self._settings.audio_url_expires_seconds),
        )

    # --- uploads --------------------------------------------------------------------------------

    def init_upload(self, user_id: str, request: InitUploadRequest) -> InitUploadResponse:
        extension = _check_extension(request.file_extension)
        content_type = request.content_type.lower()
        if not _content_type_matches(extension, content_type):
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                f"Content type {content_type!r} does not match extension {extension!r}",
                {"expected_content_types": list(AUDIO_FORMATS[extension])},
            )
        limit = self._settings.max_audio_bytes
        if request.file_size > limit:
            raise ApiError(
                ErrorCode.FILE_TOO_LARGE,
                f"Audio must be at most {limit} bytes",
                {"max_bytes": limit, "file_size": request.file_size},
            )
        self._upload_limit.take(user_id)  # after validation: a refused request costs no quota
        echo_id = str(uuid.uuid4())
        key = audio_key(user_id, echo_id, extension)
        expires_in = self._settings.upload_url_expires_seconds
        self._echoes.put_pending_upload(
            user_id,
            PendingUpload(
                echo_id=echo_id,
                s3_key=key,
                content_type=content_type,
                file_extension=extension,
                expires_at=int(time.time()) + self._settings.pending_upload_ttl_seconds,
            ),
        )
        target = self._audio.upload_target(key, content_type, request.file_size, limit, expires_in)
        return InitUploadResponse(
            echo_id=echo_id,
            upload_url=target.put_url,
            upload_headers=target.put_headers,
            upload_form=UploadForm(url=target.post_url, fields=target.post_fields),
            s3_key=key,
            expires_in=expires_in,
        )

    # --- create ---------------------------------------------------------------------------------

    def create(self, user_id: str, echo_id: str, request: CreateEchoRequest) -> Echo:
        echo_id = parse_echo_id(echo_id)
        request_hash = _request_hash(request)
        existing = self._echoes.get_echo(user_id, echo_id, consistent=True)
        if existing is not None:
            return self._replayed(existing, request_hash)
        upload = self._echoes.get_pending_upload(user_id, echo_id, now=int(time.time()))
        if upload is None:
            raise not_found("Pending upload")
        stored = self._verified_upload(upload, request)
        record = EchoRecord(
            echo_id=echo_id,
            user_id=user_id,
            emotion=request.emotion.value,
            created_at=_now_iso(),
            s3_key=upload.s3_key,
            file_extension=upload.file_extension,
            file_size=stored.size,
            content_type=upload.content_type,
            tags=tuple(request.tags),
            transcript=request.transcript,
            detected_mood=request.detected_mood,
            duration_seconds=request.duration_seconds,
            location=request.location.model_dump() if request.location else None,
            request_hash=request_hash,
        )
        # Untag before the echo exists, never after: if the transaction then fails, the audio is
        # kept (re-tagged pending below when the failure is certain), whereas an untag failing
        # after the commit would leave an echo whose audio the lifecycle rule deletes.
        self._audio.mark_kept(upload.s3_key)
        try:
            created = self._echoes.create_echo(record)
        except EchoAlreadyExists as race:
            return self._replayed(race.existing, request_hash)
        except UploadNotPending:
            self._release_upload(record)
            raise not_found("Pending upload") from None
        except ContentionError:
            self._release_upload(record)
            raise unavailable("Too many concurrent changes; try again") from None
        except ClientError:  # DynamoDB answered and refused: nothing was written
            self._release_upload(record)
            raise
        count("EchoCreated", emotion=created.emotion)
        return self._to_echo(created)

    def _release_upload(self, record: EchoRecord) -> None:
        """This create certainly failed: hand the audio back to the lifecycle rule (best effort),
        unless a concurrent create of the same id (a client's retry) made the echo meanwhile."""
        with deadline.grace(CLEANUP_GRACE_SECONDS):
            try:
                if self._echoes.get_echo(record.user_id, record.echo_id, consistent=True) is None:
                    self._audio.mark_pending_quietly(record.s3_key)
            except Exception:
                logger.exception("Audio left untagged after a failed create", extra={"s3_key": record.s3_key})
                count("OrphanedAudio")

    def _replayed(self, existing: EchoRecord, request_hash: str) -> Echo:
        if existing.request_hash != request_hash:
            raise ApiError(
                ErrorCode.CONFLICT,
                "An echo with this id already exists with different content",
                {"echo_id": existing.echo_id},
            )
        # Repair, not just replay: an earlier attempt (or an older version of this code) may have
        # stored the echo without removing the pending tag, and the lifecycle rule would expire it.
        self._audio.mark_kept(existing.s3_key)
        return self._to_echo(existing)

    def _verified_upload(self, upload: PendingUpload, request: CreateEchoRequest) -> StoredObject:
        if request.file_extension != upload.file_extension:
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                "file_extension does not match the initialised upload",
                {"expected": upload.file_extension},
            )
        stored = self._audio.inspect(upload.s3_key)
        if stored is None:
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                "The audio has not been uploaded yet",
                {"s3_key": upload.s3_key},
            )
        limit = self._settings.max_audio_bytes
        if stored.size > limit or stored.size == 0:
            self._audio.delete(upload.s3_key)
            raise ApiError(
                ErrorCode.FILE_TOO_LARGE if stored.size else ErrorCode.VALIDATION_ERROR,
                f"Uploaded audio must be 1 to {limit} bytes",
                {"max_bytes": limit, "file_size": stored.size},
            )
        if stored.content_type.lower() != upload.content_type:
            self._audio.delete(upload.s3_key)
            raise ApiError(
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "Uploaded audio does not have the declared content type",
                {"expected": upload.content_type, "received": stored.content_type},
            )
        return stored

    # --- reads and delete -----------------------------------------------------------------------

    def get(self, user_id: str, echo_id: str) -> Echo:
        record = self._echoes.get_echo(user_id, parse_echo_id(echo_id))
        if record is None:
            raise not_found()
        return self._to_echo(record)

    def random(self, user_id: str, emotion: str | None) -> Echo:
        record = self._echoes.random_echo(user_id, emotion)
        if record is None:
            raise not_found("Matching echo")
        return self._to_echo(record)

    def delete(self, user_id: str, echo_id: str) -> None:
        echo_id = parse_echo_id(echo_id)
        existing = self._echoes.get_echo(user_id, echo_id, consistent=True)
        if existing is None:
            raise not_found()
        # The audio is handed to the lifecycle rule (tagged pending) before the echo goes: if the
        # request stops anywhere after the echo is gone, S3 still removes the audio. If the echo
        # turns out to remain, its audio is kept again (_keep_audio_if_echo_remains).
        try:
            self._audio.mark_pending(existing.s3_key)
            record = self._echoes.delete_echo(user_id, echo_id)
        except ContentionError:
            self._keep_audio_if_echo_remains(existing)
            raise unavailable("Too many concurrent changes; try again") from None
        except Exception:
            self._keep_audio_if_echo_remains(existing)
            raise
        if record is None:  # deleted by a concurrent request, which also removes the audio
            raise not_found()
        try:
            self._audio.delete(record.s3_key)
        except Exception:  # the echo is gone and its audio tagged pending: S3 expires it
            logger.exception("Audio left to the lifecycle rule", extra={"s3_key": record.s3_key})
            count("AudioLeftPending")
        count("EchoDeleted", emotion=record.emotion)

    def _keep_audio_if_echo_remains(self, record: EchoRecord) -> None:
        """After a failed delete: the echo may or may not be gone (a lost response). Best effort,
        with a short grace beyond the request's deadline: if this fails too, a live echo keeps
        audio tagged pending, which a retried delete finishes and a successful create repairs."""
        with deadline.grace(CLEANUP_GRACE_SECONDS):
            try:
                if self._echoes.get_echo(record.user_id, record.echo_id, consistent=True) is not None:
                    self._audio.mark_kept(record.s3_key)
            except Exception:
                logger.exception("Audio of a live echo left tagged pending", extra={"s3_key": record.s3_key})
                count("PendingAudioOnLiveEcho")

    def list(
        self, user_id: str, emotion: str | None, page: int, page_size: int, cursor: str | None
    ) -> EchoPage:
        scope = f"{user_id}|{emotion or ''}|{page_size}"
        start: PageKey | None = None
        if cursor:
            try:
                state = self._cursors.decode(scope, cursor)
            except InvalidCursor as exc:
                raise ApiError(
                    ErrorCode.VALIDATION_ERROR,
                    "Invalid cursor: it must come from next_cursor of the same query",
                    {"reason": str(exc)},
                ) from None
            page, start = state.page, PageKey(state.created_at, state.echo_id)
        elif page > 1:
            # Offset paging, kept for compatibility: it reads the pages before this one.
            start = self._echoes.newest_first(user_id, emotion, (page - 1) * page_size, None).next_key
        found = (
            self._echoes.newest_first(user_id, emotion, page_size, start)
            if start is not None or page == 1
            else None
        )
        next_cursor = None
        if found is not None and found.next_key is not None:
            next_cursor = self._cursors.encode(
                scope, CursorState(page + 1, found.next_key.created_at, found.next_key.echo_id)
            )
        return EchoPage(
            echoes=[self._to_echo(record) for record in found.records] if found else [],
            total_count=self._echoes.count(user_id, emotion),
            page=page,
            page_size=page_size,
            has_more=next_cursor is not None,
            next_cursor=next_cursor,
        )
