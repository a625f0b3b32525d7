"""The upload use cases: init-upload (a presigned PUT, within the user's quotas and upload limit)
and create (verify the uploaded audio, then store the echo), each turning the stores' outcomes into
API errors without losing or orphaning audio (docs/design.md, No single failure loses data)."""

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
    InitUploadRequest,
    InitUploadResponse,
    iso_millis,
)
from app.observability import count, logger
from app.parallel import alongside
from app.service import CLEANUP_GRACE_SECONDS, EchoService, parse_echo_id
from app.settings import Settings
from app.staging import StagedAudio
from app.store.audio import AudioStore, StoredObject, audio_key, staging_key
from app.store.echoes import EchoStore
from app.store.limits import UploadLimit
from app.store.outcomes import ContentionError, EchoAlreadyExists, Quota, QuotaExceeded, UploadNotPending
from app.store.records import ALL, BYTES_ATTRIBUTE, EchoRecord, PendingUpload, count_attribute
from app.store.uploads import PendingUploads, ledger_key, pending_in


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


def _quota_error(exceeded: QuotaExceeded) -> ApiError:
    what = {"echoes": "echoes", "bytes": "bytes of audio", "uploads": "pending uploads"}[exceeded.what]
    return ApiError(
        ErrorCode.QUOTA_EXCEEDED,
        f"Limit reached: at most {exceeded.limit} {what} per user",
        {"limit": exceeded.limit, "quota": exceeded.what},
    )


def _request_hash(request: CreateEchoRequest) -> str:
    # Without recorded_at when absent: requests from before the field hash as they did.
    body = request.model_dump(mode="json", exclude=None if request.recorded_at else {"recorded_at"})
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _new_record(
    user_id: str,
    echo_id: str,
    request: CreateEchoRequest,
    upload: PendingUpload,
    stored: StoredObject,
    request_hash: str,
) -> EchoRecord:
    created_at = _now_iso()
    return EchoRecord(
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


class UploadService:
    def __init__(
        self,
        settings: Settings,
        echoes: EchoStore,
        uploads: PendingUploads,
        audio: AudioStore,
        upload_limit: UploadLimit,
        presenter: EchoService,
    ) -> None:
        self._settings = settings
        self._echoes = echoes
        self._uploads = uploads
        self._audio = audio
        self._upload_limit = upload_limit
        self._to_echo = presenter.to_echo
        self._staged = StagedAudio(audio, settings.max_audio_bytes)

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
        if request.file_size is not None and request.file_size > limit:  # refused early when declared
            raise ApiError(
                ErrorCode.FILE_TOO_LARGE,
                f"Audio must be at most {limit} bytes",
                {"max_bytes": limit, "file_size": request.file_size},
            )
        self._check_upload_quota(user_id)
        echo_id = str(uuid.uuid4())
        key, upload_key = audio_key(user_id, echo_id, extension), staging_key(user_id, echo_id, extension)
        expires_in = self._settings.upload_url_expires_seconds
        now = int(time.time())
        upload = PendingUpload(
            echo_id, key, content_type, extension, now + self._settings.pending_upload_ttl_seconds, upload_key
        )
        self._reserve(user_id, upload, now)
        target = self._audio.upload_target(upload_key, content_type, expires_in)
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

    def _reserve(self, user_id: str, upload: PendingUpload, now: int) -> None:
        """Take a place among the user's pending uploads (atomic: app/store/uploads.py), then a
        unit of the hourly limit; a request refused or failed after the first gives its place
        back (if that fails too, the place comes free when the upload expires)."""
        try:
            self._uploads.reserve(user_id, upload, self._settings.max_pending_uploads_per_user, now)
        except QuotaExceeded as exceeded:
            raise _quota_error(exceeded) from None
        except ContentionError:
            raise unavailable("Too many concurrent uploads; try again") from None
        try:
            self._upload_limit.take(user_id)  # after validation and quotas: a refused request costs none
        except Exception:
            with deadline.grace(CLEANUP_GRACE_SECONDS):
                try:
                    self._uploads.release(user_id, upload.echo_id)
                except Exception:
                    logger.exception("Pending upload left to expire", extra={"echo_id": upload.echo_id})
            raise

    # --- create ---------------------------------------------------------------------------------

    def create(self, user_id: str, echo_id: str, request: CreateEchoRequest) -> Echo:
        echo_id = parse_echo_id(echo_id)
        request_hash = _request_hash(request)
        # The staged upload's HeadObject beside the first read, one round trip for both: init-upload
        # staged it at staging_key(user, id, extension), and the extension is checked below.
        staged_key = staging_key(user_id, echo_id, request.file_extension)
        try:  # the counters too: an erased account's token is refused (401), not told 404
            (existing, counts, ledger), staged = alongside(
                lambda: self._echoes.creation_state(user_id, echo_id, ledger_key(user_id)),
                lambda: self._audio.inspect(staged_key),
            )
        except ContentionError:
            raise unavailable() from None
        if existing is not None:
            return self._replayed(existing, request_hash)
        upload = pending_in(ledger, echo_id, now=int(time.time()))
        if upload is None:
            raise not_found("Pending upload")
        if request.file_extension != upload.file_extension:
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                "file_extension does not match the initialised upload",
                {"expected": upload.file_extension},
            )
        # The audio is kept (untagged) before the echo exists, never after: if the transaction then
        # fails, it is handed to the lifecycle rule (below, when the failure is certain), whereas an
        # untag failing after the commit would leave an echo whose audio the lifecycle rule deletes.
        stored = self._staged.place(upload, staged)
        record = _new_record(user_id, echo_id, request, upload, stored, request_hash)
        try:
            # The staged object goes beside the transaction: from now on a retry finds the
            # checked copy in the echo's key (StagedAudio.place), whatever the transaction does.
            created, _ = alongside(lambda: self._commit(record, counts), lambda: self._staged.discard(upload))
        except EchoAlreadyExists as race:
            return self._replayed(race.existing, request_hash)
        count("EchoCreated", emotion=created.emotion)
        return self._to_echo(created)

    def _commit(self, record: EchoRecord, counts: dict[str, int]) -> EchoRecord:
        """The create transaction; when it certainly failed, the audio goes back to the lifecycle
        rule. A timeout or a spent deadline leaves the outcome unknown (the transaction may still
        commit), so the audio stays untagged then: re-tagging it could expire a live echo's audio."""
        quota = Quota(self._settings.max_echoes_per_user, self._settings.max_audio_bytes_per_user)
        try:
            return self._echoes.create_echo(record, quota, counts)
        except QuotaExceeded as exceeded:
            self._audio.mark_pending_quietly(record.s3_key)
            raise _quota_error(exceeded) from None
        except UploadNotPending:
            self._release_upload(record)
            raise not_found("Pending upload") from None
        except ContentionError:
            self._release_upload(record)
            raise unavailable("Too many concurrent changes; try again") from None
        # DynamoDB answered and refused (nothing was written), or the account is being erased.
        except (ClientError, ApiError):
            self._release_upload(record)
            raise

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
