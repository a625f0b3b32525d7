"""Warm invocations of a built or checked-out function, in a process of their own (so that the
bench can put it under a memory size's CPU quota, and compare two versions of the code).

    python benchmarks/warm.py SPEC_JSON

SPEC: {"source": folder holding lambda_handler.py and app/, "env": the app's environment,
"token": an access token, "listed": the items DynamoDB answers the list query with,
"invocations": per variant, "block": invocations per interleaved block}. Prints one JSON line:
{variant: [nanoseconds per invocation, ...]}.

DynamoDB is answered at botocore's send step (full serialisation and parsing, no network); the
token is verified for real each time; /health's probes reach the local AWS once per cache round.
"""

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def canned_dynamodb(records: list[dict], total: int) -> Callable[..., Any]:
    """A before-send handler answering the list's Query and counter GetItem as DynamoDB would:
    the Query's items (RECORDS, whole) projected as the request asks, and first the counters item
    when it asks for their total (a version that reads the counters in the index is one whose
    writes put them there: app/store/records.py, counters_index_keys)."""
    from botocore.awsrequest import AWSResponse

    counters = {"pk": {"S": "x"}, "sk": {"S": "COUNTS"}, "total": {"N": str(total)}}
    counts = json.dumps({"Item": counters}).encode()
    queries: dict[bytes, bytes] = {}  # by request body: built once per version of the Query

    def query_answer(sent: bytes) -> bytes:
        if sent not in queries:
            request = json.loads(sent)
            names = request.get("ExpressionAttributeNames", {})
            projected = [name.strip() for name in request.get("ProjectionExpression", "").split(",")]
            wanted = {names.get(name, name) for name in projected if name}
            found = ([counters] if "total" in wanted else []) + records
            items = [
                {name: value for name, value in item.items() if name in wanted or not wanted}
                for item in found
            ]
            queries[sent] = json.dumps(
                {"Items": items, "Count": len(items), "ScannedCount": len(items)}
            ).encode()
        return queries[sent]

    class Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_: Any):
            yield self._body

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        sent = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        if target == "DynamoDB_20120810.Query":
            body = query_answer(sent)
        elif target == "DynamoDB_20120810.GetItem":
            body = counts
        else:
            return None  # anything else (the health probe) goes to the local AWS
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, Raw(body))

    return answer


def run(spec: dict[str, Any]) -> dict[str, list[int]]:
    os.environ.update(spec["env"])
    sys.path[:0] = [spec["source"], str(ROOT / "benchmarks" / "baselines"), str(ROOT)]
    import hello  # baseline (a)

    import lambda_handler
    from devtools.events import LambdaContext, rest_event

    listed = spec["listed"]
    lambda_handler.app.state.aws_clients.dynamodb.meta.events.register(
        "before-send.dynamodb", canned_dynamodb(listed, len(listed))
    )
    auth = {"Authorization": f"Bearer {spec['token']}"}
    variants = {
        "baseline (a) /health": (hello.handler, rest_event("GET", "/health")),
        "echoes /health": (lambda_handler.handler, rest_event("GET", "/health")),
        "echoes list of 20": (
            lambda_handler.handler,
            rest_event("GET", "/api/v1/echoes", {"page_size": "20"}, auth),
        ),
    }
    context = LambdaContext()
    for name, (handler, event) in variants.items():  # warm-up, and a correctness check
        response = handler(event, context)
        assert response["statusCode"] == 200, (name, response)
        if "list" in name:
            assert len(json.loads(response["body"])["echoes"]) == 20, response
    samples: dict[str, list[int]] = {name: [] for name in variants}
    block = spec["block"]
    for _ in range(max(1, spec["invocations"] // block)):
        for name, (handler, event) in variants.items():
            timings = samples[name]
            for _ in range(block):
                started = time.perf_counter_ns()
                handler(event, context)
                timings.append(time.perf_counter_ns() - started)
    return samples


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))), flush=True)
