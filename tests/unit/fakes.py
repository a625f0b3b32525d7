"""In-memory stand-ins for the stores the services are built with (app/main.py wires the real ones),
so that tests/unit runs the services' own code, every branch of it, in milliseconds.

Each fake keeps its store's contract, the one tests/api proves on DynamoDB Local and moto: the same
methods, the same outcomes (None for absent, EchoAlreadyExists, UploadNotPending, VersionMismatch,
QuotaExceeded, 401 for an erased account's counters) and the same state afterwards (an echo's
counters and slots, the ledger of pending uploads, the audio's pending tag). What they leave out is
how: no transactions, no retries, no round trips. A test makes a call fail the way AWS can with
`fail(name, error)`, either before the call changes anything (a refusal: the outcome is certain) or,
with `after=True`, once it has (a lost response: the outcome is unknown to the caller).
"""

import itertools
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any, cast

from app.errors import ApiError, ErrorCode, account_erased
from app.models import Selection
from app.service import EchoService
from app.settings import Settings
from app.store.audio import AudioStore, StoredObject, UploadTarget, audio_key
from app.store.cursor import CursorCodec
from app.store.echoes import EchoStore
from app.store.limits import UploadLimit
from app.store.listing import EchoSlice, PageKey
from app.store.outcomes import (
    EchoAlreadyExists,
    Quota,
    QuotaExceeded,
    UploadNotPending,
    VersionMismatch,
    check_quota,
)
from app.store.records import ALL, BYTES_ATTRIBUTE, EchoRecord, Item, PendingUpload, count_attribute
from app.store.uploads import COUNT_ATTRIBUTE, PendingUploads, entry_name, ledger_key
from app.uploads import UploadService
from tests.support import VALID


@dataclass(frozen=True)
class _Fault:
    error: BaseException
    after: bool  # the call takes effect, then its caller sees the error


class Faults:
    """Failures a test arranges for the next calls of a fake's methods, one call each."""

    def __init__(self) -> None:
        self._faults: dict[str, list[_Fault]] = {}
        self.calls: list[str] = []

    def fail(self, name: str, error: BaseException, after: bool = False, times: int = 1) -> None:
        self._faults.setdefault(name, []).extend([_Fault(error, after)] * times)

    def _call[T](self, name: str, effect: Callable[[], T]) -> T:
        self.calls.append(name)
        queued = self._faults.get(name)
        fault = queued.pop(0) if queued else None
        if fault is not None and not fault.after:
            raise fault.error
        result = effect()
        if fault is not None:
            raise fault.error
        return result


class FakePendingUploads(Faults):
    """PendingUploads: the ledger of upload URLs handed out and not yet used, per user."""

    def __init__(self) -> None:
        super().__init__()
        self.ledgers: dict[str, dict[str, PendingUpload]] = {}

    def reserve(self, user_id: str, upload: PendingUpload, limit: int, now: int) -> None:
        def effect() -> None:
            ledger = self.ledgers.setdefault(user_id, {})
            live = {echo_id: entry for echo_id, entry in ledger.items() if entry.expires_at > now}
            if len(live) >= limit:
                raise QuotaExceeded("uploads", limit)
            self.ledgers[user_id] = live | {upload.echo_id: upload}  # expired places are reused

        self._call("reserve", effect)

    def release(self, user_id: str, echo_id: str) -> None:
        self._call("release", lambda: self.ledgers.get(user_id, {}).pop(echo_id, None))

    def ledger_item(self, user_id: str) -> Item | None:
        """The ledger as the echo store reads it (creation_state): one item, or None."""
        ledger = self.ledgers.get(user_id)
        if not ledger:
            return None
        entries = {entry_name(echo_id): upload.to_entry() for echo_id, upload in ledger.items()}
        return ledger_key(user_id) | entries | {COUNT_ATTRIBUTE: {"N": str(len(ledger))}}


