"""/docs in a real browser: Swagger UI must fetch the OpenAPI document (under the stage prefix in
--lambda mode) and render the echoes operations. Screenshots are kept in artifacts/."""

from pathlib import Path

import pytest

from tests.e2e.browser import chromium_session
from tests.e2e.stack import RunningStack

pytestmark = pytest.mark.e2e


def test_swagger_ui_renders_the_echoes_operations(
    local_stack: RunningStack, chromium: str, tmp_path: Path
) -> None:
    with chromium_session(chromium, tmp_path / "profile") as browser:
        page = browser.open(f"{local_stack.base_url}/docs")
        # Swagger UI's operation blocks exist once its fetch of the OpenAPI document succeeded.
        page.wait_for("document.querySelectorAll('.opblock').length > 0", what="Swagger UI's operations")
        text = page.evaluate("document.body.innerText")
        page.screenshot(f"docs-{local_stack.mode}.png")
    assert "Failed to load API definition" not in text
    for operation in ("/api/v1/echoes/init-upload", "/api/v1/echoes/random", "/api/v1/echoes/{echo_id}"):
        assert operation in text, f"Swagger UI did not render {operation}"
