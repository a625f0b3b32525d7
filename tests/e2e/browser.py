"""Headless Chromium for the browser tests: installed by ./scripts/test.sh (lib.sh ensure_chromium),
never by a test. Screenshots go to artifacts/."""

import os
import queue
import signal
import subprocess
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1280,1800",
    # Virtual time: the page gets this long (fast-forwarded while idle, paused during fetches) before
    # the dump or screenshot; generous, because a loaded machine stretches the page's own timers.
    "--virtual-time-budget=60000",
]


def run_chromium(binary: str, profile: Path, *args: str) -> str:
    result = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def run_until_posted(
    binary: str, profile: Path, url: str, posted: "queue.Queue[str]", timeout: float = 120
) -> str:
    """Open URL and wait, in real time, until the page POSTs what it saw (its server puts the body
    in POSTED). Not with virtual time (--dump-dom after --virtual-time-budget): that fast-forwards
    past media loads (the <audio> element's), so on a busy machine it could run out, and the DOM
    be dumped, before the page had finished."""
    real_time = [flag for flag in FLAGS if not flag.startswith("--virtual-time-budget")]
    with (profile.parent / f"{profile.name}.log").open("w") as log:
        browser = subprocess.Popen(
            [binary, *real_time, f"--user-data-dir={profile}", url],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its renderer and helpers too are stopped at the end
        )
    try:
        return posted.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"the page reported nothing within {timeout:.0f} s")
    finally:
        os.killpg(browser.pid, signal.SIGTERM)
        try:
            browser.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait()


def screenshot(binary: str, profile: Path, url: str, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    run_chromium(binary, profile, f"--screenshot={shot}", url)
    assert shot.stat().st_size > 10_000
    return shot