class FakeEchoStore(Faults):
    """EchoStore: the echoes by user, with the counters and slots each write keeps (total, per
    emotion, bytes; slots 1..n) derived from them, and an account's erased marker, which makes
    every read of the counters refuse the token (401) as the real counters item does."""

    def __init__(
        self, uploads: FakePendingUploads | None = None, randbelow: Callable[[int], int] | None = None
    ):
        super().__init__()
        self.echoes: dict[str, dict[str, EchoRecord]] = {}
        self.erased: set[str] = set()
        self.uploads = uploads or FakePendingUploads()
        self._randbelow = randbelow or (lambda _n: 0)

    # --- helpers for tests --------------------------------------------------------------------

    def put(self, record: EchoRecord) -> EchoRecord:
        """Store RECORD as a create would (its slots the next ones), bypassing quotas and uploads."""
        mine = self.echoes.setdefault(record.user_id, {})
        in_emotion = sum(1 for echo in mine.values() if echo.emotion == record.emotion)
        slotted = replace(record, slot=len(mine) + 1, emotion_slot=in_emotion + 1)
        mine[record.echo_id] = slotted
        return slotted

    # --- reads --------------------------------------------------------------------------------

    def _counts(self, user_id: str) -> dict[str, int]:
        if user_id in self.erased:
            raise account_erased()
        mine = list(self.echoes.get(user_id, {}).values())
        counts = {count_attribute(ALL): len(mine)} if mine else {}
        for echo in mine:
            counts[count_attribute(echo.emotion)] = counts.get(count_attribute(echo.emotion), 0) + 1
        used = sum(echo.file_size for echo in mine if not echo.legacy)  # a legacy echo's never added
        return counts | ({BYTES_ATTRIBUTE: used} if mine else {})

    def get_echo(self, user_id: str, echo_id: str, consistent: bool = False) -> EchoRecord | None:
        del consistent  # every read of the fake is consistent
        return self._call("get_echo", lambda: self.echoes.get(user_id, {}).get(echo_id))

    def echo_and_counts(self, user_id: str, echo_id: str) -> tuple[EchoRecord | None, dict[str, int]]:
        def effect() -> tuple[EchoRecord | None, dict[str, int]]:
            counts = self._counts(user_id)  # first: an erased account's echo is no answer either
            return self._echo(user_id, echo_id), counts

        return self._call("echo_and_counts", effect)

    def _echo(self, user_id: str, echo_id: str) -> EchoRecord | None:
        return self.echoes.get(user_id, {}).get(echo_id)

    def live_echo(self, user_id: str, echo_id: str) -> EchoRecord | None:

        def effect() -> EchoRecord | None:
            self._counts(user_id)  # an erased account's echo is no answer either
            return self._echo(user_id, echo_id)

        return self._call("live_echo", effect)

    def creation_state(
        self, user_id: str, echo_id: str, ledger: Item
    ) -> tuple[EchoRecord | None, dict[str, int], Item | None]:
        def effect() -> tuple[EchoRecord | None, dict[str, int], Item | None]:
            counts = self._counts(user_id)
            held = self.uploads.ledger_item(user_id) if ledger == ledger_key(user_id) else None
            return self._echo(user_id, echo_id), counts, held

        return self._call("creation_state", effect)

    def page_and_count(
        self, user_id: str, selection: Selection, limit: int, start: PageKey | None
    ) -> tuple[EchoSlice, int]:
        def effect() -> tuple[EchoSlice, int]:
            total = self._counts(user_id).get(count_attribute(selection.emotion or ALL), 0)
            return self._newest_first(user_id, selection, limit, start), total

        return self._call("page_and_count", effect)

    def counts(self, user_id: str) -> dict[str, int]:
        return self._call("counts", lambda: self._counts(user_id))

    def oldest_and_newest(self, user_id: str) -> tuple[str | None, str | None]:
        def effect() -> tuple[str | None, str | None]:
            created = sorted(echo.created_at for echo in self.echoes.get(user_id, {}).values())
            return (created[0], created[-1]) if created else (None, None)

        return self._call("oldest_and_newest", effect)

    def random_echo(self, user_id: str, emotion: str | None = None) -> EchoRecord | None:
        """The echo in slot randbelow(n) + 1 of the group, as the slot items name them."""

        def effect() -> EchoRecord | None:
            group = [
                echo for echo in self.echoes.get(user_id, {}).values() if emotion in (None, echo.emotion)
            ]
            if not group:
                return None
            by_slot = {echo.emotion_slot if emotion else echo.slot: echo for echo in group}
            return by_slot[self._randbelow(len(group)) + 1]

        return self._call("random_echo", effect)

    def newest_first(
        self, user_id: str, selection: Selection, limit: int, start: PageKey | None
    ) -> EchoSlice:
        return self._call("newest_first", lambda: self._newest_first(user_id, selection, limit, start))

    def _newest_first(
        self, user_id: str, selection: Selection, limit: int, start: PageKey | None
    ) -> EchoSlice:
        """Newest first by (created_at, echo_id); since inclusive, until exclusive, after START."""
        found = sorted(
            (echo for echo in self.echoes.get(user_id, {}).values() if _selected(echo, selection)),
            key=lambda echo: (echo.created_at, echo.echo_id),
            reverse=True,
        )
        if start is not None:
            found = [
                echo for echo in found if (echo.created_at, echo.echo_id) < (start.created_at, start.echo_id)
            ]
        page = found[:limit]
        more = len(found) > limit
        return EchoSlice(page, PageKey(page[-1].created_at, page[-1].echo_id) if more else None)

    # --- writes -------------------------------------------------------------------------------

    def create_echo(
        self, record: EchoRecord, quota: Quota | None = None, counts: dict[str, int] | None = None
    ) -> EchoRecord:
        """Quota first (from the counters), then the echo must be new and its upload pending; the
        upload leaves the ledger with the echo's creation."""
        del counts  # the real store's first attempt starts from them; the fake reads the same now

        def effect() -> EchoRecord:
            now = self._counts(record.user_id)
            if quota is not None:
                check_quota(record, now.get(count_attribute(ALL), 0), now.get(BYTES_ATTRIBUTE, 0), quota)
            existing = self._echo(record.user_id, record.echo_id)
            if existing is not None:
                raise EchoAlreadyExists(existing)
            if record.echo_id not in self.uploads.ledgers.get(record.user_id, {}):
                raise UploadNotPending(record.echo_id)
            del self.uploads.ledgers[record.user_id][record.echo_id]
            return self.put(record)

        return self._call("create_echo", effect)

    def delete_echo(self, user_id: str, echo_id: str, known: Any = None) -> EchoRecord | None:
        """Remove the echo; the last echo of each of its groups takes its slots (they stay 1..n)."""
        del known  # as for create_echo's counts

        def effect() -> EchoRecord | None:
            self._counts(user_id)
            mine = self.echoes.get(user_id, {})
            gone = mine.pop(echo_id, None)
            if gone is not None:
                _fill_slot(mine, gone.slot, "slot", lambda _echo: True)
                _fill_slot(mine, gone.emotion_slot, "emotion_slot", lambda echo: echo.emotion == gone.emotion)
            return gone

        return self._call("delete_echo", effect)

    def update_echo(
        self,
        user_id: str,
        echo_id: str,
        change: Callable[[EchoRecord], EchoRecord],
        expected_versions: Collection[int] | None = None,
    ) -> EchoRecord | None:
        def effect() -> EchoRecord | None:
            self._counts(user_id)
            current = self._echo(user_id, echo_id)
            if current is None:
                return None
            if expected_versions is not None and current.version not in expected_versions:
                raise VersionMismatch(current)
            updated = replace(change(current), version=current.version + 1, stored_doc="", legacy=False)
            if updated.emotion != current.emotion:  # the last slot of its new emotion
                in_new = sum(1 for echo in self.echoes[user_id].values() if echo.emotion == updated.emotion)
                updated = replace(updated, emotion_slot=in_new + 1)
                mine = self.echoes[user_id]
                del mine[echo_id]
                _fill_slot(
                    mine, current.emotion_slot, "emotion_slot", lambda echo: echo.emotion == current.emotion
                )
            self.echoes[user_id][echo_id] = updated
            return updated

        return self._call("update_echo", effect)


