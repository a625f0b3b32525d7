"""Erasing a whole account: every item of the user's partition, every version of every audio
object under the user's prefix, and finally the Cognito user.

Each step is idempotent and the steps run in an order that a repetition can always resume:
1. the counters item is marked erased (no create can commit afterwards: creates condition on it),
2. every object version and delete marker under audio/<sub>/ and uploads/<sub>/ (the staging
   prefix) is deleted (a plain DeleteObject on a versioned bucket only adds a delete marker: that
   is not erasure),
3. every item of pk=USER#<sub> except the marker is deleted (echoes, slots, tag items, uploads),
4. the Cognito user is deleted (then the caller's BEFORE_DONE: in Lambda, the first sweep queued),
5. the marker keeps only what refuses the old token until it expires (no counts, no content).
Afterwards, `sweep` deletes step 2's objects again: uploads that landed since (app/sweep.py).
A pass starts no round after its stop time and reports how far it got; the next pass continues
from there.

One chain of passes at a time per account: a pass holds a lease in the marker (the chain's id and
an expiry) from its first write to its last, renewed by every pass of its chain. A pass of another
chain finds the lease held and does nothing (ErasureUnderWay); a chain that stops releases it, and
one that dies lets it expire.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from app import deadline
from app.errors import THROTTLING_CODES, account_erased
from app.store.audio import AUDIO_PREFIX, STAGING_PREFIX
from app.store.records import COUNTS_SK, ERASED_ATTRIBUTE, Item, counters_index_keys, key, user_pk
from app.store.retry import Backoff

# DynamoDB's and S3's batch limits.
DYNAMODB_BATCH = 25
S3_BATCH = 1000
# Parallel batch deletes: the items share one partition key, so more writers mostly add throttling.
WORKERS = 8
# Items read and deleted per round: about a second of writes at one partition key's limit.
ITEMS_PER_ROUND = 1000
# Time kept after a pass's budget for its last round to finish, the marker, AdminDeleteUser and
# the answer.
RESERVE_SECONDS = 3.0
PHASE_ATTRIBUTE = "erasure_phase"
LEASE_OWNER_ATTRIBUTE = "erasure_chain"
LEASE_UNTIL_ATTRIBUTE = "erasure_lease_until"


class ErasureUnderWay(Exception):
    """Another chain holds the account's erasure lease: it is erasing, this pass need not."""

    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.phase = phase


class LeaseLost(Exception):
    """This chain's lease expired and another chain took it over mid-pass: stop, it goes on."""


# Pauses between BatchWriteItem retries of unprocessed items (full jitter, capped), as the
# BatchWriteItem documentation asks; they stop at the pass's deadline.
UNPROCESSED_BACKOFF = Backoff(base_seconds=0.05, cap_seconds=1.0)


def audio_prefix(user_id: str) -> str:
    return f"{AUDIO_PREFIX}{user_id}/"


def user_prefixes(user_id: str) -> tuple[str, ...]:
    """Where the user's objects are: the echoes' audio, and uploads not yet made into echoes."""
    return audio_prefix(user_id), f"{STAGING_PREFIX}{user_id}/"


def _map_in_context[T, R](
    pool: ThreadPoolExecutor, work: Callable[[T], R], items: Iterable[T]
) -> Iterator[R]:
    """pool.map, each call run in a copy of the caller's context: a worker thread does not inherit
    context variables, and the pass's deadline (app/deadline.py) is one. Without it, the botocore
    hook and the retries in a worker would see no deadline at all."""
    futures = [pool.submit(copy_context().run, work, item) for item in items]
    return (future.result() for future in futures)


@dataclass(frozen=True)
class Lease:
    """A chain's hold on an account's erasure: its id, and until when (epoch seconds)."""

    chain_id: str
    until: float


@dataclass(frozen=True)
class ErasureResult:
    done: bool
    phase: str  # where the pass stopped: "audio", "records", "user" or "done"
    audio_versions_deleted: int
    items_deleted: int


