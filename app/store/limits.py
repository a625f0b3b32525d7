"""Per-user limits on what costs money: upload URLs started per user per clock hour.

One small item per user and hour, pk=USER#<sub> sk=LIMIT#uploads#<hour start>, changed by one
conditional ADD: a request takes a unit while the count is under the limit or is refused. There is
no read first, DynamoDB applies each update atomically (concurrent requests cannot overshoot), and
nothing on the list or read paths touches it; TTL removes the item once its hour is over. A fixed
window lets a user start up to twice the limit across an hour boundary: enough for a cost guard.
"""

import math
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from app.errors import ApiError, ErrorCode
from app.observability import count
from app.store.records import key

WINDOW_SECONDS = 3600
# Kept a while past its hour so that TTL, which deletes lazily, never races the window in use.
EXPIRY_MARGIN_SECONDS = 3600


def limit_sk(window_start: int) -> str:
    return f"LIMIT#uploads#{window_start}"


class UploadLimit:
    def __init__(
        self, client: Any, table_name: str, per_hour: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table_name
        self._per_hour = per_hour
        self._clock = clock

    def take(self, user_id: str) -> None:
        """Count one upload for USER_ID, or raise 429 rate_limit_exceeded with Retry-After."""
        now = self._clock()
        window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        window_end = window_start + WINDOW_SECONDS
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key(user_id, limit_sk(window_start)),
                UpdateExpression="ADD #n :one SET expires_at = if_not_exists(expires_at, :expires)",
                ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                ExpressionAttributeNames={"#n": "n"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(self._per_hour)},
                    ":expires": {"N": str(window_end + EXPIRY_MARGIN_SECONDS)},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            retry_after = max(1, math.ceil(window_end - now))
            count("UploadLimitReached")
            raise ApiError(
                ErrorCode.RATE_LIMIT_EXCEEDED,
                f"At most {self._per_hour} uploads may be started per hour; retry in {retry_after} s",
                {
                    "limit": self._per_hour,
                    "window_seconds": WINDOW_SECONDS,
                    "retry_after_seconds": retry_after,
                },
                headers={"Retry-After": str(retry_after)},
            ) from None
