"""The frontend's path in a real browser (headless Chromium), in both local modes: a page served
from the first allowed origin (tests/e2e/frontend/index.html) uses fetch for init-upload, the
presigned upload straight to S3 (cross-origin: the bucket's CORS), create, list, random, an <audio>
element playing audio_url, a tag edit (PATCH with the ETag read cross-origin as If-Match, then a
stale one), delete, and reads the JSON of a 404 and of 401s (expired and missing token). A response
without the right CORS headers would reach the page as an opaque TypeError instead.

moto serves S3 here: it answers CORS preflights from the bucket's rules, as S3 does, but checks no
signature; what S3 would refuse from the signed URL is tested in tests/api/test_presign.py."""

import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import jwt
import pytest

from tests.e2e.browser import chromium_session
from tests.e2e.conftest import RunningStack
from tests.support import pool_signed_token

pytestmark = pytest.mark.e2e
PAGE = Path(__file__).resolve().parent / "frontend"


@pytest.fixture(scope="module")
def page_origin(local_stack: RunningStack) -> Iterator[str]:
    """The bare-fetch page, served from the stack's first allowed origin (127.0.0.1, a free port)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

    port = urlsplit(local_stack.origin).port
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(Quiet, directory=str(PAGE))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield local_stack.origin
    server.shutdown()
    server.server_close()


def test_the_frontend_path_runs_in_a_browser(
    local_stack: RunningStack, page_origin: str, chromium: str, tmp_path: Path
) -> None:
    token = local_stack.token(f"browser-{local_stack.mode}@example.com")
    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(time.time())
    expired = pool_signed_token({**claims, "iat": now - 7200, "exp": now - 3600})
    fragment = "&".join(
        f"{k}={quote(v, safe='')}"
        for k, v in {"api": local_stack.base_url, "token": token, "expired": expired}.items()
    )
    with chromium_session(chromium, tmp_path / "profile") as browser:
        page = browser.open(f"{page_origin}/index.html#{fragment}")
        result = page.wait_for(
            "(t => t !== 'running' && t)(document.getElementById('result').textContent)",
            timeout=90,
            what="the page's journey finished",
        )
        page.screenshot(f"frontend-{local_stack.mode}.png")

    seen = json.loads(result)
    assert "error" not in seen, seen
    assert (seen["init"], seen["upload"], seen["create"]) == (200, 200, 201), seen
    assert seen["list"] == {"status": 200, "ids": [seen["echo_id"]]}
    assert seen["random"] == {"status": 200, "id": seen["echo_id"]}
    assert seen["audio_duration"] == pytest.approx(0.5, abs=0.01), "the <audio> element played it"
    edit = seen["edit"]
    assert edit["status"] == 200 and edit["tags"] == ["rain", "night"], edit
    assert edit["before"] and edit["after"] and edit["before"] != edit["after"], "ETag readable, and moves"
    assert seen["stale_edit"] == {"status": 412, "error": "precondition_failed"}, seen["stale_edit"]
    assert seen["delete"] == 204
    assert seen["gone"]["status"] == 404 and seen["gone"]["json"]["error"] == "resource_not_found"
    for refused in ("expired", "missing"):
        assert seen[refused]["status"] == 401, seen[refused]
        assert seen[refused]["json"]["error"] == "authentication_failed", seen[refused]
