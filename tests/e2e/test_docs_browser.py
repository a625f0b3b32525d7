"""/docs in a real browser: Swagger UI must fetch the OpenAPI document (under the stage prefix in
--lambda mode) and render the echoes operations. Screenshots are kept in artifacts/."""

from pathlib import Path

import pytest

from tests.e2e.browser import run_chromium, screenshot
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def test_swagger_ui_renders_the_echoes_operations(
    local_stack: RunningStack, chromium: str, tmp_path: Path
) -> None:
    url = f"{local_stack.base_url}/docs"
    dom = run_chromium(chromium, tmp_path / "profile", "--dump-dom", url)
    assert "Failed to load API definition" not in dom
    for operation in ("/api/v1/echoes/init-upload", "/api/v1/echoes/random", "/api/v1/echoes/{echo_id}"):
        assert operation in dom, f"Swagger UI did not render {operation}"
    assert "opblock" in dom  # Swagger UI's operation blocks exist, so the OpenAPI fetch succeeded

    screenshot(chromium, tmp_path / "profile-shot", url, f"docs-{local_stack.mode}.png")
