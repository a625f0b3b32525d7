"""Frontends in a real browser (headless Chromium), in both local modes.

1. The API with bare fetch (tests/e2e/frontend/index.html), from the first allowed origin:
   init-upload, the presigned upload straight to S3 (cross-origin: the bucket's CORS), create,
   list, random, an <audio> element playing audio_url, a tag edit (PATCH with the ETag read
   cross-origin as If-Match, then a stale one), delete, and the JSON of a 404 and of 401s (expired
   and missing token). A response without the right CORS headers would reach the page as an opaque
   TypeError instead.
2. The web client's demo page (clients/web/demo, served by the local stack as ./scripts/local.sh
   serves it), driven as a user: create an account and sign in with SRP, record with
   MediaRecorder (Chromium's fake microphone) and upload, pick a WAV file and upload, page through
   the list, play, random by emotion, edit tags with If-Match (a concurrent edit refused with 412,
   then saved), a 400 shown from its typed error, delete, sign out and in again, erase the
   account. Every request it makes to the API and S3 comes from clients/web/echoes-client.js,
   every one to Cognito from amazon-cognito-identity-js.

What moto does not do here that AWS does: S3 checks no signature (what S3 would refuse from the
signed URL is tested in tests/api/test_presign.py); Cognito accepts any password under SRP (it
never checks the proof: real Cognito answers NotAuthorizedException to a wrong one) and any
confirmation code, and names unknown users (UserNotFoundException, which real Cognito hides
behind NotAuthorizedException with PreventUserExistenceErrors); it has no RevokeToken.
"""

import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import jwt
import pytest

from tests.e2e.browser import Page, chromium_session
from tests.e2e.stack import RunningStack
from tests.support import pool_signed_token, wav_bytes

pytestmark = pytest.mark.e2e
PAGE = Path(__file__).resolve().parent / "frontend"
RECORD_SECONDS = 1.5
DEMO_PASSWORD = "Demo-Passw0rd-1"


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


class Demo:
    """The demo page as its user sees it: every action ends in #status (data-state ok or error,
    data-error the error's code, data-seq counting finished actions)."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def status(self) -> dict[str, str]:
        return dict(self.page.evaluate("({...document.getElementById('status').dataset})")) | {
            "text": self.page.text("#status")
        }

    def act(self, selector: str, expect: str = "ok", timeout: float = 30) -> dict[str, str]:
        """Click SELECTOR and wait for the action it starts to finish in state EXPECT."""
        done = int(self.status()["seq"])
        self.page.click(selector)
        self.page.wait_for(
            f"Number(document.getElementById('status').dataset.seq) > {done}", timeout, f"{selector} finished"
        )
        status = self.status()
        assert status["state"] == expect, f"{selector}: {status['text']}\n{self.page.diagnostics()}"
        return status

    def echo_ids(self) -> list[str]:
        return list(
            self.page.evaluate("[...document.querySelectorAll('#echo-list li')].map(e => e.dataset.echoId)")
        )

    def in_item(self, echo_id: str, part: str) -> str:
        return f"#echo-list li[data-echo-id='{echo_id}'] .{part}"

    def play(self, selector: str) -> str:
        """Start playback with SELECTOR; the id of the echo the <audio> element played to its end."""
        self.act(selector)
        played = self.page.wait_for(
            "document.getElementById('now-playing').dataset.played",
            what="the <audio> element played to the end",
        )
        assert self.page.evaluate("document.getElementById('player').error") is None
        return str(played)

    def capture(self, emotion: str, tags: str) -> str:
        """Upload what was recorded or picked; the new echo's id."""
        self.page.wait_for("document.getElementById('recorded').dataset.ready === 'true'", what="audio ready")
        self.page.evaluate(f"document.getElementById('emotion').value = {json.dumps(emotion)}")
        self.page.fill("#tags", tags)
        text = self.act("#upload")["text"]
        return text.rsplit(" as ", 1)[1]


