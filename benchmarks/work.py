"""DynamoDB work per request: the calls each request makes and the items they read, counted on
the app's own client, for users with more and more echoes (it must not grow with them)."""

import json
import os
from collections.abc import Callable
from typing import Any

from benchmarks.builds import ROOT
from benchmarks.stack import PAGE_SIZE, Environment, seed, writes_counters_in_index
from devtools.events import LambdaContext, rest_event

Work = tuple[int, int]  # (DynamoDB calls, items read)


class Counter:
    """Every DynamoDB call of the app's client, and the items each read (Query: ScannedCount;
    BatchGetItem: the items it answered)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, parsed: dict, model: Any, **_: Any) -> None:
        if model.name == "Query":
            self.calls.append(parsed.get("ScannedCount", 0))
        elif model.name == "GetItem":
            self.calls.append(1 if "Item" in parsed else 0)
        elif model.name == "BatchGetItem":
            self.calls.append(sum(len(items) for items in parsed.get("Responses", {}).values()))
        else:
            self.calls.append(0)

    def measure(self, request: Callable[[], dict]) -> tuple[dict, Work]:
        self.calls.clear()
        response = request()
        assert response["statusCode"] in (200, 202, 204), response
        return response, (len(self.calls), sum(self.calls))


def counted_handler(counter: Counter | None = None) -> tuple[Any, Any]:
    """A fresh app for the environment's settings (no canned answers), its DynamoDB calls counted
    by COUNTER, and its Mangum handler."""
    from mangum import Mangum

    from app.main import create_app
    from app.settings import get_settings

    get_settings.cache_clear()
    app = create_app(get_settings())
    if counter is not None:
        app.state.aws_clients.dynamodb.meta.events.register("after-call.dynamodb", counter)
    return app, Mangum(app, lifespan="off")


def read_work(env: Environment, sizes: list[int]) -> dict[int, dict[str, Work]]:
    """List (first and next page), random and get, for a user with each number of echoes."""
    os.environ.update(env.app_env())
    counter = Counter()
    _, handler = counted_handler(counter)
    results: dict[int, dict[str, Work]] = {}
    for size in sizes:
        token, user_id = env.user(f"work-{size}@example.com")
        seed(env.stack.table_name, user_id, size, writes_counters_in_index(ROOT))  # as this tree writes
        auth = {"Authorization": f"Bearer {token}"}

        def get(path: str, query: dict | None = None, auth: dict[str, str] = auth) -> Callable[[], dict]:
            return lambda: handler(rest_event("GET", path, query, auth), LambdaContext.fresh())

        page = {"page_size": str(PAGE_SIZE)}
        first, first_work = counter.measure(get("/api/v1/echoes", page))
        cursor = json.loads(first["body"])["next_cursor"]
        listed = json.loads(first["body"])["echoes"]
        results[size] = {
            "list, first page (incl. total_count)": first_work,
            "list, next page by cursor": (
                counter.measure(get("/api/v1/echoes", page | {"cursor": cursor}))[1] if cursor else (0, 0)
            ),
            "random": counter.measure(get("/api/v1/echoes/random"))[1],
            "random by emotion": counter.measure(get("/api/v1/echoes/random", {"emotion": "joy"}))[1],
            "get": counter.measure(get(f"/api/v1/echoes/{listed[0]['echo_id']}"))[1],
        }
    return results
