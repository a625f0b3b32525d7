"""Each room keeps to its floor (issue 24; docs/design.md, Layers): a module of app/ imports only
from its own floor or the floors beneath it, lazy imports inside functions included.

  5 wiring     app/main.py, app/snapstart.py
  4 routes     app/routes/
  3 use cases  app/service.py, app/uploads.py, app/staging.py, app/account.py, app/erasure.py,
               app/sweep.py, app/auth.py, app/health.py
  2 stores     app/store/
  1 ground     everything else: settings, models, errors, observability, deadline, aws, the
               middleware and the token's cryptography (app/jws.py, app/jwks.py)
"""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
WIRING = {"app.main", "app.snapstart"}
USE_CASES = {
    "app.service",
    "app.uploads",
    "app.staging",
    "app.account",
    "app.erasure",
    "app.sweep",
    "app.auth",
    "app.health",
}


def floor(module: str) -> int:
    if module in WIRING:
        return 5
    if module.startswith("app.routes"):
        return 4
    if module in USE_CASES:
        return 3
    if module.startswith("app.store"):
        return 2
    return 1


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every app module PATH imports, at the top or inside a function (`from app import x`: app.x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("app")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            if node.module == "app":
                found |= {f"app.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return found


MODULES = {_module_name(path): path for path in sorted(APP.rglob("*.py"))}


@pytest.mark.parametrize("module", list(MODULES))
def test_a_module_imports_only_from_its_floor_or_beneath(module: str) -> None:
    above = {imported for imported in imports_of(MODULES[module]) if floor(imported) > floor(module)}
    assert above == set(), f"{module} (floor {floor(module)}) imports from above: {sorted(above)}"


def test_the_routes_and_the_errors_know_no_store() -> None:
    """The two the review found: routes reached into app/store for the list's selection, and the
    errors module (the ground floor) for the cursor key's exception."""
    for module, path in MODULES.items():
        if module.startswith("app.routes") or module == "app.errors":
            assert not {m for m in imports_of(path) if m.startswith("app.store")}, module


def test_the_floors_are_read_from_real_imports() -> None:
    """The test reads what it should: a route imports a use case, a use case a store."""
    assert "app.service" in imports_of(MODULES["app.routes.echoes"])
    assert "app.store.echoes" in imports_of(MODULES["app.service"])
    assert "app.jws" in imports_of(MODULES["app.jwks"])  # a lazy import, inside a function


def test_tests_share_helpers_through_modules_not_conftest_or_other_tests() -> None:
    """docs/design.md, Tests: conftest.py files hold fixtures only, and no test imports from
    another test module; shared helpers live in tests/support.py and the suites' helper modules."""
    tests = APP.parent / "tests"
    borrowed = {
        f"{path.relative_to(tests)}: {node.module}"
        for path in sorted(tests.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("tests.")
        and node.module.rsplit(".", 1)[-1].startswith(("conftest", "test_"))
    }
    assert borrowed == set()
