"""The benchmark's DynamoDB target, on figures chosen to sit either side of it: met, not met,
or not measured where a run cannot compare a request's calls."""

from benchmarks.report import reads_constant
from benchmarks.stack import PAGE_SIZE

NEXT_PAGE = "list, next page by cursor"


def work(next_page_at_10: list[int], next_page_at_100: list[int], list_at_100: list[int]) -> dict:
    """[calls, items read] by size of the user's echoes and request."""
    return {
        "10": {"list": [2, 11], NEXT_PAGE: next_page_at_10},
        "100": {"list": list_at_100, NEXT_PAGE: next_page_at_100},
    }


def test_the_same_calls_within_a_page_at_every_size_is_met() -> None:
    assert reads_constant(work([2, 5], [2, PAGE_SIZE + 2], [2, PAGE_SIZE + 2])) == (True, [])


def test_more_calls_with_more_echoes_is_not_met() -> None:
    assert reads_constant(work([2, 5], [2, 5], [3, PAGE_SIZE + 2])) == (False, [])


def test_a_request_made_at_one_size_is_not_measured_unless_it_reads_more_than_a_page() -> None:
    # 10 echoes fit on one page: no cursor, so the next page is requested at 100 only.
    assert reads_constant(work([0, 0], [2, PAGE_SIZE + 2], [2, PAGE_SIZE + 2])) == (None, [NEXT_PAGE])
    # Reading past a page is a failure one size shows: not met, whatever else was not measured.
    assert reads_constant(work([0, 0], [2, PAGE_SIZE * 5], [2, PAGE_SIZE + 2])) == (False, [NEXT_PAGE])
