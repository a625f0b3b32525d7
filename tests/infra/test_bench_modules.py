"""The benchmark's modules stay small and import one another in one direction only (issue 24: a
module that imported its importer made each hard to read and to reuse alone)."""

import ast
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
MAX_LINES = 300


def _imports(path: Path) -> set[str]:
    """The benchmarks modules PATH imports, at any level (deferred imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "benchmarks":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("benchmarks."):
            found.add(str(node.module).split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("benchmarks.")}
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of GRAPH, or None (depth-first, keeping the modules on the current path)."""
    on_path: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str] | None:
        if module in on_path:
            return [*on_path[on_path.index(module) :], module]
        if module in done:
            return None
        on_path.append(module)
        for imported in sorted(graph.get(module, ())):
            if found := visit(imported):
                return found
        on_path.pop()
        done.add(module)
        return None

    return next((found for module in sorted(graph) if (found := visit(module))), None)


def test_the_cycle_finder_finds_a_cycle() -> None:
    looped = {"bench": {"features"}, "features": {"work"}, "work": {"bench"}}
    assert _cycle(looped) == ["bench", "features", "work", "bench"]
    assert _cycle({"bench": {"features", "work"}, "features": {"work"}, "work": set()}) is None


def test_no_benchmark_module_imports_its_importer() -> None:
    graph = {path.stem: _imports(path) for path in BENCHMARKS.glob("*.py")}
    assert {"features", "report"} <= graph["bench"], "the import reader missed imports: it is broken"
    assert _cycle(graph) is None


def test_benchmark_modules_stay_under_300_lines() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in BENCHMARKS.glob("*.py")}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}