def _fill_slot(
    mine: dict[str, EchoRecord], freed: int, field: str, in_group: Callable[[EchoRecord], bool]
) -> None:
    """The group's last echo takes the slot FREED (unless it was the last): slots stay 1..n."""
    group = [echo for echo in mine.values() if in_group(echo)]
    last = max(group, key=lambda echo: getattr(echo, field), default=None)
    if last is not None and getattr(last, field) > freed:
        mine[last.echo_id] = (
            replace(last, slot=freed) if field == "slot" else replace(last, emotion_slot=freed)
        )


def _selected(echo: EchoRecord, selection: Selection) -> bool:
    return (
        (selection.emotion is None or echo.emotion == selection.emotion)
        and (selection.tag is None or selection.tag in echo.tags)
        and (selection.since is None or echo.created_at >= selection.since)
        and (selection.until is None or echo.created_at < selection.until)
    )


@dataclass
class FakeObject:
    size: int
    content_type: str
    etag: str
    pending: bool  # tagged for the lifecycle rule, which expires it
    versions: int = 1  # the bucket is versioned: what delete_versions must remove


class FakeAudioStore(Faults):
    """AudioStore: the bucket's current objects with their pending tag and version count."""

    bucket = "fake-bucket"

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, FakeObject] = {}
        self.hidden: dict[str, FakeObject] = {}  # behind a delete marker: older versions remain
        self._etags = itertools.count(1)

    def upload(self, key: str, size: int, content_type: str) -> None:
        """What a client's PUT to a presigned URL does: new bytes, a new ETag, no tags."""
        previous = self.objects.get(key)
        versions = previous.versions + 1 if previous else 1
        self.objects[key] = FakeObject(size, content_type, f'"{next(self._etags)}"', False, versions)

    def s3_url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def playback_url(self, key: str, expires_in: int) -> str:
        return f"https://{self.bucket}.example/{key}?X-Amz-Expires={expires_in}"

    def playback_urls(self, keys: list[str], expires_in: int) -> list[str]:
        return [self.playback_url(key, expires_in) for key in keys]

    def upload_target(self, key: str, content_type: str, expires_in: int) -> UploadTarget:
        return self._call(
            "upload_target",
            lambda: UploadTarget(
                f"https://{self.bucket}.example/{key}?X-Amz-Expires={expires_in}",
                {"Content-Type": content_type},
            ),
        )

    def inspect(self, key: str) -> StoredObject | None:
        def effect() -> StoredObject | None:
            found = self.objects.get(key)
            return StoredObject(found.size, found.content_type, found.etag) if found else None

        return self._call("inspect", effect)

    def copy_verified(self, source: str, target: str, etag: str) -> bool:
        def effect() -> bool:
            found = self.objects.get(source)
            if found is None or found.etag != etag or target in self.objects:
                return False
            self.objects[target] = replace(found, pending=False, versions=1)
            return True

        return self._call("copy_verified", effect)

    def _tag(self, key: str, pending: bool) -> None:
        if key not in self.objects:  # S3 answers NoSuchKey
            raise KeyError(key)
        self.objects[key].pending = pending

    def mark_kept(self, key: str) -> None:
        self._call("mark_kept", lambda: self._tag(key, pending=False))

    def mark_pending(self, key: str) -> None:
        self._call("mark_pending", lambda: self._tag(key, pending=True))

    def mark_pending_quietly(self, key: str) -> None:
        try:
            self.mark_pending(key)
        except KeyError:  # absent (S3's NoSuchKey): nothing to hand to the lifecycle rule
            pass
        except Exception:  # the real one logs it and counts OrphanedAudio
            self.calls.append("mark_pending_quietly failed")

    def delete(self, key: str) -> None:
        def effect() -> None:
            if key in self.objects:
                self.hidden[key] = self.objects.pop(key)

        self._call("delete", effect)

    def _version_count(self, key: str) -> int:
        return sum(found.versions for found in (self.objects.get(key), self.hidden.get(key)) if found)

    def versions_of(self, key: str) -> list[dict[str, str]]:
        def effect() -> list[dict[str, str]]:
            return [{"Key": key, "VersionId": str(number)} for number in range(self._version_count(key))]

        return self._call("versions_of", effect)

    def delete_versions(self, key: str, versions: list[dict[str, str]]) -> None:
        def effect() -> None:
            if len(versions) >= self._version_count(key):  # all of them: the key is gone
                self.objects.pop(key, None)
                self.hidden.pop(key, None)

        self._call("delete_versions", effect)


