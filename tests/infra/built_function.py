"""What a built function folder must hold: the function and its libraries, compiled, and nothing
of the repository or its dev tools. Shared by the artifact tests and the build script's test."""

from pathlib import Path

AARCH64, X86_64 = 0xB7, 0x3E  # ELF e_machine values
DEV_ONLY = {
    "moto",
    "pytest",
    "httpx",
    "uvicorn",
    "boto3",
    "botocore",
    "snapshot_restore_py",  # the managed runtime has it (SnapStart hooks)
    "devtools",
    "tests",
    "yaml",
    "requests",
    "swagger_ui_bundle",
}


def elf_machine(path: Path) -> int:
    with path.open("rb") as handle:
        header = handle.read(20)
    return int.from_bytes(header[18:20], "little")


def assert_ships_only_the_function(folder: Path) -> None:
    top = {entry.name.split("-")[0] for entry in folder.iterdir()}
    assert {"lambda_handler.py", "erasure_handler.py", "app"} <= top
    assert not (top & DEV_ONLY), f"dev-only code shipped: {top & DEV_ONLY}"
    for name in ("template.yaml", "README.md", "requirements-dev.txt", ".venv", "scripts", "config"):
        assert not (folder / name).exists(), name
    sources = list(folder.rglob("*.py"))
    compiled = {
        p.parent.parent / (p.name.split(".")[0] + ".py")
        for p in folder.rglob("__pycache__/*.cpython-313.pyc")
    }
    missing = [p for p in sources if p not in compiled]
    assert not missing, f"{len(missing)} modules without a .pyc, e.g. {missing[:3]}"


def assert_compiled_for(folder: Path, machine: int) -> None:
    libraries = list(folder.rglob("*.so"))
    assert libraries, "compiled wheels expected (pydantic_core, ...)"
    wrong = [p for p in libraries if elf_machine(p) != machine]
    assert not wrong, f"not for ELF machine {machine:#x}: {wrong[:3]}"
