"""The echo use cases but uploads (app/uploads.py): read, list, pick at random, edit, delete and
count one user's echoes, each composing the stores and turning their outcomes into API errors."""

import json
import re
import uuid
from dataclasses import replace

from app import deadline
from app.errors import ApiError, ErrorCode, not_found, unavailable
from app.models import (
    Echo,
    EchoPage,
    EchoStats,
    Emotion,
    Location,
    Selection,
    UpdateEchoRequest,
    iso_millis,
)
from app.observability import count, logger
from app.parallel import alongside
from app.settings import Settings
from app.store.audio import AudioStore
from app.store.cursor import CursorCodec, CursorState, InvalidCursor
from app.store.echoes import EchoStore
from app.store.listing import EchoSlice, PageKey
from app.store.outcomes import ContentionError, VersionMismatch
from app.store.records import ALL, EchoRecord, count_attribute

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


class EchoService:
    def __init__(
        self,
        settings: Settings,
        echoes: EchoStore,
        audio: AudioStore,
        cursors: CursorCodec,
    ) -> None:
        self._settings = settings
        self._echoes = echoes
        self._audio = audio
        self._cursors = cursors

    def to_echo(self, record: EchoRecord, audio_url: str | None = None) -> Echo:
        """AUDIO_URL: the record's playback URL when the caller signed it already (a page's)."""
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
            audio_url=audio_url
            or self._audio.playback_url(record.s3_key, self._settings.audio_url_expires_seconds),
        )

    def _to_echoes(self, records: list[EchoRecord]) -> list[Echo]:
        """A page's echoes, their playback URLs signed together. Above the method `list`: below
        it, that name is the method, not the type, in annotations."""
        keys = [record.s3_key for record in records]
        urls = self._audio.playback_urls(keys, self._settings.audio_url_expires_seconds)
        return [self.to_echo(record, url) for record, url in zip(records, urls, strict=True)]

    # --- reads and delete -----------------------------------------------------------------------

    def get(self, user_id: str, echo_id: str) -> Echo:
        try:
            record = self._echoes.live_echo(user_id, parse_echo_id(echo_id))
        except ContentionError:  # the read kept being throttled
            raise unavailable() from None
        if record is None:
            raise not_found()
        return self.to_echo(record)

    def random(self, user_id: str, emotion: str | None) -> Echo:
        record = self._echoes.random_echo(user_id, emotion)
        if record is None:
            raise not_found("Matching echo")
        return self.to_echo(record)

    def delete(self, user_id: str, echo_id: str) -> None:
        echo_id = parse_echo_id(echo_id)
        try:
            known = self._echoes.echo_and_counts(user_id, echo_id)
        except ContentionError:
            raise unavailable() from None
        existing = known[0]
        if existing is None:
            raise not_found()
        # The audio is handed to the lifecycle rule (tagged pending) before the echo goes: if the
        # request stops anywhere after the echo is gone, S3 still removes the audio. If the echo
        # turns out to remain, its audio is kept again (_keep_audio_if_echo_remains). Its versions
        # are listed meanwhile (a tag adds no version, and nothing else writes an echo's key).
        try:
            _, versions = alongside(
                lambda: self._audio.mark_pending(existing.s3_key),
                lambda: self._listed_quietly(existing.s3_key),
            )
            record = self._echoes.delete_echo(user_id, echo_id, known)
        except ContentionError:
            self._keep_audio_if_echo_remains(existing)
            raise unavailable("Too many concurrent changes; try again") from None
        except Exception:
            self._keep_audio_if_echo_remains(existing)
            raise
        if record is None:  # deleted by a concurrent request, which also removes the audio
            raise not_found()
        self._remove_audio(record.s3_key, versions)
        count("EchoDeleted", emotion=record.emotion)

    def _listed_quietly(self, key: str) -> list[dict[str, str]] | None:
        """KEY's versions, or None if the listing failed: a delete does not fail for it."""
        try:
            return self._audio.versions_of(key)
        except Exception:
            logger.warning("Audio versions not listed: listed again after the delete", extra={"s3_key": key})
            return None

    def _remove_audio(self, key: str, listed: list[dict[str, str]] | None) -> None:
        """Once the echo is gone: every version of its audio (LISTED, or listed now if that
        failed). Best effort: the audio is tagged pending already, and S3 expires it."""
        try:
            self._audio.delete_versions(key, self._audio.versions_of(key) if listed is None else listed)
        except Exception:
            logger.exception("Audio left to the lifecycle rule", extra={"s3_key": key})
            count("AudioLeftPending")

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
        return self.to_echo(record)

    def stats(self, user_id: str) -> EchoStats:
        """Three reads at once whatever the number of echoes: the counters (which refuse an erased
        account's token), and each end of the index (this thread runs one end, two workers the
        other end and the counters: no worker waits for another)."""
        (first, last), counts = alongside(
            lambda: self._echoes.oldest_and_newest(user_id), lambda: self._echoes.counts(user_id)
        )
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
        """A page of the selection, newest first: after `cursor` (one page of reads wherever it
        points) or at offset `page` (reads the pages before it)."""
        _check_selection(selection)
        scope = _cursor_scope(user_id, selection, page_size)
        start: PageKey | None = None
        if cursor:
            page, start = self._decode_cursor(scope, cursor)
        elif page > 1:
            _check_offset(page, page_size)
        # The counters with the page, always: they refuse an erased account's token (401), which
        # a listing by tag or dates, which has no count to show, would otherwise answer.
        found, total = self._page_and_total(user_id, selection, page, page_size, start)
        next_cursor = None
        if found is not None and found.next_key is not None:
            next_cursor = self._cursors.encode(
                scope, CursorState(page + 1, found.next_key.created_at, found.next_key.echo_id)
            )
        return EchoPage(
            echoes=self._to_echoes(found.records) if found else [],
            # No counter keeps date or tag ranges; counting them would read every match.
            total_count=None if _ranged(selection) else total,
            page=page,
            page_size=page_size,
            has_more=next_cursor is not None,
            next_cursor=next_cursor,
        )

    def _decode_cursor(self, scope: str, cursor: str) -> tuple[int, PageKey]:
        try:
            state = self._cursors.decode(scope, cursor)
        except InvalidCursor as exc:
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                "Invalid cursor: it must come from next_cursor of the same query",
                {"reason": str(exc)},
            ) from None
        return state.page, PageKey(state.created_at, state.echo_id)

    def _page_and_total(
        self, user_id: str, selection: Selection, page: int, page_size: int, start: PageKey | None
    ) -> tuple[EchoSlice | None, int]:
        """The page after START (a cursor's position), or without one page PAGE by offset, which
        reads the pages before it (kept for compatibility; None past the last echo); and the
        selection's counter."""
        if start is not None or page == 1:
            return self._echoes.page_and_count(user_id, selection, page_size, start)
        skipped, total = self._echoes.page_and_count(user_id, selection, (page - 1) * page_size, None)
        if skipped.next_key is None:
            return None, total
        return self._echoes.newest_first(user_id, selection, page_size, skipped.next_key), total


