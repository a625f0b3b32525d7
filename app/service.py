"""The echo use cases: each composes the stores and turns their outcomes into API errors."""

import hashlib
import json
import re
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from app import deadline
from app.errors import ApiError, ErrorCode, not_found, unavailable
from app.models import (
    AUDIO_FORMATS,
    CreateEchoRequest,
    Echo,
    EchoPage,
    EchoStats,
    Emotion,
    InitUploadRequest,
    InitUploadResponse,
    Location,
    UpdateEchoRequest,
    iso_millis,
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
    Quota,
    QuotaExceeded,
    Selection,
    UploadNotPending,
    VersionMismatch,
)
from app.store.limits import UploadLimit
from app.store.records import ALL, BYTES_ATTRIBUTE, EchoRecord, PendingUpload, count_attribute

# Clean-up after a failed write may run this long past the request's deadline.
CLEANUP_GRACE_SECONDS = 1.0
# Offset paging (page=N without a cursor) reads every echo before the page: at most this many.
# Beyond it, next_cursor pages on at the cost of one page wherever it points.
MAX_OFFSET = 1000


def parse_echo_id(raw: str) -> str:
    """Canonical lower-case UUID, or 404: a malformed id names no echo."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise not_found() from None


def _now_iso() -> str:
    return iso_millis(datetime.now(UTC))


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


# The ETags this API issues: a version number, quoted. Matched as ASCII digits of bounded length
# before int(): str.isdigit() also accepts digits such as '²' that int() refuses, and int() refuses
# a string of more than 4,300 digits (both were 500s).
_ISSUED_ETAG = re.compile(r'"([0-9]{1,18})"')


def etag(version: int) -> str:
    return f'"{version}"'


def expected_versions(if_match: str | None) -> frozenset[int] | None:
    """The versions an If-Match header accepts (None: any). If-Match compares strongly, so weak
    tags (W/...) and tags this API never issued match nothing."""
    if if_match is None or if_match.strip() == "*":
        return None
    tags = (_ISSUED_ETAG.fullmatch(tag.strip()) for tag in if_match.split(","))
    return frozenset(int(tag[1]) for tag in tags if tag)


def _quota_error(exceeded: QuotaExceeded) -> ApiError:
    what = {"echoes": "echoes", "bytes": "bytes of audio", "uploads": "pending uploads"}[exceeded.what]
    return ApiError(
        ErrorCode.QUOTA_EXCEEDED,
        f"Limit reached: at most {exceeded.limit} {what} per user",
        {"limit": exceeded.limit, "quota": exceeded.what},
    )


def _check_offset(page: int, page_size: int) -> None:
    offset = (page - 1) * page_size
    if offset > MAX_OFFSET:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"page={page} with page_size={page_size} skips {offset} echoes, more than {MAX_OFFSET}: "
            "follow next_cursor instead, which reads one page wherever it points",
            {"max_offset": MAX_OFFSET, "offset": offset, "use": "cursor"},
        )


def _request_hash(request: CreateEchoRequest) -> str:
    # Without recorded_at when absent: requests from before the field hash as they did.
    body = request.model_dump(mode="json", exclude=None if request.recorded_at else {"recorded_at"})
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
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
            recorded_at=record.recorded_at or record.created_at,
            version=record.version,
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
        self._check_upload_quota(user_id)
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
        target = self._audio.upload_target(key, content_type, request.file_size, expires_in)
        return InitUploadResponse(
            echo_id=echo_id,
            upload_url=target.put_url,
            upload_headers=target.put_headers,
            s3_key=key,
            expires_in=expires_in,
        )

    def _check_upload_quota(self, user_id: str) -> None:
        """Refuse early (before the user uploads) what create would refuse, and cap pending
        uploads. Reading the counters here also refuses the token of an erased account."""
        counts = self._echoes.counts(user_id)
        settings = self._settings
        if counts.get(count_attribute(ALL), 0) >= settings.max_echoes_per_user:
            raise _quota_error(QuotaExceeded("echoes", settings.max_echoes_per_user))
        if counts.get(BYTES_ATTRIBUTE, 0) >= settings.max_audio_bytes_per_user:
            raise _quota_error(QuotaExceeded("bytes", settings.max_audio_bytes_per_user))
        limit = settings.max_pending_uploads_per_user
        if self._echoes.pending_uploads(user_id, int(time.time()), limit) >= limit:
            raise _quota_error(QuotaExceeded("uploads", limit))

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
        created_at = _now_iso()
        record = EchoRecord(
            echo_id=echo_id,
            user_id=user_id,
            emotion=request.emotion.value,
            created_at=created_at,
            recorded_at=iso_millis(request.recorded_at) if request.recorded_at else created_at,
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
        quota = Quota(self._settings.max_echoes_per_user, self._settings.max_audio_bytes_per_user)
        # Untag before the echo exists, never after: if the transaction then fails, the audio is
        # kept (re-tagged pending below when the failure is certain), whereas an untag failing
        # after the commit would leave an echo whose audio the lifecycle rule deletes.
        self._audio.mark_kept(upload.s3_key)
        try:
            created = self._echoes.create_echo(record, quota)
        except QuotaExceeded as exceeded:
            self._audio.mark_pending_quietly(upload.s3_key)
            raise _quota_error(exceeded) from None
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
        except ApiError:  # the account is being erased: refused before anything was written
            self._release_upload(record)
            raise
        # A timeout or a spent deadline leaves the outcome unknown (the transaction may still
        # commit), so the audio stays untagged: re-tagging it could expire a live echo's audio.
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

    def update(self, user_id: str, echo_id: str, request: UpdateEchoRequest, if_match: str | None) -> Echo:
        given = request.model_dump(mode="json", include=request.model_fields_set)
        if "tags" in given:
            given["tags"] = tuple(given["tags"])
        if request.recorded_at is not None:
            given["recorded_at"] = iso_millis(request.recorded_at)  # the one stored format

        def change(record: EchoRecord) -> EchoRecord:
            return replace(record, **given)

        try:
            record = self._echoes.update_echo(
                user_id, parse_echo_id(echo_id), change, expected_versions(if_match)
            )
        except VersionMismatch as stale:
            raise ApiError(
                ErrorCode.PRECONDITION_FAILED,
                "The echo changed since you read it: get it again, then re-apply your change",
                {"current_etag": etag(stale.current.version)},
            ) from None
        except ContentionError:
            raise unavailable("Too many concurrent changes; try again") from None
        if record is None:
            raise not_found()
        return self._to_echo(record)

    def stats(self, user_id: str) -> EchoStats:
        """Three reads whatever the number of echoes: the counters, and each end of the index."""
        counts = self._echoes.counts(user_id)
        first, last = self._echoes.oldest_and_newest(user_id)
        return EchoStats(
            total_count=counts.get(count_attribute(ALL), 0),
            by_emotion={emotion: counts.get(count_attribute(emotion.value), 0) for emotion in Emotion},
            first_echo_at=first,
            last_echo_at=last,
        )

    def list(
        self,
        user_id: str,
        selection: Selection,
        page: int,
        page_size: int,
        cursor: str | None,
    ) -> EchoPage:
        if selection.tag is not None and selection.emotion is not None:
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                "Filter by emotion or by tag, not both: each is served by its own index",
                {"supported": ["emotion + from/to", "tag + from/to"]},
            )
        if selection.since and selection.until and selection.since >= selection.until:
            raise ApiError(ErrorCode.VALIDATION_ERROR, "'from' must be before 'to'")
        emotion = selection.emotion
        scope = f"{user_id}|{emotion or ''}|{page_size}"
        ranged = selection.tag is not None or selection.since or selection.until
        if ranged:  # cursors stay bound to the whole query
            scope += "|" + json.dumps([selection.tag, selection.since, selection.until])
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
            _check_offset(page, page_size)
            start = self._echoes.newest_first(user_id, selection, (page - 1) * page_size, None).next_key
        found = (
            self._echoes.newest_first(user_id, selection, page_size, start)
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
            # No counter keeps date or tag ranges; counting them would read every match.
            total_count=None if ranged else self._echoes.count(user_id, emotion),
            page=page,
            page_size=page_size,
            has_more=next_cursor is not None,
            next_cursor=next_cursor,
        )
