"""Edit one environment's section of samconfig.toml, leaving the others as they are.

samconfig.py write TEMPLATE TARGET ENV REGION BUCKET OVERRIDES
samconfig.py remove TARGET ENV
"""

import re
import sys
from pathlib import Path

SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$", re.MULTILINE)


def _sections(text: str) -> tuple[str, dict[str, str]]:
    """The text before the first section, and each section's text by its name, in order."""
    matches = list(SECTION.finditer(text))
    head = text[: matches[0].start()] if matches else text
    sections = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        sections[match["name"]] = text[match.start() : end].rstrip() + "\n\n"
    return head, sections


def _environment_of(section: str) -> str:
    return section.split(".", 1)[0]


def write(template: Path, target: Path, environment: str, region: str, bucket: str, overrides: str) -> None:
    head, wanted = _sections(template.read_text())
    filled = {
        name: body.replace("@REGION@", region)
        .replace("@ARTIFACTS_BUCKET@", bucket)
        .replace("@PARAMETER_OVERRIDES@", overrides.replace('"', '\\"'))
        for name, body in wanted.items()
        if _environment_of(name) in ("default", environment)
    }
    current = _sections(target.read_text())[1] if target.exists() else {}
    merged = {**current, **filled}
    target.write_text(head + "".join(merged.values()).rstrip() + "\n")


def remove(target: Path, environment: str) -> None:
    if not target.exists():
        return
    head, sections = _sections(target.read_text())
    kept = {name: body for name, body in sections.items() if _environment_of(name) != environment}
    target.write_text(head + "".join(kept.values()).rstrip() + "\n")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "write" and len(args) == 6:
        write(Path(args[0]), Path(args[1]), *args[2:])
    elif command == "remove" and len(args) == 2:
        remove(Path(args[0]), args[1])
    else:
        sys.exit(__doc__)
