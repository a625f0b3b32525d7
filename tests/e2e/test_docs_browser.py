"""/docs in a real browser: Swagger UI must fetch the OpenAPI document (under the stage prefix in
--lambda mode) and render the echoes operations. Screenshots are kept in artifacts/."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, RunningStack

pytestmark = pytest.mark.e2e
ARTIFACTS = ROOT / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1280,1800",
    "--virtual-time-budget=15000",  # lets Swagger UI fetch and render before the dump
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed here when missing (as root with apt-get)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Chromium is not installed and cannot be installed here (needs root and apt-get)")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            pytest.skip(f"Chromium could not be installed ({' '.join(command)}): {result.stderr[-500:]}")
    return shutil.which("chromium") or pytest.skip("apt-get installed chromium but it is not on PATH")


def _chromium(binary: str, profile: Path, *args: str) -> str:
    result = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_swagger_ui_renders_the_echoes_operations(
    local_stack: RunningStack, chromium: str, tmp_path: Path
) -> None:
    url = f"{local_stack.base_url}/docs"
    dom = _chromium(chromium, tmp_path / "profile", "--dump-dom", url)
    assert "Failed to load API definition" not in dom
    for operation in ("/api/v1/echoes/init-upload", "/api/v1/echoes/random", "/api/v1/echoes/{echo_id}"):
        assert operation in dom, f"Swagger UI did not render {operation}"
    assert "opblock" in dom  # Swagger UI's operation blocks exist, so the OpenAPI fetch succeeded

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"docs-{local_stack.mode}.png"
    screenshot.unlink(missing_ok=True)
    _chromium(chromium, tmp_path / "profile-shot", f"--screenshot={screenshot}", url)
    assert screenshot.stat().st_size > 10_000
