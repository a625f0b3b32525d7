"""The upload limit's window arithmetic (app/store/limits.py) on a clock the test sets; the
conditional ADD itself runs on DynamoDB Local in tests/api/test_upload_limits.py."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from app.errors import ApiError
from app.store.limits import EXPIRY_MARGIN_SECONDS, WINDOW_SECONDS, UploadLimit

HOUR = 1_800_000_000 // WINDOW_SECONDS * WINDOW_SECONDS  # a clock hour's first second


class _Table:
    """Records each update_item; refuses (as DynamoDB does when the condition fails) while full."""

    def __init__(self, full: bool = False, error_code: str = "ConditionalCheckFailedException") -> None:
        self.full = full
        self.error_code = error_code
        self.updates: list[dict[str, Any]] = []

    def update_item(self, **request: Any) -> None:
        self.updates.append(request)
        if self.full:
            raise ClientError({"Error": {"Code": self.error_code, "Message": "no"}}, "UpdateItem")


def _take(now: float, table: _Table, per_hour: int = 5) -> None:
    UploadLimit(table, "t", per_hour=per_hour, clock=lambda: now).take("u1")


@pytest.mark.parametrize("offset", [0, 0.5, WINDOW_SECONDS - 0.001])
def test_every_instant_of_an_hour_counts_in_that_hours_item(offset: float) -> None:
    table = _Table()
    _take(HOUR + offset, table)
    request = table.updates[0]
    assert request["Key"] == {"pk": {"S": "USER#u1"}, "sk": {"S": f"LIMIT#uploads#{HOUR}"}}
    assert request["ExpressionAttributeValues"][":expires"] == {
        "N": str(HOUR + WINDOW_SECONDS + EXPIRY_MARGIN_SECONDS)
    }


def test_the_next_hour_starts_a_new_item() -> None:
    table = _Table()
    _take(HOUR + WINDOW_SECONDS, table)
    assert table.updates[0]["Key"]["sk"] == {"S": f"LIMIT#uploads#{HOUR + WINDOW_SECONDS}"}


def test_the_condition_admits_exactly_the_limit() -> None:
    table = _Table()
    _take(HOUR, table, per_hour=7)
    request = table.updates[0]
    assert request["ConditionExpression"] == "attribute_not_exists(#n) OR #n < :limit"
    assert request["ExpressionAttributeValues"][":limit"] == {"N": "7"}
    assert request["UpdateExpression"].startswith("ADD #n :one")
    assert "if_not_exists(expires_at" in request["UpdateExpression"], "the first request sets the expiry"


@pytest.mark.parametrize(
    ("offset", "retry_after"),
    [
        (0, WINDOW_SECONDS),  # refused at the hour's first second: the whole hour
        (WINDOW_SECONDS - 1.5, 2),  # rounded up: retrying at 1 s would be refused again
        (WINDOW_SECONDS - 0.001, 1),  # never 0: "Retry-After: 0" invites a tight loop
    ],
)
def test_a_refusal_is_429_with_retry_after_counting_to_the_hours_end(offset: float, retry_after: int) -> None:
    with pytest.raises(ApiError) as refused:
        _take(HOUR + offset, _Table(full=True), per_hour=3)
    error = refused.value
    assert error.status_code == 429 and error.headers == {"Retry-After": str(retry_after)}
    assert error.details == {"limit": 3, "window_seconds": WINDOW_SECONDS, "retry_after_seconds": retry_after}
    assert "3 uploads" in error.message


def test_other_dynamodb_errors_are_not_a_limit() -> None:
    with pytest.raises(ClientError):
        _take(HOUR, _Table(full=True, error_code="ProvisionedThroughputExceededException"))
