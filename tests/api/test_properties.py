"""Property-based tests (issue 22): no request answers 5xx, and every 4xx is in the one error format.

- Over the OpenAPI document: schemathesis generates requests for every operation from the document
  the app serves (its examples, boundary-value coverage and fuzzing phases, valid and invalid
  inputs), each sent with a real access token of a user of that operation's own (so that
  `DELETE /api/v1/me` erases only its own). Two budgets: a fixed one (derandomized: the same
  examples every run, so a failure reproduces) and a small random one (new examples every run;
  hypothesis prints how to reproduce a failure).
- Over the inputs the code converts: hypothesis draws aware datetimes over the whole range with any
  offset, which the document's `date-time` strings rarely reach (schemathesis did not find the
  year-1 overflow of finding 1 in 200 derandomized examples per operation).

DynamoDB is DynamoDB Local and S3/Cognito are moto, as in the rest of tests/api.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from devtools.local_aws import LocalStack
from tests.support import EchoFactory, User, new_user

ERROR_FIELDS = {"error", "message", "details", "timestamp", "request_id"}
FIXED_EXAMPLES = 20
RANDOM_EXAMPLES = 20
QUIET = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}


@pytest.fixture
def api(app: FastAPI) -> Any:
    """Every phase: the document's examples, boundary values of every parameter (coverage), then
    FIXED_EXAMPLES of fuzzing."""
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture
def api_fuzzing(app: FastAPI) -> Any:
    """Fuzzing only: the coverage phase's cases are the same every run, and the fixed test has them."""
    config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@pytest.fixture
def caller_for(stack: LocalStack) -> Callable[[str], User]:
    users: dict[str, User] = {}
    return lambda operation: users.setdefault(operation, new_user(stack, "prop"))


schema = schemathesis.pytest.from_fixture("api")
fuzzing_schema = schemathesis.pytest.from_fixture("api_fuzzing")


def assert_no_server_error(status: int, body: Any, what: str) -> None:
    assert status < 500, f"{what}: {status} {body}"
    if 400 <= status < 500:
        assert isinstance(body, dict) and set(body) == ERROR_FIELDS, f"{what}: {body}"
        assert isinstance(body["error"], str) and isinstance(body["message"], str), what


def _check(case: Any, caller_for: Callable[[str], User]) -> None:
    response = case.call(headers=caller_for(case.operation.label).headers)
    body = response.json() if response.content else None
    assert_no_server_error(response.status_code, body, f"{case.method} {case.formatted_path} {case.query}")


@schema.parametrize()
@settings(max_examples=FIXED_EXAMPLES, derandomize=True, **QUIET)
def test_no_request_answers_5xx_fixed_examples(case: Any, caller_for: Callable[[str], User]) -> None:
    _check(case, caller_for)


@fuzzing_schema.parametrize()
@settings(max_examples=RANDOM_EXAMPLES, **QUIET)
def test_no_request_answers_5xx_random_examples(case: Any, caller_for: Callable[[str], User]) -> None:
    _check(case, caller_for)


# Aware datetimes with offsets up to a day either way, over Python's whole range and near its two
# ends, where an offset carries the moment out of range once converted to UTC. (hypothesis's own
# aware datetimes are drawn only where UTC can hold them, and its naive ones seldom reach the ends.)
OFFSETS = st.integers(min_value=-1439, max_value=1439).map(lambda m: timezone(timedelta(minutes=m)))
NAIVE = st.one_of(
    st.datetimes(),
    st.datetimes(max_value=datetime.min + timedelta(days=1)),
    st.datetimes(min_value=datetime.max - timedelta(days=1)),
)
AWARE = st.builds(lambda moment, offset: moment.replace(tzinfo=offset), NAIVE, OFFSETS)


@settings(max_examples=60, derandomize=True, **QUIET)
@given(moment=AWARE, bound=st.sampled_from(["from", "to"]))
def test_any_aware_datetime_in_a_list_filter_is_answered(
    client: TestClient, alice: User, moment: datetime, bound: str
) -> None:
    response = client.get("/api/v1/echoes", params={bound: moment.isoformat()}, headers=alice.headers)
    assert_no_server_error(response.status_code, response.json(), f"{bound}={moment.isoformat()}")


@pytest.fixture
def echo_id(make_echo: EchoFactory, alice: User) -> str:
    return str(make_echo(alice)["echo_id"])


@settings(max_examples=40, derandomize=True, **QUIET)
@given(moment=AWARE)
def test_any_aware_recorded_at_is_answered(
    client: TestClient, alice: User, echo_id: str, moment: datetime
) -> None:
    response = client.patch(
        f"/api/v1/echoes/{echo_id}", json={"recorded_at": moment.isoformat()}, headers=alice.headers
    )
    assert_no_server_error(response.status_code, response.json(), f"recorded_at={moment.isoformat()}")
    if response.status_code == 200:
        assert moment - datetime.now(UTC) <= timedelta(minutes=5)
