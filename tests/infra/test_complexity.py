"""The complexity gate (issue 24): radon's cyclomatic complexity of every function and method, as
`radon cc` ranks it (A 1-5, B 6-10, C 11-20, D 21-30, E 31-40, F 41+). What ships, a reader must
hold in their head: B at worst. The tools beside it (devtools/, benchmarks/, rotation/,
scripts/*.py): D at worst. And no module of app/ over 400 lines (one job each, about 300).

To see the ranks by hand: `.venv/bin/radon cc -s app` (add `-n C` for the offenders only).
"""

from pathlib import Path

import pytest
from radon.complexity import cc_rank, cc_visit

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "lambda_handler.py", ROOT / "erasure_handler.py", *sorted((ROOT / "app").rglob("*.py"))]
TOOLS = [
    *sorted((ROOT / "devtools").rglob("*.py")),
    *sorted((ROOT / "benchmarks").rglob("*.py")),
    *sorted((ROOT / "rotation").rglob("*.py")),
    *sorted((ROOT / "scripts").glob("*.py")),
]
MAX_APP_MODULE_LINES = 400


def over(paths: list[Path], worst: str, root: Path = ROOT) -> list[str]:
    """Every function or method of PATHS ranked worse than WORST, as `path:line name rank (score)`."""
    found = []
    for path in paths:
        for block in cc_visit(path.read_text()):
            if cc_rank(block.complexity) > worst:
                rank = f"{cc_rank(block.complexity)} ({block.complexity})"
                found.append(f"{path.relative_to(root)}:{block.lineno} {block.fullname} {rank}")
    return found


@pytest.mark.parametrize(("paths", "worst"), [(SHIPPED, "B"), (TOOLS, "D")], ids=["shipped", "tools"])
def test_no_function_is_more_complex_than_its_floor(paths: list[Path], worst: str) -> None:
    assert paths and all(path.is_file() for path in paths)
    assert over(paths, worst) == []


def test_the_gate_sees_a_complex_function(tmp_path: Path) -> None:
    """The gate can fail: a function of eleven paths ranks C, over the shipped code's floor."""
    branches = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(10))
    module = tmp_path / "branchy.py"
    module.write_text(f"def f(x):\n{branches}    return -1\n")
    assert over([module], "B", tmp_path) == ["branchy.py:1 f C (11)"]
    assert over([module], "D", tmp_path) == []


def test_no_module_of_the_app_is_over_400_lines() -> None:
    lengths = {path.relative_to(ROOT): len(path.read_text().splitlines()) for path in SHIPPED}
    assert {path: n for path, n in lengths.items() if n > MAX_APP_MODULE_LINES} == {}
