"""The erasure pass's time and the chain of passes (app/account.py), without AWS."""

import pytest

from app.account import (
    CHAIN_KEY,
    MAX_CHAIN_PASSES,
    MAX_FAILED_IN_A_ROW,
    PASS_OVERHEAD_SECONDS,
    Chain,
    check_erasure_budget,
)
from app.settings import Settings, SettingsError
from tests.unit.test_settings import VALID


def _settings(**values: object) -> Settings:
    return Settings(**{name.lower(): value for name, value in VALID.items()} | values)  # type: ignore[arg-type]


def test_the_default_budget_fits_the_default_timeout_with_its_overhead() -> None:
    settings = _settings()
    assert settings.erasure_budget_seconds + PASS_OVERHEAD_SECONDS <= settings.function_timeout_seconds
    check_erasure_budget(settings)


def test_a_budget_that_would_reach_the_timeout_fails_at_start_naming_both_settings() -> None:
    """Before, 5 s of budget + 3 s of reserve + 2 s of grace was the whole 10 s timeout."""
    with pytest.raises(
        SettingsError, match="ERASURE_BUDGET_SECONDS: at most 3 with FUNCTION_TIMEOUT_SECONDS=10"
    ):
        check_erasure_budget(_settings(erasure_budget_seconds=5.0, function_timeout_seconds=10))
    check_erasure_budget(_settings(erasure_budget_seconds=20.0, function_timeout_seconds=29))


def test_the_chain_is_counted_in_the_event_and_reset_by_a_pass_that_works() -> None:
    first = Chain.of({"httpMethod": "DELETE"})  # the caller's own request: a new chain
    assert first == Chain(passes=1, failed_in_a_row=0)
    event = first.next(failed=True).event({"httpMethod": "DELETE"})
    assert event == {
        "httpMethod": "DELETE",
        "body": None,  # never read by the route; an asynchronous Invoke takes at most 1 MB
        "isBase64Encoded": False,
        CHAIN_KEY: {"passes": 2, "failed_in_a_row": 1},
    }
    assert Chain.of(event).next(failed=False) == Chain(passes=3, failed_in_a_row=0)


def test_the_chain_stops_after_max_passes_or_max_failures_in_a_row() -> None:
    assert Chain(MAX_CHAIN_PASSES, MAX_FAILED_IN_A_ROW - 1).stop_reason() is None
    assert Chain(MAX_CHAIN_PASSES + 1, 0).stop_reason() == f"{MAX_CHAIN_PASSES} passes"
    assert Chain(5, MAX_FAILED_IN_A_ROW).stop_reason() == f"{MAX_FAILED_IN_A_ROW} failed passes in a row"