class AccountEraser:
    def __init__(
        self,
        dynamodb: Any,
        s3: Any,
        cognito: Any,
        table: str,
        bucket: str,
        user_pool_id: str,
        counters_in_index: bool = False,
    ) -> None:
        """COUNTERS_IN_INDEX (app/settings.py): the marker keeps the counters' index keys, where a
        list's first page reads it."""
        self._dynamodb = dynamodb
        self._index_keys = counters_index_keys if counters_in_index else lambda _user_id: {}
        self._s3 = s3
        self._cognito = cognito
        self._table = table
        self._bucket = bucket
        self._pool = user_pool_id

    def erase(
        self,
        user_id: str,
        username: str,
        marker_ttl_seconds: int,
        stop_at: float,
        lease: Lease,
        before_done: Callable[[], None] | None = None,
    ) -> ErasureResult:
        """One pass of LEASE's chain: rounds until done or time.monotonic() passes STOP_AT (no round
        starts after it). BEFORE_DONE runs just before the marker says done: if it fails, so does
        the pass, and the next one runs it again. Raises account_erased() if the erasure is already
        complete, ErasureUnderWay if another chain holds the lease, LeaseLost if it was taken over."""
        self._mark(user_id, "audio", lease, claim=True)
        with ThreadPoolExecutor(WORKERS) as pool:
            versions, complete = self._erase_audio(user_id, pool, stop_at)
            if not complete:
                return ErasureResult(False, "audio", versions, 0)
            self._mark(user_id, "records", lease)
            items, complete = self._erase_items(user_id, pool, stop_at)
            if not complete:
                return ErasureResult(False, "records", versions, items)
        self._mark(user_id, "user", lease)
        try:
            self._cognito.admin_delete_user(UserPoolId=self._pool, Username=username)
        except ClientError as error:
            # UserNotFound: an earlier, interrupted pass deleted it already.
            if error.response.get("Error", {}).get("Code") != "UserNotFoundException":
                raise
        if before_done is not None:
            before_done()
        self._finish(user_id, marker_ttl_seconds)
        return ErasureResult(True, "done", versions, items)

    def sweep(self, user_id: str) -> int | None:
        """After a complete erasure: delete every version under the user's prefixes again (uploads
        through a URL granted before the erasure land after it: app/sweep.py). None when the
        account's erasure is not complete: a sweep deletes nothing of a live account."""
        if self._phase(user_id) != "done":
            return None
        batches = list(self._versions(user_id))  # listed first: never page past what is deleted
        return sum(self._delete_versions(batch) for batch in batches)

    # --- the marker ---------------------------------------------------------------------------

    def _mark(self, user_id: str, phase: str, lease: Lease, claim: bool = False) -> None:
        """Record the phase under LEASE: CLAIM takes the lease if it is free or expired (a pass's
        first write; the phase already reached stays), later writes need it still held."""
        now = int(time.time())
        held = "#lo = :me" + (" OR attribute_not_exists(#lo) OR #lu < :now" if claim else "")
        index_keys = self._index_keys(user_id)  # where a list's first page finds the mark
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=key(user_id, COUNTS_SK),
                # No expires_at yet: an unfinished erasure's marker must not expire before it ends.
                UpdateExpression="SET #e = if_not_exists(#e, :now), #p = "
                + ("if_not_exists(#p, :phase)" if claim else ":phase")
                + ", #lo = :me, #lu = :until"
                + "".join(f", {name} = :{name}" for name in index_keys),
                ConditionExpression=f"(attribute_not_exists(#p) OR #p <> :done) AND ({held})",
                ExpressionAttributeNames={
                    "#e": ERASED_ATTRIBUTE,
                    "#p": PHASE_ATTRIBUTE,
                    "#lo": LEASE_OWNER_ATTRIBUTE,
                    "#lu": LEASE_UNTIL_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":now": {"N": str(now)},
                    ":phase": {"S": phase},
                    ":done": {"S": "done"},
                    ":me": {"S": lease.chain_id},
                    ":until": {"N": str(int(lease.until))},
                }
                | {f":{name}": value for name, value in index_keys.items()},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise self._why_refused(user_id, claim) from None
            raise

    def _why_refused(self, user_id: str, claim: bool) -> Exception:
        """After a refused marker write: the erasure is complete, or another chain holds the lease."""
        phase = self._phase(user_id) or "audio"
        if phase == "done":
            return account_erased()
        return ErasureUnderWay(phase) if claim else LeaseLost()

    def _phase(self, user_id: str) -> str | None:
        """The erasure's phase as the marker holds it now (strongly consistent), None if none."""
        item = self._dynamodb.get_item(
            TableName=self._table, Key=key(user_id, COUNTS_SK), ConsistentRead=True
        ).get("Item", {})
        phase = item.get(PHASE_ATTRIBUTE, {}).get("S")
        return None if phase is None else str(phase)

    def release(self, user_id: str, lease: Lease) -> None:
        """Give LEASE up (its chain stopped): the caller's next DELETE starts a chain at once."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=key(user_id, COUNTS_SK),
                UpdateExpression="REMOVE #lo, #lu",
                ConditionExpression="#lo = :me",
                ExpressionAttributeNames={"#lo": LEASE_OWNER_ATTRIBUTE, "#lu": LEASE_UNTIL_ATTRIBUTE},
                ExpressionAttributeValues={":me": {"S": lease.chain_id}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # not ours any more (taken over or finished): nothing to give up

    def _finish(self, user_id: str, ttl_seconds: int) -> None:
        """Replace the counters with a bare marker: it only refuses the old token, then expires."""
        now = int(time.time())
        self._dynamodb.put_item(
            TableName=self._table,
            Item=key(user_id, COUNTS_SK)
            | self._index_keys(user_id)
            | {
                ERASED_ATTRIBUTE: {"N": str(now)},
                PHASE_ATTRIBUTE: {"S": "done"},
                "expires_at": {"N": str(now + ttl_seconds)},
            },
        )

    # --- S3 -------------------------------------------------------------------------------------

    def _versions(self, user_id: str) -> Iterator[list[dict[str, str]]]:
        """Pages of (key, version id) under the user's prefixes: versions and delete markers alike."""
        paginator = self._s3.get_paginator("list_object_versions")
        for prefix in user_prefixes(user_id):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                found = [
                    {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                    for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                ]
                for start in range(0, len(found), S3_BATCH):
                    yield found[start : start + S3_BATCH]

    def _erase_audio(self, user_id: str, pool: ThreadPoolExecutor, stop_at: float) -> tuple[int, bool]:
        """Rounds of: list up to WORKERS batches from the start of the prefix, delete them in
        parallel, check the time. A round's work is bounded, so a pass ends close to its budget;
        and a listing never pages past entries being deleted (moto's ListObjectVersions fails on
        a marker whose key is gone; S3 does not). (versions deleted, all of them?)"""
        deleted = 0
        while True:
            batches = []
            for batch in self._versions(user_id):  # up to WORKERS pages, while time remains
                batches.append(batch)
                if len(batches) == WORKERS or time.monotonic() >= stop_at:
                    break
            if not batches:
                return deleted, True
            deleted += sum(_map_in_context(pool, self._delete_versions, batches))
            if time.monotonic() >= stop_at:
                return deleted, False

    def _delete_versions(self, batch: list[dict[str, str]]) -> int:
        response = self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True})
        errors = response.get("Errors", [])
        if errors:  # e.g. SlowDown on some keys: the next pass lists them again
            raise _per_key_failure(errors)
        return len(batch)

    # --- DynamoDB -------------------------------------------------------------------------------

    def _item_keys(self, user_id: str) -> list[Item]:
        """The keys of up to ITEMS_PER_ROUND items of the user's partition, the marker excepted."""
        response = self._dynamodb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :p",
            ProjectionExpression="pk, sk",
            ExpressionAttributeValues={":p": {"S": user_pk(user_id)}},
            ConsistentRead=True,  # what earlier rounds deleted must not come back
            Limit=ITEMS_PER_ROUND,
        )
        return [item for item in response.get("Items", []) if item["sk"]["S"] != COUNTS_SK]

    def _erase_items(self, user_id: str, pool: ThreadPoolExecutor, stop_at: float) -> tuple[int, bool]:
        """Rounds of: read up to ITEMS_PER_ROUND keys from the start of the partition, delete them
        in parallel batches, check the time. (items deleted, all of them?)"""
        deleted = 0
        while True:
            keys = self._item_keys(user_id)
            if not keys:
                return deleted, True
            batches = [keys[start : start + DYNAMODB_BATCH] for start in range(0, len(keys), DYNAMODB_BATCH)]
            deleted += sum(_map_in_context(pool, self._delete_items, batches))
            if time.monotonic() >= stop_at:
                return deleted, False

    def _delete_items(self, keys: list[Item]) -> int:
        """Delete KEYS, retrying what DynamoDB leaves unprocessed (throttling) with backoff until
        the pass's deadline; what is still left then fails the pass, and the next one repeats it."""
        requests = [{"DeleteRequest": {"Key": item_key}} for item_key in keys]
        for _ in UNPROCESSED_BACKOFF.attempts():
            response = self._dynamodb.batch_write_item(RequestItems={self._table: requests})
            requests = response.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return len(keys)
        raise deadline.DeadlineExceeded(f"{len(requests)} items left unprocessed (throttled)")


def _per_key_failure(errors: list[dict[str, str]]) -> ClientError:
    """DeleteObjects answers 200 with per-key errors: raised as the operation's error, so that the
    API answers as for any AWS error (503 + Retry-After when S3 asks to slow down or failed
    inside, 500 otherwise). A code that is not a throttle wins: a misconfiguration shows first."""
    codes = [error.get("Code", "") for error in errors]
    code = next((c for c in codes if c not in THROTTLING_CODES), codes[0])
    message = f"{len(errors)} audio versions not deleted ({', '.join(sorted(set(codes)))})"
    return ClientError({"Error": {"Code": code, "Message": message}}, "DeleteObjects")
