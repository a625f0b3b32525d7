"""Remove from a built function folder what never runs on Lambda: type stubs, tests, docs,
caches, and the Powertools modules Echoes does not import. Prints what it saved."""

import shutil
import sys
from pathlib import Path

# The Powertools modules that importing lambda_handler and reading a secret load (measured with
# sys.modules); the rest (event_handler, parser, idempotency, ...) never runs in Echoes.
POWERTOOLS_KEEP = {
    "__init__.py",
    "py.typed",
    "package_logger.py",
    "exceptions",
    "logging",
    "metrics",
    "middleware_factory",
    "shared",
    "tracing",
    "utilities",
    "warnings",
}
POWERTOOLS_UTILITIES_KEEP = {"__init__.py", "jmespath_utils", "serialization.py", "typing"}
# pydantic/v1: pydantic's legacy API. Nothing in Echoes uses it; FastAPI imports it only to check
# that no route uses a v1 model, and treats its absence as "none" (fastapi/_compat/shared.py).
# Shipped, that check costs every cold start (docs/performance.md). bin: the console scripts pip installs.
UNUSED_PACKAGES = ("pydantic/v1", "bin")
DEAD_SUFFIXES = (".pyi", ".pyc", ".pyo", ".c", ".h", ".pyx", ".pxd", ".md", ".rst")
DEAD_DIRS = {"tests", "test", "__pycache__", "docs", "examples"}


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def slim(root: Path) -> None:
    before = _size(root)
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir() and path.name in DEAD_DIRS and path.parent != root:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in DEAD_SUFFIXES:
            path.unlink()
    powertools = root / "aws_lambda_powertools"
    for child in list(powertools.iterdir()):
        if child.name not in POWERTOOLS_KEEP and not child.name.endswith(".dist-info"):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for child in list((powertools / "utilities").iterdir()):
        if child.name not in POWERTOOLS_UTILITIES_KEEP:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for unused in UNUSED_PACKAGES:
        shutil.rmtree(root / unused, ignore_errors=True)
    after = _size(root)
    print(f"slimmed {root}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB", file=sys.stderr)


if __name__ == "__main__":
    slim(Path(sys.argv[1]))