class FakeUploadLimit(Faults):
    """UploadLimit: PER_HOUR upload URLs per user (one window: the tests' hour never ends)."""

    def __init__(self, per_hour: int = 60) -> None:
        super().__init__()
        self.per_hour = per_hour
        self.taken: dict[str, int] = {}

    def take(self, user_id: str) -> None:
        def effect() -> None:
            if self.taken.get(user_id, 0) >= self.per_hour:
                raise ApiError(
                    ErrorCode.RATE_LIMIT_EXCEEDED,
                    f"At most {self.per_hour} uploads may be started per hour",
                    {"limit": self.per_hour},
                    headers={"Retry-After": "60"},
                )
            self.taken[user_id] = self.taken.get(user_id, 0) + 1

        self._call("take", effect)


# --- the services over the fakes, wired as app/main.py wires them over the real stores -----------

USER = "11111111-2222-3333-4444-555555555555"
OTHER_USER = "99999999-8888-7777-6666-555555555555"


def settings(**values: object) -> Settings:
    return Settings.model_validate({name.lower(): value for name, value in VALID.items()} | values)


def echo_record(
    number: int, user_id: str = USER, emotion: str = "joy", tags: tuple[str, ...] = (), file_size: int = 100
) -> EchoRecord:
    """The NUMBER-th echo: created NUMBER minutes into the day, with a stable id."""
    echo_id = str(uuid.UUID(int=number))
    created_at = f"2026-01-01T{number // 60:02d}:{number % 60:02d}:00.000Z"
    return EchoRecord(
        echo_id=echo_id,
        user_id=user_id,
        emotion=emotion,
        created_at=created_at,
        recorded_at=created_at,
        s3_key=audio_key(user_id, echo_id, "webm"),
        file_extension="webm",
        file_size=file_size,
        content_type="audio/webm",
        tags=tags,
        transcript=None,
        detected_mood=None,
        duration_seconds=None,
        location=None,
    )


@dataclass
class Services:
    """The three services over one set of fakes."""

    settings: Settings = field(default_factory=settings)
    uploads: FakePendingUploads = field(default_factory=FakePendingUploads)
    audio: FakeAudioStore = field(default_factory=FakeAudioStore)
    limit: FakeUploadLimit = field(default_factory=FakeUploadLimit)
    randbelow: Callable[[int], int] = lambda _n: 0

    def __post_init__(self) -> None:
        self.store = FakeEchoStore(self.uploads, self.randbelow)
        self.cursors = CursorCodec(lambda: b"k" * 32)
        # The fakes stand in for the stores (tests/unit/test_fakes.py holds them to their signatures).
        store, audio = cast(EchoStore, self.store), cast(AudioStore, self.audio)
        self.echoes = EchoService(self.settings, store, audio, self.cursors)
        uploads, limit = cast(PendingUploads, self.uploads), cast(UploadLimit, self.limit)
        self.upload = UploadService(self.settings, store, uploads, audio, limit, self.echoes)

    def add(self, record: EchoRecord) -> EchoRecord:
        """An echo as a create leaves it: stored, with its audio kept."""
        self.audio.upload(record.s3_key, record.file_size, record.content_type)
        return self.store.put(record)
