"""Headless Chromium for the browser tests: installed by ./scripts/test.sh (lib.sh ensure_chromium),
never by a test. Screenshots go to artifacts/."""

import subprocess
from pathlib import Path

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


def screenshot(binary: str, profile: Path, url: str, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    run_chromium(binary, profile, f"--screenshot={shot}", url)
    assert shot.stat().st_size > 10_000
    return shot