def _check_selection(selection: Selection) -> None:
    if selection.tag is not None and selection.emotion is not None:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            "Filter by emotion or by tag, not both: each is served by its own index",
            {"supported": ["emotion + from/to", "tag + from/to"]},
        )
    if selection.since and selection.until and selection.since >= selection.until:
        raise ApiError(ErrorCode.VALIDATION_ERROR, "'from' must be before 'to'")


def _check_offset(page: int, page_size: int) -> None:
    offset = (page - 1) * page_size
    if offset > MAX_OFFSET:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"page={page} with page_size={page_size} skips {offset} echoes, more than {MAX_OFFSET}: "
            "follow next_cursor instead, which reads one page wherever it points",
            {"max_offset": MAX_OFFSET, "offset": offset, "use": "cursor"},
        )


def _ranged(selection: Selection) -> bool:
    return selection.tag is not None or selection.since is not None or selection.until is not None


def _cursor_scope(user_id: str, selection: Selection, page_size: int) -> str:
    """What a cursor is bound to: the user, the emotion filter, the page size, and with a tag or
    dates the whole query."""
    scope = f"{user_id}|{selection.emotion or ''}|{page_size}"
    if _ranged(selection):
        scope += "|" + json.dumps([selection.tag, selection.since, selection.until])
    return scope
