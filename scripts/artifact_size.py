"""Size of a built function folder: unzipped, zipped (as Lambda receives it), files, largest packages.

artifact_size.py DIR [--json]
"""

import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any


def measure(folder: Path) -> dict[str, object]:
    files = [path for path in folder.rglob("*") if path.is_file()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            archive.write(path, path.relative_to(folder))
    by_package: dict[str, int] = {}
    for path in files:
        top = path.relative_to(folder).parts[0]
        by_package[top] = by_package.get(top, 0) + path.stat().st_size
    largest = sorted(by_package.items(), key=lambda item: -item[1])[:5]
    return {
        "unzipped_bytes": sum(path.stat().st_size for path in files),
        "zipped_bytes": buffer.tell(),
        "files": len(files),
        "largest": [{"package": name, "bytes": size} for name, size in largest],
    }


def describe_largest(size: dict[str, Any]) -> str:
    return ", ".join(f"{p['package']} {p['bytes'] / 1e6:.1f} MB" for p in size["largest"])


def describe(size: dict[str, Any]) -> str:
    return (
        f"unzipped {size['unzipped_bytes'] / 1e6:.1f} MB, zipped {size['zipped_bytes'] / 1e6:.1f} MB, "
        f"{size['files']} files; largest: {describe_largest(size)}"
    )


if __name__ == "__main__":
    measured = measure(Path(sys.argv[1]))
    print(json.dumps(measured) if "--json" in sys.argv else describe(measured))
