"""UploadService (app/uploads.py) over in-memory stores (tests/unit/fakes.py): init-upload's checks,
quotas and refusals, and create's outcomes, above all what each failure leaves behind: the pending
upload's place, and the audio's pending tag (tagged, S3's lifecycle rule expires it: right when no
echo will own it, and wrong, losing data, when one does). tests/api runs the same over DynamoDB
Local and moto, where tests/faults.py injects the AWS failures."""

from collections.abc import Callable
from dataclasses import replace

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from app.errors import ApiError, ErrorCode
from app.models import CreateEchoRequest, Echo, InitUploadRequest, InitUploadResponse
from app.store.audio import staging_key
from app.store.outcomes import ContentionError, EchoAlreadyExists, UploadNotPending
from app.store.records import EchoRecord
from tests.unit.fakes import USER, Services, echo_record, settings

BODY = {"emotion": "joy", "file_extension": "webm", "tags": ["walk"]}
REFUSED = ClientError({"Error": {"Code": "ValidationException", "Message": "refused"}}, "TransactWriteItems")


def _error(action: Callable[[], object], status: int) -> ApiError:
    with pytest.raises(ApiError) as raised:
        action()
    assert raised.value.status_code == status, (raised.value.status_code, raised.value.message)
    return raised.value


def _init(
    services: Services, extension: str = "webm", content_type: str = "audio/webm", **more: object
) -> InitUploadResponse:
    request = InitUploadRequest.model_validate(
        {"file_extension": extension, "content_type": content_type, **more}
    )
    return services.upload.init_upload(USER, request)


def _uploaded(services: Services, size: int = 1000, content_type: str = "audio/webm") -> str:
    """init-upload, then the client's PUT to the staging key; the echo id."""
    echo_id = _init(services).echo_id
    services.audio.upload(staging_key(USER, echo_id, "webm"), size, content_type)
    return echo_id


def _create(services: Services, echo_id: str, **changes: object) -> Echo:
    return services.upload.create(USER, echo_id, CreateEchoRequest.model_validate(BODY | changes))


def _audio_key(echo_id: str) -> str:
    return f"audio/{USER}/{echo_id}.webm"


@pytest.fixture
def services() -> Services:
    return Services()


# --- init-upload -------------------------------------------------------------------------------


def test_init_upload_hands_out_the_staging_key_and_holds_a_place(services: Services) -> None:
    response = _init(services, content_type="Audio/WebM")
    assert response.s3_key == _audio_key(response.echo_id)
    assert f"uploads/{USER}/{response.echo_id}.webm" in response.upload_url
    assert response.upload_headers == {"Content-Type": "audio/webm"} and response.expires_in == 900
    [held] = services.uploads.ledgers[USER].values()
    assert (held.echo_id, held.content_type, held.upload_key) == (
        response.echo_id,
        "audio/webm",
        staging_key(USER, response.echo_id, "webm"),
    )
    assert services.limit.taken == {USER: 1}


