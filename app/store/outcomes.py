"""What a write to one user's echoes can come to besides success, and the quota it checks."""

from dataclasses import dataclass

from app.store.records import EchoRecord


class EchoAlreadyExists(Exception):
    def __init__(self, existing: EchoRecord) -> None:
        super().__init__(existing.echo_id)
        self.existing = existing


class UploadNotPending(Exception):
    """The pending upload record vanished (used by a concurrent create, or expired)."""


class ContentionError(Exception):
    """Concurrent writers on one user's items kept winning until the request's budget ran out."""


class QuotaExceeded(Exception):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(what)
        self.what = what
        self.limit = limit


class VersionMismatch(Exception):
    """PATCH's If-Match named a version the echo no longer has."""

    def __init__(self, current: EchoRecord) -> None:
        super().__init__(current.echo_id)
        self.current = current


@dataclass(frozen=True)
class Quota:
    max_echoes: int
    max_bytes: int


def check_quota(record: EchoRecord, total: int, used_bytes: int, quota: Quota) -> None:
    """From the counters create has just read: no extra request. Exact under races, because every
    create and delete conditions on the total it read and changes it with the bytes."""
    if total >= quota.max_echoes:
        raise QuotaExceeded("echoes", quota.max_echoes)
    if used_bytes + record.file_size > quota.max_bytes:
        raise QuotaExceeded("bytes", quota.max_bytes)
