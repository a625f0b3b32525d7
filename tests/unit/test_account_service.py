"""AccountService (app/account.py) over the real EchoService and in-memory stores
(tests/unit/fakes.py): export pages through everything once, erasure goes through whichever starter
the service was given. The erasure passes themselves are tests/unit/test_erasure.py's."""

import pytest

from app.account import AccountService
from app.errors import ApiError
from app.models import Emotion, ErasureProgress, Selection
from tests.unit.fakes import OTHER_USER, USER, Services, echo_record


def _account(services: Services, page_size: int = 2) -> AccountService:
    def no_erasure(user_id: str, username: str, time_left: float | None) -> ErasureProgress | None:
        raise AssertionError("export never erases")

    return AccountService(services.echoes, no_erasure, page_size)


def test_export_pages_through_every_echo_once_with_stats_first() -> None:
    services = Services()
    records = [services.add(echo_record(n, emotion="calm" if n % 2 else "joy")) for n in range(1, 6)]
    services.add(echo_record(9, user_id=OTHER_USER))
    account = _account(services)
    pages = [account.export(USER, None)]
    while pages[-1].next_cursor:
        pages.append(account.export(USER, pages[-1].next_cursor))
    assert [len(page.echoes) for page in pages] == [2, 2, 1]
    exported = [echo.echo_id for page in pages for echo in page.echoes]
    assert exported == [record.echo_id for record in reversed(records)]
    first = pages[0].stats
    assert first is not None and first.total_count == 5 and first.by_emotion[Emotion.CALM] == 3
    assert all(page.stats is None for page in pages[1:])
    assert all(page.user_id == USER and page.exported_at.endswith("Z") for page in pages)
    assert all(echo.audio_url for page in pages for echo in page.echoes), "each echo with a fresh URL"


def test_export_of_no_echoes_is_one_page_with_zero_stats() -> None:
    page = _account(Services()).export(USER, None)
    assert page.echoes == [] and page.next_cursor is None
    assert page.stats is not None and page.stats.total_count == 0


def test_export_refuses_a_cursor_from_another_query() -> None:
    services = Services()
    for n in range(1, 5):
        services.add(echo_record(n))
    listed = services.echoes.list(USER, Selection(emotion="joy"), 1, 2, None)
    with pytest.raises(ApiError) as refused:
        _account(services).export(USER, listed.next_cursor)
    assert refused.value.status_code == 400


def test_export_refuses_an_erased_accounts_token() -> None:
    services = Services()
    services.add(echo_record(1))
    services.store.erased.add(USER)
    with pytest.raises(ApiError) as refused:
        _account(services).export(USER, None)
    assert refused.value.status_code == 401


def test_erase_hands_the_caller_and_its_time_to_the_starter() -> None:
    started: list[tuple[str, str, float | None]] = []
    progress = ErasureProgress(
        status="erasing",
        phase="audio",
        audio_versions_deleted=3,
        items_deleted=0,
        continuing=True,
        message="on",
    )

    def start(user_id: str, username: str, time_left: float | None) -> ErasureProgress | None:
        started.append((user_id, username, time_left))
        return progress if len(started) == 1 else None

    account = AccountService(Services().echoes, start, 500)
    assert account.erase(USER, "alice", 7.5) is progress
    assert account.erase(USER, "alice") is None
    assert started == [(USER, "alice", 7.5), (USER, "alice", None)]
