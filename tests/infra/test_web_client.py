"""The web client (clients/web): its TypeScript types are the API's, its JavaScript type-checks
against them, and its own logic passes its tests (node --test). The npm packages are installed by
./scripts/test.sh (lib.sh ensure_web_client); the browser runs the client against the local stack
in tests/e2e/test_frontend_browser.py."""

import shutil
import subprocess

import pytest

from devtools import openapi_types

WEB_CLIENT = openapi_types.WEB_CLIENT
NODE_MODULES = WEB_CLIENT / "node_modules"


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    if not (NODE_MODULES / ".bin" / "tsc").exists():
        pytest.fail("clients/web/node_modules is missing: ./scripts/test.sh installs it (npm ci; needs npm)")


def _run(*command: str) -> None:
    result = subprocess.run(command, cwd=WEB_CLIENT, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"


def test_the_generated_types_are_the_apis() -> None:
    """Regenerated from the OpenAPI document the app builds now, they equal the checked-in file."""
    checked_in = openapi_types.TYPES_FILE.read_text()
    assert openapi_types.generate() == checked_in, (
        f"clients/web/api-types.d.ts differs from the API's OpenAPI document: run {openapi_types.REGENERATE} "
        "and check that clients/web still type-checks"
    )


def test_the_client_type_checks_against_them() -> None:
    """tsc --noEmit over the client, the sign-in module and the demo (// @ts-check, JSDoc types)."""
    _run(str(NODE_MODULES / ".bin" / "tsc"), "--project", ".")


def test_the_client_logic() -> None:
    node = shutil.which("node")
    assert node, "node is missing (it comes with npm)"
    _run(node, "--test", "test/")
