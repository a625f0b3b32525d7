"""EchoService (app/service.py) over in-memory stores (tests/unit/fakes.py): reads, listings with
filters, cursors and offsets, random picks, PATCH with If-Match, delete and its audio, stats. The
same routes run over DynamoDB Local and moto in tests/api; here each branch runs in microseconds."""

from collections.abc import Callable
from dataclasses import replace

import pytest
from botocore.exceptions import ClientError

from app.errors import ApiError, ErrorCode
from app.models import EchoPage, Emotion, Selection, UpdateEchoRequest
from app.service import MAX_OFFSET, etag, expected_versions
from app.store.outcomes import ContentionError
from app.store.records import EchoRecord
from tests.unit.fakes import OTHER_USER, USER, Services, echo_record


def _refused(status: int, call: object) -> ApiError:
    """The ApiError CALL raised, after checking its status."""
    assert isinstance(call, ApiError), f"expected an ApiError, got {call!r}"
    assert call.status_code == status, (call.status_code, call.message)
    return call


def _error(action: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as raised:
        action()
    return raised.value


@pytest.fixture
def services() -> Services:
    return Services()


# --- get ---------------------------------------------------------------------------------------


def test_get_answers_the_echo_with_its_urls(services: Services) -> None:
    stored = services.add(echo_record(1, tags=("walk",)))
    echo = services.echoes.get(USER, stored.echo_id.upper())  # ids are matched case-insensitively
    assert (echo.echo_id, echo.emotion, echo.tags, echo.version) == (stored.echo_id, Emotion.JOY, ["walk"], 1)
    assert echo.s3_url == f"s3://fake-bucket/{stored.s3_key}"
    assert echo.audio_url and stored.s3_key in echo.audio_url
    assert "X-Amz-Expires=3600" in echo.audio_url  # audio_url_expires_seconds


@pytest.mark.parametrize("echo_id", ["not-a-uuid", str(echo_record(2).echo_id), ""])
def test_get_answers_404_for_an_id_that_names_no_echo(services: Services, echo_id: str) -> None:
    services.add(echo_record(1))
    _refused(404, _error(lambda: services.echoes.get(USER, echo_id)))


def test_get_never_shows_another_users_echo(services: Services) -> None:
    theirs = services.add(echo_record(1, user_id=OTHER_USER))
    _refused(404, _error(lambda: services.echoes.get(USER, theirs.echo_id)))


def test_an_erased_accounts_token_gets_401_not_404(services: Services) -> None:
    services.store.erased.add(USER)
    _refused(401, _error(lambda: services.echoes.get(USER, echo_record(1).echo_id)))


def test_get_answers_503_when_the_read_keeps_being_throttled(services: Services) -> None:
    services.store.fail("live_echo", ContentionError(USER))
    refused = _refused(503, _error(lambda: services.echoes.get(USER, echo_record(1).echo_id)))
    assert "Retry-After" in refused.headers


# --- list --------------------------------------------------------------------------------------


def _ids(page: EchoPage) -> list[str]:
    return [echo.echo_id for echo in page.echoes]


def test_a_listing_is_newest_first_with_the_total(services: Services) -> None:
    records = [services.add(echo_record(n)) for n in (3, 1, 2)]
    page = services.echoes.list(USER, Selection(), 1, 20, None)
    assert _ids(page) == [records[0].echo_id, records[2].echo_id, records[1].echo_id]
    assert (page.total_count, page.has_more, page.next_cursor, page.page) == (3, False, None, 1)


def test_following_next_cursor_visits_every_echo_once(services: Services) -> None:
    records = [services.add(echo_record(n)) for n in range(1, 8)]
    seen, cursor, pages = [], None, []
    while True:
        page = services.echoes.list(USER, Selection(), 1, 3, cursor)
        seen += _ids(page)
        pages.append(page.page)
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert seen == [record.echo_id for record in reversed(records)]
    assert pages == [1, 2, 3]


def test_an_offset_page_is_the_page_a_cursor_reaches(services: Services) -> None:
    for n in range(1, 8):
        services.add(echo_record(n))
    first = services.echoes.list(USER, Selection(), 1, 3, None)
    by_cursor = services.echoes.list(USER, Selection(), 1, 3, first.next_cursor)
    by_offset = services.echoes.list(USER, Selection(), 2, 3, None)
    assert _ids(by_offset) == _ids(by_cursor) and by_offset.page == by_cursor.page == 2
    assert by_offset.next_cursor is not None
    third = services.echoes.list(USER, Selection(), 1, 3, by_offset.next_cursor)
    assert _ids(third) == _ids(services.echoes.list(USER, Selection(), 3, 3, None))


def test_an_offset_past_the_last_echo_is_an_empty_page(services: Services) -> None:
    services.add(echo_record(1))
    page = services.echoes.list(USER, Selection(), 3, 5, None)
    assert (page.echoes, page.has_more, page.total_count, page.page) == ([], False, 1, 3)


def test_an_offset_beyond_the_bound_is_refused_naming_the_cursor(services: Services) -> None:
    page_size = 10
    services.echoes.list(USER, Selection(), MAX_OFFSET // page_size + 1, page_size, None)  # exactly the bound
    refused = _refused(
        400, _error(lambda: services.echoes.list(USER, Selection(), MAX_OFFSET // 10 + 2, 10, None))
    )
    assert refused.details["use"] == "cursor" and refused.details["offset"] == MAX_OFFSET + 10


@pytest.mark.parametrize(
    ("user", "selection", "page_size"),
    [
        (OTHER_USER, Selection(), 2),  # another user's query
        (USER, Selection(emotion="joy"), 2),  # another filter
        (USER, Selection(), 3),  # another page size
        (USER, Selection(since="2026-01-01T00:00:00.000Z"), 2),  # another date range
    ],
)
def test_a_cursor_is_refused_outside_the_query_it_came_from(
    services: Services, user: str, selection: Selection, page_size: int
) -> None:
    for n in range(1, 5):
        services.add(echo_record(n))
    cursor = services.echoes.list(USER, Selection(), 1, 2, None).next_cursor
    refused = _refused(400, _error(lambda: services.echoes.list(user, selection, 1, page_size, cursor)))
    assert refused.code == ErrorCode.VALIDATION_ERROR and "cursor" in refused.message


def test_a_tampered_cursor_is_refused(services: Services) -> None:
    for n in range(1, 5):
        services.add(echo_record(n))
    cursor = services.echoes.list(USER, Selection(), 1, 2, None).next_cursor
    assert cursor is not None
    forged = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    _refused(400, _error(lambda: services.echoes.list(USER, Selection(), 1, 2, forged)))


def test_an_emotion_filter_lists_and_counts_that_emotion(services: Services) -> None:
    calm = [services.add(echo_record(n, emotion="calm")) for n in (1, 3)]
    services.add(echo_record(2, emotion="joy"))
    page = services.echoes.list(USER, Selection(emotion="calm"), 1, 20, None)
    assert _ids(page) == [calm[1].echo_id, calm[0].echo_id] and page.total_count == 2


def test_tag_and_date_ranges_list_without_a_total(services: Services) -> None:
    for n in range(1, 6):
        services.add(echo_record(n, tags=("walk",) if n % 2 else ()))
    tagged = services.echoes.list(USER, Selection(tag="walk"), 1, 20, None)
    assert _ids(tagged) == [echo_record(n).echo_id for n in (5, 3, 1)] and tagged.total_count is None
    # from inclusive, to exclusive
    ranged = Selection(since=echo_record(2).created_at, until=echo_record(4).created_at)
    dated = services.echoes.list(USER, ranged, 1, 20, None)
    assert _ids(dated) == [echo_record(n).echo_id for n in (3, 2)] and dated.total_count is None


def test_a_date_ranged_cursor_pages_within_its_range(services: Services) -> None:
    for n in range(1, 8):
        services.add(echo_record(n))
    ranged = Selection(since=echo_record(2).created_at)
    first = services.echoes.list(USER, ranged, 1, 4, None)
    second = services.echoes.list(USER, ranged, 1, 4, first.next_cursor)
    assert _ids(first) + _ids(second) == [echo_record(n).echo_id for n in range(7, 1, -1)]
    assert not second.has_more


@pytest.mark.parametrize(
    "selection",
    [
        Selection(emotion="joy", tag="walk"),
        Selection(since="2026-01-02T00:00:00.000Z", until="2026-01-01T00:00:00.000Z"),
        Selection(since="2026-01-01T00:00:00.000Z", until="2026-01-01T00:00:00.000Z"),
    ],
)
def test_selections_no_index_serves_are_refused(services: Services, selection: Selection) -> None:
    _refused(400, _error(lambda: services.echoes.list(USER, selection, 1, 20, None)))


@pytest.mark.parametrize("selection", [Selection(), Selection(tag="walk"), Selection(since="2026-01-01")])
def test_a_listing_refuses_an_erased_accounts_token(services: Services, selection: Selection) -> None:
    """Even a tag or date listing, which shows no count, reads the counters for this."""
    services.add(echo_record(1, tags=("walk",)))
    services.store.erased.add(USER)
    _refused(401, _error(lambda: services.echoes.list(USER, selection, 1, 20, None)))


# --- random ------------------------------------------------------------------------------------


def test_random_picks_the_echo_in_the_drawn_slot_of_the_group() -> None:
    draws: list[int] = []

    def last_slot(n: int) -> int:
        draws.append(n)
        return n - 1

    services = Services(randbelow=last_slot)
    services.add(echo_record(1, emotion="calm"))
    services.add(echo_record(2, emotion="joy"))
    last_calm = services.add(echo_record(3, emotion="calm"))
    assert services.echoes.random(USER, None).echo_id == last_calm.echo_id
    assert services.echoes.random(USER, "calm").echo_id == last_calm.echo_id
    assert services.echoes.random(USER, "joy").echo_id == echo_record(2).echo_id
    assert draws == [3, 2, 1], "drawn among the group's echoes only"


def test_random_answers_404_when_nothing_matches(services: Services) -> None:
    services.add(echo_record(1, emotion="joy"))
    refused = _refused(404, _error(lambda: services.echoes.random(USER, "calm")))
    assert "Matching echo" in refused.message
    _refused(404, _error(lambda: services.echoes.random(OTHER_USER, None)))


# --- update (PATCH) ----------------------------------------------------------------------------


def test_expected_versions_reads_if_match_strongly() -> None:
    assert expected_versions(None) is None and expected_versions(" * ") is None
    assert expected_versions('"3"') == frozenset({3})
    assert expected_versions('"3", "5",W/"7"') == frozenset({3, 5})  # weak tags match nothing
    assert expected_versions('"²"') == frozenset() and expected_versions('"' + "9" * 19 + '"') == frozenset()
    assert etag(4) == '"4"'


def test_patch_changes_the_given_fields_only_and_bumps_the_version(services: Services) -> None:
    stored = services.add(replace(echo_record(1, tags=("a",)), transcript="hello"))
    request = UpdateEchoRequest.model_validate({"tags": ["b", "c"], "detected_mood": None})
    echo = services.echoes.update(USER, stored.echo_id, request, etag(1))
    assert (echo.tags, echo.transcript, echo.detected_mood, echo.version) == (["b", "c"], "hello", None, 2)
    assert services.store.echoes[USER][stored.echo_id].tags == ("b", "c"), "stored as a tuple, as read"


def test_patch_stores_recorded_at_in_the_one_format(services: Services) -> None:
    stored = services.add(echo_record(1))
    request = UpdateEchoRequest.model_validate({"recorded_at": "2025-06-01T12:00:00+02:00"})
    services.echoes.update(USER, stored.echo_id, request, None)
    assert services.store.echoes[USER][stored.echo_id].recorded_at == "2025-06-01T10:00:00.000Z"


def test_patch_moves_an_echo_to_its_new_emotions_group(services: Services) -> None:
    stored = services.add(echo_record(1, emotion="joy"))
    services.add(echo_record(2, emotion="joy"))
    services.echoes.update(USER, stored.echo_id, UpdateEchoRequest(emotion=Emotion.CALM), "*")
    stats = services.echoes.stats(USER)
    assert stats.by_emotion[Emotion.CALM] == 1 and stats.by_emotion[Emotion.JOY] == 1
    assert services.echoes.random(USER, "calm").echo_id == stored.echo_id
    assert services.echoes.random(USER, "joy").echo_id == echo_record(2).echo_id


@pytest.mark.parametrize("if_match", ['"2"', 'W/"1"', '"x"', '"1"x'])
def test_patch_with_a_stale_or_foreign_if_match_is_412_naming_the_current_etag(
    services: Services, if_match: str
) -> None:
    stored = services.add(echo_record(1))
    request = UpdateEchoRequest(transcript="new")
    refused = _refused(412, _error(lambda: services.echoes.update(USER, stored.echo_id, request, if_match)))
    assert refused.details == {"current_etag": '"1"'}
    assert services.store.echoes[USER][stored.echo_id].transcript is None, "nothing written"


def test_patch_of_a_missing_echo_is_404_and_contention_503(services: Services) -> None:
    request = UpdateEchoRequest(transcript="new")
    _refused(404, _error(lambda: services.echoes.update(USER, echo_record(1).echo_id, request, None)))
    stored = services.add(echo_record(1))
    services.store.fail("update_echo", ContentionError(USER))
    _refused(503, _error(lambda: services.echoes.update(USER, stored.echo_id, request, None)))


# --- delete ------------------------------------------------------------------------------------


def test_delete_removes_the_echo_and_every_version_of_its_audio(services: Services) -> None:
    stored = services.add(echo_record(1))
    services.audio.upload(stored.s3_key, 100, "audio/webm")  # a second version
    kept = services.add(echo_record(2))
    services.echoes.delete(USER, stored.echo_id)
    assert stored.echo_id not in services.store.echoes[USER]
    assert stored.s3_key not in services.audio.objects and stored.s3_key not in services.audio.hidden
    assert services.store.echoes[USER][kept.echo_id].slot == 1, "the last echo took the freed slot"
    assert kept.s3_key in services.audio.objects


def test_delete_of_a_missing_or_foreign_echo_is_404_and_touches_no_audio(services: Services) -> None:
    theirs = services.add(echo_record(1, user_id=OTHER_USER))
    _refused(404, _error(lambda: services.echoes.delete(USER, theirs.echo_id)))
    assert not services.audio.objects[theirs.s3_key].pending


def test_delete_racing_another_delete_is_404(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = services.add(echo_record(1))
    original = services.store.delete_echo

    def raced(user_id: str, echo_id: str, known: object = None) -> EchoRecord | None:
        services.store.echoes[user_id].pop(echo_id)  # another request's delete, just before this one's
        return original(user_id, echo_id, known)

    monkeypatch.setattr(services.store, "delete_echo", raced)
    _refused(404, _error(lambda: services.echoes.delete(USER, stored.echo_id)))


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (ContentionError(USER), ApiError),  # 503
        (ClientError({"Error": {"Code": "ValidationException"}}, "TransactWriteItems"), ClientError),
    ],
)
def test_a_failed_delete_keeps_the_audio_of_the_echo_that_remains(
    services: Services, error: Exception, raised: type[Exception]
) -> None:
    stored = services.add(echo_record(1))
    services.store.fail("delete_echo", error)
    with pytest.raises(raised) as failed:
        services.echoes.delete(USER, stored.echo_id)
    if isinstance(failed.value, ApiError):
        _refused(503, failed.value)
    assert stored.echo_id in services.store.echoes[USER]
    assert not services.audio.objects[stored.s3_key].pending, "tagged pending, then kept again"
    assert services.audio.calls.count("mark_pending") == 1


def test_a_delete_whose_answer_was_lost_leaves_the_audio_to_the_lifecycle_rule(services: Services) -> None:
    stored = services.add(echo_record(1))
    services.store.fail("delete_echo", TimeoutError("read timeout"), after=True)  # it did commit
    with pytest.raises(TimeoutError):
        services.echoes.delete(USER, stored.echo_id)
    assert stored.echo_id not in services.store.echoes[USER]
    assert services.audio.objects[stored.s3_key].pending, "no echo: S3 expires its audio"


def test_a_delete_stands_when_its_audio_cannot_be_removed(services: Services) -> None:
    stored = services.add(echo_record(1))
    services.audio.fail("delete_versions", ClientError({"Error": {"Code": "SlowDown"}}, "DeleteObjects"))
    services.echoes.delete(USER, stored.echo_id)
    assert stored.echo_id not in services.store.echoes[USER]
    assert services.audio.objects[stored.s3_key].pending, "left tagged pending: S3 expires it"


def test_a_listing_that_fails_beside_the_tagging_is_made_again_once_the_echo_is_gone(
    services: Services,
) -> None:
    stored = services.add(echo_record(1))
    services.audio.fail(
        "versions_of", ClientError({"Error": {"Code": "InternalError"}}, "ListObjectVersions")
    )
    services.echoes.delete(USER, stored.echo_id)
    assert stored.echo_id not in services.store.echoes[USER]
    assert stored.s3_key not in services.audio.objects and stored.s3_key not in services.audio.hidden
    assert services.audio.calls.count("versions_of") == 2


def test_a_delete_fails_before_the_echo_goes_when_the_audio_cannot_be_tagged(services: Services) -> None:
    stored = services.add(echo_record(1))
    services.audio.fail("mark_pending", ClientError({"Error": {"Code": "InternalError"}}, "PutObjectTagging"))
    with pytest.raises(ClientError):
        services.echoes.delete(USER, stored.echo_id)
    assert stored.echo_id in services.store.echoes[USER] and "delete_echo" not in services.store.calls


# --- stats -------------------------------------------------------------------------------------


def test_stats_count_every_emotion_and_span_the_first_and_last_echo(services: Services) -> None:
    for n, emotion in [(5, "calm"), (2, "joy"), (9, "calm")]:
        services.add(echo_record(n, emotion=emotion))
    services.add(echo_record(1, user_id=OTHER_USER))
    stats = services.echoes.stats(USER)
    assert stats.total_count == 3
    assert stats.by_emotion == {emotion: {"calm": 2, "joy": 1}.get(emotion.value, 0) for emotion in Emotion}
    assert (stats.first_echo_at, stats.last_echo_at) == (echo_record(2).created_at, echo_record(9).created_at)


def test_stats_of_no_echoes_and_of_an_erased_account(services: Services) -> None:
    empty = services.echoes.stats(USER)
    assert (empty.total_count, empty.first_echo_at, empty.last_echo_at) == (0, None, None)
    assert set(empty.by_emotion.values()) == {0}
    services.store.erased.add(USER)
    _refused(401, _error(lambda: services.echoes.stats(USER)))


def test_delete_under_contention_before_anything_is_written_is_503(services: Services) -> None:
    stored = services.add(echo_record(1))
    services.store.fail("echo_and_counts", ContentionError(USER))
    _refused(503, _error(lambda: services.echoes.delete(USER, stored.echo_id)))
    assert stored.echo_id in services.store.echoes[USER] and services.audio.calls == []


def test_a_failed_delete_that_cannot_tell_whether_the_echo_remains_reports_its_failure(
    services: Services,
) -> None:
    """Best effort: the live echo's audio stays tagged pending (logged), which a retried delete
    finishes; the caller sees the delete's own failure, not the clean-up's."""
    stored = services.add(echo_record(1))
    services.store.fail("delete_echo", ContentionError(USER))
    services.store.fail("get_echo", ClientError({"Error": {"Code": "InternalError"}}, "GetItem"))
    _refused(503, _error(lambda: services.echoes.delete(USER, stored.echo_id)))
    assert services.audio.objects[stored.s3_key].pending and "mark_kept" not in services.audio.calls
    services.echoes.delete(USER, stored.echo_id)
    assert stored.echo_id not in services.store.echoes[USER] and stored.s3_key not in services.audio.objects