@pytest.mark.parametrize(
    ("extension", "content_type", "more", "status", "code"),
    [
        ("flac", "audio/flac", {}, 415, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
        ("webm", "audio/mpeg", {}, 400, ErrorCode.VALIDATION_ERROR),
        ("webm", "audio/webm", {"file_size": 10 * 1024 * 1024 + 1}, 413, ErrorCode.FILE_TOO_LARGE),
    ],
)
def test_init_upload_refuses_what_create_would_refuse_and_costs_nothing(
    services: Services,
    extension: str,
    content_type: str,
    more: dict[str, object],
    status: int,
    code: ErrorCode,
) -> None:
    refused = _error(lambda: _init(services, extension, content_type, **more), status)
    assert refused.code == code
    assert services.uploads.calls == [] and services.limit.taken == {}


def test_init_upload_admits_a_declared_size_at_the_limit(services: Services) -> None:
    _init(services, file_size=10 * 1024 * 1024)


@pytest.mark.parametrize(
    ("limits", "stored", "quota"),
    [
        ({"max_echoes_per_user": 2}, [echo_record(1), echo_record(2)], "echoes"),
        ({"max_audio_bytes_per_user": 300}, [echo_record(1, file_size=300)], "bytes"),
    ],
)
def test_init_upload_refuses_a_user_at_a_quota(
    limits: dict[str, int], stored: list[EchoRecord], quota: str
) -> None:
    services = Services(settings=settings(**limits))
    for record in stored:
        services.add(record)
    refused = _error(lambda: _init(services), 409)
    assert refused.code == ErrorCode.QUOTA_EXCEEDED and refused.details["quota"] == quota
    assert services.uploads.ledgers == {} and services.limit.taken == {}


def test_init_upload_caps_pending_uploads_and_reuses_expired_places() -> None:
    services = Services(settings=settings(max_pending_uploads_per_user=2))
    first, _ = _init(services), _init(services)
    refused = _error(lambda: _init(services), 409)
    assert refused.details == {"limit": 2, "quota": "uploads"}
    assert services.limit.taken == {USER: 2}, "a refused request takes no unit of the hourly limit"
    ledger = services.uploads.ledgers[USER]
    ledger[first.echo_id] = replace(ledger[first.echo_id], expires_at=0)
    third = _init(services)
    assert set(services.uploads.ledgers[USER]) == set(ledger) - {first.echo_id} | {third.echo_id}
    assert len(services.uploads.ledgers[USER]) == 2


def test_init_upload_over_the_hourly_limit_gives_its_place_back() -> None:
    services = Services()
    services.limit.per_hour = 1
    _init(services)
    refused = _error(lambda: _init(services), 429)
    assert refused.headers["Retry-After"]
    assert len(services.uploads.ledgers[USER]) == 1, "the refused request's place was released"


def test_init_upload_gives_its_place_back_when_the_limit_cannot_be_read(services: Services) -> None:
    services.limit.fail("take", ReadTimeoutError(endpoint_url="dynamodb"))
    with pytest.raises(ReadTimeoutError):
        _init(services)
    assert services.uploads.ledgers[USER] == {}


def test_init_upload_under_contention_is_503_and_erased_accounts_401(services: Services) -> None:
    services.uploads.fail("reserve", ContentionError(USER))
    _error(lambda: _init(services), 503)
    services.store.erased.add(USER)
    _error(lambda: _init(services), 401)
    assert services.limit.taken == {}


# --- create: success and replays ---------------------------------------------------------------


def test_create_stores_the_echo_over_the_verified_copy_and_keeps_its_audio(services: Services) -> None:
    echo_id = _uploaded(services, size=1234)
    echo = _create(services, echo_id)
    stored = services.store.echoes[USER][echo_id]
    assert (stored.file_size, stored.tags, stored.s3_key, stored.slot) == (
        1234,
        ("walk",),
        _audio_key(echo_id),
        1,
    )
    assert echo.echo_id == echo_id and echo.file_size == 1234
    assert not services.audio.objects[_audio_key(echo_id)].pending, "the echo's audio is kept"
    assert staging_key(USER, echo_id, "webm") not in services.audio.objects, "the staged upload is discarded"
    assert services.uploads.ledgers[USER] == {}, "the upload's place is used"


def test_a_repeated_create_replays_and_a_different_one_conflicts(services: Services) -> None:
    echo_id = _uploaded(services)
    first = _create(services, echo_id)
    services.audio.objects[_audio_key(echo_id)].pending = True  # as an older attempt could leave it
    assert _create(services, echo_id) == first
    assert not services.audio.objects[_audio_key(echo_id)].pending, "a replay repairs the tag"
    refused = _error(lambda: _create(services, echo_id, emotion="calm"), 409)
    assert refused.code == ErrorCode.CONFLICT and services.store.echoes[USER][echo_id].emotion == "joy"


def test_a_create_losing_to_a_different_one_of_its_id_conflicts(services: Services) -> None:
    echo_id = _uploaded(services)
    winner = echo_record(1)
    services.store.fail(
        "create_echo", EchoAlreadyExists(replace(winner, echo_id=echo_id, request_hash="other"))
    )
    _error(lambda: _create(services, echo_id), 409)


# --- create: refusals before the echo is written ------------------------------------------------


def test_create_without_a_pending_upload_is_404(services: Services) -> None:
    _error(lambda: _create(services, echo_record(7).echo_id), 404)
    _error(lambda: _create(services, "nonsense"), 404)


def test_create_after_the_upload_expired_is_404(services: Services) -> None:
    echo_id = _uploaded(services)
    ledger = services.uploads.ledgers[USER]
    ledger[echo_id] = replace(ledger[echo_id], expires_at=1)
    _error(lambda: _create(services, echo_id), 404)


def test_create_with_another_extension_is_400(services: Services) -> None:
    echo_id = _uploaded(services)
    refused = _error(lambda: _create(services, echo_id, file_extension="ogg"), 400)
    assert refused.details == {"expected": "webm"}


@pytest.mark.parametrize(
    ("size", "content_type", "status"),
    [
        (None, "audio/webm", 400),
        (0, "audio/webm", 400),
        (10 * 1024 * 1024 + 1, "audio/webm", 413),
        (10, "audio/ogg", 415),
    ],
)
def test_create_refuses_audio_it_cannot_verify(
    services: Services, size: int | None, content_type: str, status: int
) -> None:
    echo_id = _init(services).echo_id
    if size is not None:
        services.audio.upload(staging_key(USER, echo_id, "webm"), size, content_type)
    _error(lambda: _create(services, echo_id), status)
    assert (
        echo_id not in services.store.echoes.get(USER, {})
        and _audio_key(echo_id) not in services.audio.objects
    )
    assert echo_id in services.uploads.ledgers[USER], "the place stays: the client may upload again"


def test_create_refuses_an_upload_changed_while_it_was_verified(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    echo_id = _uploaded(services)
    original = services.audio.copy_verified

    def put_in_between(source: str, target: str, etag: str) -> bool:
        services.audio.upload(source, 2000, "audio/webm")  # the client PUTs again after the check
        return original(source, target, etag)

    monkeypatch.setattr(services.audio, "copy_verified", put_in_between)
    _error(lambda: _create(services, echo_id), 409)
    assert _audio_key(echo_id) not in services.audio.objects


# --- create: the transaction fails --------------------------------------------------------------


def test_create_over_the_quota_at_commit_hands_the_audio_back() -> None:
    services = Services(settings=settings(max_echoes_per_user=1))
    echo_id = _uploaded(services)
    services.add(echo_record(1))  # another create took the last place since init-upload
    refused = _error(lambda: _create(services, echo_id), 409)
    assert refused.details == {"limit": 1, "quota": "echoes"}
    assert services.audio.objects[_audio_key(echo_id)].pending, "no echo owns it: S3 expires it"


@pytest.mark.parametrize(
    ("error", "status"),
    [(UploadNotPending("x"), 404), (ContentionError(USER), 503), (REFUSED, None)],
)
def test_create_certainly_failed_hands_the_audio_back(
    services: Services, error: Exception, status: int | None
) -> None:
    echo_id = _uploaded(services)
    services.store.fail("create_echo", error)
    if status is None:
        with pytest.raises(ClientError):
            _create(services, echo_id)
    else:
        _error(lambda: _create(services, echo_id), status)
    assert echo_id not in services.store.echoes.get(USER, {})
    assert services.audio.objects[_audio_key(echo_id)].pending, "tagged pending again: S3 expires it"


def test_create_refused_for_an_erased_account_hands_the_audio_back(services: Services) -> None:
    echo_id = _uploaded(services)
    services.store.fail("create_echo", ApiError(ErrorCode.AUTHENTICATION_FAILED, "erased"))
    _error(lambda: _create(services, echo_id), 401)
    assert services.audio.objects[_audio_key(echo_id)].pending


@pytest.mark.parametrize("committed", [False, True])
def test_create_with_an_unknown_outcome_leaves_the_audio_kept(services: Services, committed: bool) -> None:
    """A timeout may hide a commit: re-tagging could then expire a live echo's audio."""
    echo_id = _uploaded(services)
    services.store.fail("create_echo", ReadTimeoutError(endpoint_url="dynamodb"), after=committed)
    with pytest.raises(ReadTimeoutError):
        _create(services, echo_id)
    assert (echo_id in services.store.echoes.get(USER, {})) is committed
    assert not services.audio.objects[_audio_key(echo_id)].pending
    # The client retries (after PUTting other bytes to the staging key): it gets the echo, made of
    # the copy the first attempt verified: either the one committed (replayed), or now.
    services.audio.upload(staging_key(USER, echo_id, "webm"), 2000, "audio/webm")
    assert _create(services, echo_id).file_size == 1000
    assert services.store.echoes[USER][echo_id].file_size == 1000
    assert not services.audio.objects[_audio_key(echo_id)].pending


def test_a_failed_create_keeps_the_audio_a_concurrent_create_made_an_echo_of(services: Services) -> None:
    echo_id = _uploaded(services)
    # The transaction committed, then the answer says contention (a retry of the same request won).
    services.store.fail("create_echo", ContentionError(USER), after=True)
    _error(lambda: _create(services, echo_id), 503)
    assert echo_id in services.store.echoes[USER]
    assert not services.audio.objects[_audio_key(echo_id)].pending, "the live echo's audio is kept"


def test_a_failed_create_whose_audio_cannot_be_tagged_still_reports_the_failure(services: Services) -> None:
    echo_id = _uploaded(services)
    services.store.fail("create_echo", ContentionError(USER))
    services.audio.fail("mark_pending", ClientError({"Error": {"Code": "InternalError"}}, "PutObjectTagging"))
    _error(lambda: _create(services, echo_id), 503)
    assert "mark_pending_quietly failed" in services.audio.calls


def test_a_copy_is_kept_from_the_start_and_needs_no_untagging(services: Services) -> None:
    """Issue 23: create's copy is made kept (untagged), so no call stands between it and the
    transaction; an untag after the commit could fail and leave an echo S3 then expires."""
    echo_id = _uploaded(services)
    _create(services, echo_id)
    assert not services.audio.objects[_audio_key(echo_id)].pending
    assert "mark_kept" not in services.audio.calls


def test_a_copy_whose_answer_was_lost_goes_to_the_lifecycle_rule_until_a_retry_keeps_it(
    services: Services,
) -> None:
    echo_id = _uploaded(services)
    services.audio.fail("copy_verified", TimeoutError("read timeout"), after=True)  # it did copy
    with pytest.raises(TimeoutError):
        _create(services, echo_id)
    assert services.audio.objects[_audio_key(echo_id)].pending, "no echo: S3 expires it"
    _create(services, echo_id)
    assert not services.audio.objects[_audio_key(echo_id)].pending


def test_a_retry_fails_before_the_echo_when_the_earlier_copy_cannot_be_kept(services: Services) -> None:
    """The earlier attempt's copy is tagged pending: it is kept before the commit, never after."""
    echo_id = _uploaded(services)
    services.audio.fail("copy_verified", TimeoutError("read timeout"), after=True)
    with pytest.raises(TimeoutError):
        _create(services, echo_id)
    services.audio.fail("mark_kept", ClientError({"Error": {"Code": "InternalError"}}, "DeleteObjectTagging"))
    with pytest.raises(ClientError):
        _create(services, echo_id)
    assert "create_echo" not in services.store.calls


def test_create_under_contention_before_anything_is_written_is_503(services: Services) -> None:
    echo_id = _uploaded(services)
    services.store.fail("creation_state", ContentionError(USER))
    _error(lambda: _create(services, echo_id), 503)
    assert "copy_verified" not in services.audio.calls
    assert echo_id in services.uploads.ledgers[USER] and _audio_key(echo_id) not in services.audio.objects


def test_a_failed_create_that_cannot_tell_whether_the_echo_exists_leaves_the_audio_kept(
    services: Services,
) -> None:
    """Best effort: the audio then stays untagged (logged as OrphanedAudio), never expiring an echo's."""
    echo_id = _uploaded(services)
    services.store.fail("create_echo", ContentionError(USER))
    services.store.fail("get_echo", ReadTimeoutError(endpoint_url="dynamodb"))
    _error(lambda: _create(services, echo_id), 503)
    assert not services.audio.objects[_audio_key(echo_id)].pending
    assert "mark_pending" not in services.audio.calls


def test_an_echo_stands_when_its_staged_upload_cannot_be_removed(services: Services) -> None:
    echo_id = _uploaded(services)
    services.audio.fail("delete", ClientError({"Error": {"Code": "SlowDown"}}, "DeleteObject"))
    assert _create(services, echo_id).echo_id == echo_id
    assert staging_key(USER, echo_id, "webm") in services.audio.objects, "left to the lifecycle rule"


def test_init_upload_whose_place_cannot_be_given_back_reports_the_first_failure(services: Services) -> None:
    services.limit.fail("take", ReadTimeoutError(endpoint_url="dynamodb"))
    services.uploads.fail("release", ClientError({"Error": {"Code": "InternalError"}}, "UpdateItem"))
    with pytest.raises(ReadTimeoutError):
        _init(services)
    assert len(services.uploads.ledgers[USER]) == 1, "the place comes free when the upload expires"
