"""The latency mode's measuring process (run by benchmarks/latency.py): warm requests of each route
through lambda_handler, every AWS call held until its service's round trip has passed, and each
call's start and end recorded to find the calls one after the other on the request's critical path.

    python benchmarks/latency_run.py SPEC_JSON

SPEC: {"source": folder holding lambda_handler.py and app/, "root": the repository, "env": the
app's environment, "token": an access token of a user with more than a page of echoes,
"rtt_ms": {botocore service id: round trip in ms}, "default_rtt_ms", "requests": per route}.
Prints one JSON line: {route: {"ms": [...], "model_ms": [...], "calls": [...], "sequential": [...],
"by_service": {service: sequential calls}, "chain": [...], from the last request}}.

A call is held from the moment botocore sends it until its round trip has passed since then
(`before-send` to `response-received`): the local AWS's own time counts towards the round trip,
so a call takes the longer of the two.
"""

import json
import os
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    service: str
    operation: str
    started: float
    ended: float


@dataclass
class Recorder:
    rtt_ms: dict[str, float]
    default_rtt_ms: float
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    def sent(self, **_: Any) -> None:  # a thread makes one call at a time
        self._local.started = time.perf_counter()

    def received(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".")[:3]
        started = self._local.started
        rtt = self.rtt_ms.get(service, self.default_rtt_ms) / 1000
        pause = rtt - (time.perf_counter() - started)
        if pause > 0:
            time.sleep(pause)
        with self._lock:
            self.calls.append(Call(service, operation, started, time.perf_counter()))


def critical_path(calls: list[Call]) -> list[Call]:
    """The longest chain of calls each starting after the one before it ended (earliest end first:
    the most pairwise disjoint intervals). Calls made in parallel overlap, so only one counts."""
    chain: list[Call] = []
    for call in sorted(calls, key=lambda c: c.ended):
        if not chain or call.started >= chain[-1].ended:
            chain.append(call)
    return chain


def _put_audio(upload: dict[str, Any]) -> None:
    body = b"RIFF" + bytes(60)
    headers = dict(upload["upload_headers"]) | {"Content-Length": str(len(body))}
    request = urllib.request.Request(upload["upload_url"], data=body, method="PUT", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status


def _routes(invoke: Callable[..., dict[str, Any]]) -> dict[str, Callable[[], dict[str, Any]]]:
    """Each route's request, made valid again for every repetition (an upload per create, the
    echo it made for the delete); the order below is the order they run in."""
    first = invoke("GET", "/api/v1/echoes", {"page_size": "20"})
    page = json.loads(first["body"])
    cursor, listed = page["next_cursor"], page["echoes"][0]["echo_id"]
    made: list[str] = []

    def init_upload() -> dict[str, Any]:
        body = {"file_extension": "wav", "content_type": "audio/wav", "file_size": 64}
        return invoke("POST", "/api/v1/echoes/init-upload", None, body)

    def create() -> dict[str, Any]:
        upload = json.loads(init_upload()["body"])
        _put_audio(upload)
        body = {"emotion": "calm", "tags": ["rain"], "file_extension": "wav"}
        return invoke("POST", "/api/v1/echoes", {"echo_id": upload["echo_id"]}, body, keep=made)

    return {
        "list, first page": lambda: invoke("GET", "/api/v1/echoes", {"page_size": "20"}),
        "list, next page by cursor": lambda: invoke(
            "GET", "/api/v1/echoes", {"page_size": "20", "cursor": cursor}
        ),
        "random": lambda: invoke("GET", "/api/v1/echoes/random"),
        "random by emotion": lambda: invoke("GET", "/api/v1/echoes/random", {"emotion": "calm"}),
        "get": lambda: invoke("GET", f"/api/v1/echoes/{listed}"),
        "stats": lambda: invoke("GET", "/api/v1/echoes/stats"),
        "init-upload": init_upload,
        "create": create,
        "delete": lambda: invoke("DELETE", f"/api/v1/echoes/{made.pop()}"),
    }


def run(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    os.environ.update(spec["env"])
    sys.path[:0] = [spec["source"], spec["root"]]
    from app import aws

    recorder = Recorder(spec["rtt_ms"], spec["default_rtt_ms"])
    session = aws._session()  # every client the app makes, now or later, comes from it
    session.register("before-send", recorder.sent)
    session.register("response-received", recorder.received)
    import lambda_handler
    from devtools.events import LambdaContext, rest_event

    measured: dict[str, float] = {}

    def invoke(
        method: str, path: str, query: dict | None = None, body: dict | None = None, keep: list | None = None
    ) -> dict[str, Any]:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {spec['token']}"} | (
            {"Content-Type": "application/json"} if payload else {}
        )
        event = rest_event(method, path, query, headers, payload, request_id=str(uuid.uuid4()))
        recorder.calls.clear()
        started, cpu = time.perf_counter(), time.process_time()
        response: dict[str, Any] = lambda_handler.handler(event, LambdaContext.fresh())
        measured["ms"] = (time.perf_counter() - started) * 1000
        measured["cpu_ms"] = (time.process_time() - cpu) * 1000
        assert response["statusCode"] in (200, 201, 204), (path, response)
        if keep is not None:
            keep.append(json.loads(response["body"])["echo_id"])
        return response

    results: dict[str, dict[str, Any]] = {}
    for name, request in _routes(invoke).items():
        request()  # warm: this route's first request
        figures: dict[str, Any] = {"ms": [], "model_ms": [], "calls": [], "sequential": []}
        for _ in range(spec["requests"]):
            request()
            chain = critical_path(recorder.calls)
            figures["ms"].append(measured["ms"])
            # What the request would take on AWS: its own CPU time plus the round trips of the
            # calls on its critical path (the local AWS's time, which can exceed them, left out).
            rtts = sum(recorder.rtt_ms.get(c.service, recorder.default_rtt_ms) for c in chain)
            figures["model_ms"].append(measured["cpu_ms"] + rtts)
            figures["calls"].append(len(recorder.calls))
            figures["sequential"].append(len(chain))
            figures["by_service"] = {
                s: sum(c.service == s for c in chain) for s in {c.service for c in chain}
            }
            figures["chain"] = [f"{c.service} {c.operation}" for c in chain]
        results[name] = figures
    return results


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))), flush=True)