def test_the_demo_journey_runs_through_the_web_client(
    local_stack: RunningStack, chromium: str, tmp_path: Path
) -> None:
    email = f"demo-{local_stack.mode}@example.com"
    wav = tmp_path / "birds.wav"
    wav.write_bytes(wav_bytes(seconds=0.5))
    with chromium_session(chromium, tmp_path / "profile") as browser:
        page = browser.open(local_stack.demo_url, record_network=True)
        page.wait_for("document.body.dataset.ready === 'true'", what="the demo started")
        demo = Demo(page)

        # A new account, confirmed with its code (moto takes any), then SRP sign-in.
        page.fill("#email", email)
        page.fill("#password", DEMO_PASSWORD)
        demo.act("#sign-up")
        page.fill("#code", "123456")
        demo.act("#confirm")
        demo.act("#sign-in")
        assert page.text("#who") == email

        # Recorded with MediaRecorder from the fake microphone, then a picked WAV file.
        page.click("#record")
        page.wait_for("document.getElementById('stop').disabled === false", what="recording")
        time.sleep(RECORD_SECONDS)
        page.click("#stop")
        recorded = demo.capture("calm", "rain, Night")
        page.pick_files("#file", wav)
        picked = demo.capture("joy", "birds")
        assert demo.echo_ids() == [picked, recorded], "newest first"
        page.screenshot(f"demo-{local_stack.mode}.png")

        # Pages of one, by next_cursor.
        page.evaluate("document.getElementById('page-size').value = '1'")
        demo.act("#refresh")
        assert demo.echo_ids() == [picked]
        demo.act("#more")
        assert demo.echo_ids() == [picked, recorded] and page.evaluate(
            "document.getElementById('more').hidden"
        )

        # Playback of the recording, and a random echo by emotion.
        assert demo.play(demo.in_item(recorded, "play")) == recorded
        page.evaluate("document.getElementById('random-emotion').value = 'joy'")
        assert demo.play("#random") == picked

        # Tags edited with If-Match: a change made elsewhere meanwhile is refused, then saved.
        elsewhere = local_stack.token(email, DEMO_PASSWORD)
        uploaded = {
            echo["echo_id"]: (echo["content_type"], echo["file_size"] > 0)
            for echo in httpx.get(
                f"{local_stack.base_url}/api/v1/echoes",
                headers={"Authorization": f"Bearer {elsewhere}"},
                timeout=30,
            ).json()["echoes"]
        }
        assert uploaded == {recorded: ("audio/webm;codecs=opus", True), picked: ("audio/wav", True)}
        demo.act(demo.in_item(picked, "edit"))
        changed = httpx.patch(
            f"{local_stack.base_url}/api/v1/echoes/{picked}",
            json={"transcript": "changed elsewhere"},
            headers={"Authorization": f"Bearer {elsewhere}"},
            timeout=30,
        )
        assert changed.status_code == 200, changed.text
        page.fill(demo.in_item(picked, "edit-tags"), "birds, Dawn")
        refused = demo.act(demo.in_item(picked, "save"), expect="error")
        assert refused["error"] == "precondition_failed" and "HTTP 412" in refused["text"], refused
        page.fill(demo.in_item(picked, "edit-tags"), "birds, Dawn")
        demo.act(demo.in_item(picked, "save"))
        assert page.text(demo.in_item(picked, "tags")) == "birds, dawn"

        # The API's error, as the client's typed error: emotion and tag together are refused.
        page.evaluate("document.getElementById('filter-emotion').value = 'joy'")
        page.fill("#filter-tag", "birds")
        invalid = demo.act("#refresh", expect="error")
        assert invalid["error"] == "validation_error" and "HTTP 400" in invalid["text"], invalid

        demo.act(demo.in_item(recorded, "delete"))
        assert page.text("#stats") == "1 in all"

        # Signed out, the session is gone from the page; signed in again, the echo is there.
        demo.act("#sign-out")
        assert page.evaluate("document.getElementById('signed-in').hidden && !sessionStorage.length")
        demo.act("#sign-in")
        assert demo.echo_ids() == [picked]

        page.click("#erase")
        demo.act("#erase-confirm")
        assert page.evaluate("document.getElementById('signed-in').hidden")
        # The user is gone from Cognito: signing in again fails (moto says UserNotFoundException).
        assert demo.act("#sign-in", expect="error")["error"] in {
            "UserNotFoundException",
            "NotAuthorizedException",
        }
        requests = page.requests()

    after = httpx.get(
        f"{local_stack.base_url}/api/v1/echoes", headers={"Authorization": f"Bearer {elsewhere}"}, timeout=30
    )
    assert after.status_code == 401, "the erased account's token is refused"
    assert_made_by_the_client(requests, local_stack)


def assert_made_by_the_client(requests: list[dict], stack: RunningStack) -> None:
    """Every fetch to the API and to moto (S3, Cognito) came from the published modules."""
    aws = stack.state()["endpoint"] if stack.state_file.exists() else f"http://127.0.0.1:{stack.ports[0]}"
    callers: dict[str, set[str]] = {}
    for sent in requests:
        url = sent["request"]["url"]
        if not url.startswith((stack.base_url, aws)) or sent["initiator"]["type"] == "preflight":
            continue  # CORS preflights are the browser's own
        if sent.get("type") == "Media":
            continue  # the <audio> element loading audio_url
        frames = sent["initiator"].get("stack", {}).get("callFrames", [])
        caller = frames[0]["url"].rsplit("/", 1)[-1] if frames else sent["initiator"]["type"]
        target = "api" if url.startswith(stack.base_url) else "aws"
        callers.setdefault(target, set()).add(caller)
    assert callers == {
        "api": {"echoes-client.js"},
        "aws": {"echoes-client.js", "amazon-cognito-identity.min.js"},
    }, callers
