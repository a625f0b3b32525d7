"""Cursor-key rotation (issue 25): the rotation function's four steps on moto's Secrets Manager, as
Secrets Manager runs them, and the cursor codec across rotations, reading the keys as deployed.

What moto does not do that Secrets Manager does: start a rotation itself (it would invoke the
function through moto's Lambda, which needs Docker), so each test runs the four steps in order
with a fresh token, as Secrets Manager invokes them; and Secrets Manager gives the token the label
AWSPENDING before createSecret, which moto's API cannot, so createSecret starts here from a token
that has no version yet (the function treats both alike). moto does move AWSPREVIOUS to the
replaced version when AWSCURRENT moves, as Secrets Manager does, but a GetSecretValue without a
stage still answers the version the secret was created or last put with, where Secrets Manager
answers AWSCURRENT: the app names the stage (the same request in AWS), and so do these tests."""

import uuid
from typing import Any

import boto3
import pytest

from app.store.cursor import (
    KEY_MAX_AGE_SECONDS,
    RELOAD_INTERVAL_SECONDS,
    CursorCodec,
    CursorState,
    InvalidCursor,
    secrets_manager_codec,
    secrets_manager_previous_key,
)
from rotation.cursor_key import KEY_LENGTH, is_key, rotate

SECRET = "echoes-test/app"
STATE = CursorState(page=2, created_at="2026-01-01T00:00:00.000Z", echo_id="e1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client() -> Any:
    return boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture
def secret(aws: None) -> str:
    """The secret as the template makes it (a generated 64-character key), with rotation turned on.
    moto turns it on only through RotateSecret: without a function it makes a version of the same
    value current, which changes no key."""
    client = _client()
    client.create_secret(
        Name=SECRET,
        SecretString=client.get_random_password(PasswordLength=64, ExcludePunctuation=True)["RandomPassword"],
    )
    client.rotate_secret(
        SecretId=SECRET, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False
    )
    return SECRET


def _rotate(secret_id: str) -> str:
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotate(_client(), secret_id, token, step)
    return token


def _current(secret_id: str) -> str:
    return str(_client().get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"])


def _container(clock: Clock | None = None) -> CursorCodec:
    """A new Lambda container's codec, reading the keys as the deployed app does."""
    codec = secrets_manager_codec(SECRET, _client)
    if clock is not None:
        codec._clock = clock
    return codec


def test_a_rotation_makes_a_new_current_key_and_keeps_the_old_one_as_previous(secret: str) -> None:
    before = _current(secret)
    token = _rotate(secret)
    stages = _client().describe_secret(SecretId=secret)["VersionIdsToStages"]
    assert "AWSCURRENT" in stages[token]  # with AWSPENDING or without: both end a rotation
    assert _current(secret) != before and is_key(_current(secret)) and len(_current(secret)) == KEY_LENGTH
    previous = _client().get_secret_value(SecretId=secret, VersionStage="AWSPREVIOUS")["SecretString"]
    assert previous == before


def test_every_step_may_run_again(secret: str) -> None:
    """Secrets Manager retries a step that failed or timed out: running each twice changes nothing."""
    token = str(uuid.uuid4())
    for step in ("createSecret", "createSecret", "setSecret", "testSecret", "testSecret"):
        rotate(_client(), secret, token, step)
    pending = _client().get_secret_value(SecretId=secret, VersionId=token)["SecretString"]
    rotate(_client(), secret, token, "finishSecret")
    rotate(_client(), secret, token, "finishSecret")
    rotate(_client(), secret, token, "createSecret")  # a finished rotation is left alone
    assert _current(secret) == pending


def test_the_test_step_refuses_a_pending_value_that_is_not_a_key(secret: str) -> None:
    token = str(uuid.uuid4())
    _client().put_secret_value(
        SecretId=secret, ClientRequestToken=token, SecretString="short", VersionStages=["AWSPENDING"]
    )
    with pytest.raises(ValueError, match="not a signing key"):
        rotate(_client(), secret, token, "testSecret")


def test_unknown_steps_and_secrets_without_rotation_are_refused(aws: None) -> None:
    _client().create_secret(Name="plain", SecretString="x" * 64)
    with pytest.raises(ValueError, match="not enabled"):
        rotate(_client(), "plain", str(uuid.uuid4()), "createSecret")
    with pytest.raises(ValueError, match="unknown rotation step"):
        rotate(_client(), "plain", str(uuid.uuid4()), "dropSecret")


def test_a_cursor_signed_before_a_rotation_still_decodes_after_it_and_not_after_two(secret: str) -> None:
    signed_before = _container().encode("user#query", STATE)
    _rotate(secret)
    after_one = _container()  # a container started after the rotation
    assert after_one.decode("user#query", signed_before) == STATE
    signed_between = after_one.encode("user#query", STATE)
    _rotate(secret)
    after_two = _container()
    with pytest.raises(InvalidCursor, match="bad signature"):
        after_two.decode("user#query", signed_before)
    assert after_two.decode("user#query", signed_between) == STATE


def test_no_previous_key_before_the_first_rotation(aws: None) -> None:
    _client().create_secret(Name=SECRET, SecretString="k" * 64)  # as the stack creates it
    assert secrets_manager_previous_key(SECRET, _client)() is None
    codec = _container()
    assert codec.decode("s", codec.encode("s", STATE)) == STATE
    with pytest.raises(InvalidCursor):
        codec.decode("s", CursorCodec(lambda: b"other" * 8).encode("s", STATE))


def test_a_warm_container_accepts_a_key_rotated_in_after_it_loaded_its_own(secret: str) -> None:
    """A container that loaded its keys before a rotation meets cursors that newer containers signed
    with the new key: it reads the keys again, at most once a minute."""
    clock = Clock()
    warm = _container(clock)
    warm.encode("s", STATE)  # loads the key
    _rotate(secret)
    signed_by_a_new_container = _container().encode("s", STATE)
    clock.now += RELOAD_INTERVAL_SECONDS / 2
    with pytest.raises(InvalidCursor):  # too soon after its own load to read the keys again
        warm.decode("s", signed_by_a_new_container)
    clock.now += RELOAD_INTERVAL_SECONDS
    assert warm.decode("s", signed_by_a_new_container) == STATE


def test_forged_cursors_cost_at_most_one_key_read_a_minute() -> None:
    clock, loads = Clock(), []

    def load() -> bytes:
        loads.append(clock.now)
        return b"k" * 32

    codec = CursorCodec(load, lambda: b"p" * 32, clock)
    forged = CursorCodec(lambda: b"x" * 32).encode("s", STATE)
    for _ in range(100):
        with pytest.raises(InvalidCursor):
            codec.decode("s", forged)
        clock.now += 1
    assert len(loads) == 2  # the first use, then one reload after a minute


def test_a_warm_container_signs_with_the_rotated_key_within_the_hour(secret: str) -> None:
    clock = Clock()
    warm = _container(clock)
    warm.encode("s", STATE)
    _rotate(secret)
    _rotate(secret)  # were it still signing with its first key, that key would now be refused
    clock.now += KEY_MAX_AGE_SECONDS + 1
    assert _container().decode("s", warm.encode("s", STATE)) == STATE
