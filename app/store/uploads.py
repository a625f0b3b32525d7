"""The pending-upload ledger: one item per user (pk=USER#<sub>, sk=UPLOADS) holding every upload
URL handed out and not yet used, so that the pending-upload quota holds under concurrency (issue 22,
finding 3: counting the records, then inserting one, let 40 parallel requests all through).

  u_<echo id>  the upload (PendingUpload: key, media type, extension, expires_at), a map
  n            the number of u_ attributes: every write changes both, in one request
  expires_at   the newest upload's expiry: TTL removes a ledger once all its uploads have expired

init-upload adds an upload with one conditional UpdateItem (n under the limit). DynamoDB applies the
writes to one item one at a time, so concurrent requests cannot overshoot, and no read comes first.
An upload leaves the ledger when create uses it (in create's transaction), when the init-upload that
added it fails afterwards (released), or, once expired, when a new upload needs its place. Expiry is
read from the entries, not left to TTL, which deletes lazily (within days) and whole items only.
"""

import contextlib
from typing import Any

from botocore.exceptions import ClientError

from app.store.outcomes import ContentionError, QuotaExceeded
from app.store.records import UPLOADS_SK, Item, PendingUpload, key
from app.store.retry import Backoff

COUNT_ATTRIBUTE = "n"
ENTRY_PREFIX = "u_"
_CONDITION_FAILED = "ConditionalCheckFailedException"
# A plain write to an item that a transaction in flight is writing (create's use of an upload).
_TRANSACTION_CONFLICT = "TransactionConflictException"


def entry_name(echo_id: str) -> str:
    return ENTRY_PREFIX + echo_id


def ledger_key(user_id: str) -> Item:
    return key(user_id, UPLOADS_SK)


def entries(ledger: Item | None) -> dict[str, PendingUpload]:
    """The uploads a ledger item holds, by echo id (expired ones included)."""
    return {
        name.removeprefix(ENTRY_PREFIX): PendingUpload.from_entry(name.removeprefix(ENTRY_PREFIX), value)
        for name, value in (ledger or {}).items()
        if name.startswith(ENTRY_PREFIX)
    }


def pending_in(ledger: Item | None, echo_id: str, now: int) -> PendingUpload | None:
    """The upload of ECHO_ID in LEDGER (a ledger item as read) if it is there and not expired by NOW."""
    upload = entries(ledger).get(echo_id)
    return upload if upload is not None and upload.expires_at > now else None


def consume_operation(table: str, user_id: str, echo_id: str) -> dict[str, Any]:
    """The transaction item by which create uses the upload: it must still be in the ledger."""
    return {
        "Update": {
            "TableName": table,
            "Key": ledger_key(user_id),
            "UpdateExpression": "REMOVE #u ADD #n :minus_one",
            "ConditionExpression": "attribute_exists(#u)",
            "ExpressionAttributeNames": {"#u": entry_name(echo_id), "#n": COUNT_ATTRIBUTE},
            "ExpressionAttributeValues": {":minus_one": {"N": "-1"}},
        }
    }


class _Refused(Exception):
    """The ledger did not hold what the write was conditioned on."""


class _Conflict(Exception):
    """A transaction was writing the ledger at the same moment: try again."""


class PendingUploads:
    def __init__(self, client: Any, table_name: str, backoff: Backoff | None = None) -> None:
        self._client = client
        self._table = table_name
        self._backoff = backoff or Backoff()

    def reserve(self, user_id: str, upload: PendingUpload, limit: int, now: int) -> None:
        """Add UPLOAD if fewer than LIMIT live uploads are pending, or raise QuotaExceeded. One
        write while there is room; at the limit, read the ledger and, if some of its uploads have
        expired by NOW, remove them in the write that adds this one."""
        for _ in self._backoff.attempts():
            try:
                self._add(user_id, upload, limit)
                return
            except _Conflict:
                continue
            except _Refused:
                pass
            ledger = self._read(user_id)
            held = int(ledger[COUNT_ATTRIBUTE]["N"]) if ledger else 0
            expired = [echo_id for echo_id, entry in entries(ledger).items() if entry.expires_at <= now]
            if held - len(expired) >= limit:
                raise QuotaExceeded("uploads", limit)
            try:
                self._add(user_id, upload, limit, replacing=(held, expired))
                return
            except (_Refused, _Conflict):  # the ledger changed since it was read
                continue
        raise ContentionError(user_id)

    def release(self, user_id: str, echo_id: str) -> None:
        """Give back the place of an upload that will not be used (no-op once it is gone)."""
        with contextlib.suppress(_Refused):
            self._update(consume_operation(self._table, user_id, echo_id)["Update"])

    def _read(self, user_id: str) -> Item | None:
        item: Item | None = self._client.get_item(
            TableName=self._table, Key=ledger_key(user_id), ConsistentRead=True
        ).get("Item")
        return item

    def _add(
        self, user_id: str, upload: PendingUpload, limit: int, replacing: tuple[int, list[str]] | None = None
    ) -> None:
        """Add UPLOAD while n < LIMIT; or, REPLACING (n as read, expired echo ids), if n still is
        what was read and every expired upload is still there, remove those in the same write."""
        names = {"#u": entry_name(upload.echo_id), "#n": COUNT_ATTRIBUTE}
        values: dict[str, dict[str, Any]] = {
            ":entry": upload.to_entry(),
            ":expires": {"N": str(upload.expires_at)},
        }
        expression = "SET #u = :entry, expires_at = :expires"
        conditions = ["attribute_not_exists(#u)"]
        if replacing is None:
            conditions.append("(attribute_not_exists(#n) OR #n < :limit)")
            values |= {":limit": {"N": str(limit)}, ":add": {"N": "1"}}
        else:
            held, expired = replacing
            removed = {f"#x{i}": entry_name(echo_id) for i, echo_id in enumerate(expired)}
            names |= removed
            if removed:
                expression += " REMOVE " + ", ".join(removed)
            conditions += ["#n = :held", *(f"attribute_exists({name})" for name in removed)]
            values |= {":held": {"N": str(held)}, ":add": {"N": str(1 - len(expired))}}
        self._update(
            {
                "TableName": self._table,
                "Key": ledger_key(user_id),
                "UpdateExpression": expression + " ADD #n :add",
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        )

    def _update(self, request: dict[str, Any]) -> None:
        try:
            self._client.update_item(**request)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == _CONDITION_FAILED:
                raise _Refused() from None
            if code == _TRANSACTION_CONFLICT:
                raise _Conflict() from None
            raise
