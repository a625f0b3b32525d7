"""The sweeps after an account's erasure: uploads that land after it.

An upload URL handed out before the erasure stays valid until it expires (UPLOAD_URL_EXPIRES_SECONDS,
at most an hour), and S3 checks the expiry when a PUT starts, not when it ends. So the erasure,
before its marker says done, queues a sweep (`SweepQueue`: an SQS message delayed by up to 15
minutes, SQS's longest delay, delivered to the erasure function); each sweep deletes every version
under the user's prefixes again and queues the next one, until IN_FLIGHT_SECONDS past the expiry of
the last URL the account could have been given. Outside Lambda there is no queue: the local stack
keeps a late upload (moto runs no lifecycle rule either).
"""

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.observability import logger
from app.store.account import AccountEraser

# SQS's longest DelaySeconds for one message.
MAX_DELAY_SECONDS = 900
# A PUT started just before its URL expired: S3 takes up to 5 GB in one PUT, which takes about
# 14 minutes at 50 Mbit/s. Slower still, the lifecycle rule removes it within a day.
IN_FLIGHT_SECONDS = 900


@dataclass(frozen=True)
class Sweep:
    """Whose prefixes to sweep, and until when (epoch seconds) to queue the next sweep."""

    user_id: str
    until: float

    @classmethod
    def after_erasure(cls, user_id: str, url_expires_seconds: int) -> "Sweep":
        return cls(user_id, time.time() + url_expires_seconds + IN_FLIGHT_SECONDS)

    def to_json(self) -> dict[str, Any]:
        return {"sweep": self.user_id, "until": self.until}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "Sweep":
        return cls(str(body["sweep"]), float(body["until"]))


class SweepQueue:
    """Queues a sweep for its time: MAX_DELAY later, or at its UNTIL if that comes sooner (the
    client made on first use)."""

    def __init__(
        self, queue_url: str, client: Callable[[], Any], max_delay_seconds: int = MAX_DELAY_SECONDS
    ) -> None:
        self._queue_url = queue_url
        self._make_client = client
        self._client: Any = None
        self._max_delay = max_delay_seconds

    def delay_seconds(self, sweep: Sweep) -> int:
        return max(0, min(self._max_delay, math.ceil(sweep.until - time.time())))

    def send(self, sweep: Sweep) -> None:
        if self._client is None:
            self._client = self._make_client()
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=json.dumps(sweep.to_json()),
            DelaySeconds=self.delay_seconds(sweep),
        )


def handle_records(eraser: AccountEraser, queue: SweepQueue, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The erasure function's answer to a batch of sweeps from SQS: each swept, and queued again
    until its UNTIL. A failed record is reported by its message id (ReportBatchItemFailures): SQS
    delivers it again, and after three receives moves it to the failures queue (alarmed)."""
    failures = []
    for record in records:
        try:
            sweep = Sweep.from_json(json.loads(record["body"]))
            deleted = eraser.sweep(sweep.user_id)
            if deleted is None:
                logger.warning(
                    "Sweep for an account whose erasure is not complete: nothing deleted",
                    extra={"user_id": sweep.user_id},
                )
                continue
            logger.info("Erased account swept", extra={"user_id": sweep.user_id, "versions_deleted": deleted})
            if time.time() < sweep.until:
                queue.send(sweep)
        except Exception:
            logger.exception("Sweep failed", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record.get("messageId", "")})
    return {"batchItemFailures": failures}
