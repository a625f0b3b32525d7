"""Edit one environment's section of samconfig.toml, leaving the others as they are, or read it.

samconfig.py write TEMPLATE TARGET ENV REGION BUCKET OVERRIDES
samconfig.py remove TARGET ENV
samconfig.py get TARGET ENV KEY          prints the deploy parameter KEY (exit 1 when absent)
samconfig.py changed TARGET ENV OVERRIDES   prints the parameters whose value differs, one a line
"""

import re
import sys
import tomllib
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


def deploy_parameters(target: Path, environment: str) -> dict[str, object]:
    if not target.exists():
        return {}
    parameters: dict[str, object] = (
        tomllib.loads(target.read_text()).get(environment, {}).get("deploy", {}).get("parameters", {})
    )
    return parameters


def _overrides(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split())


def changed(target: Path, environment: str, overrides: str) -> list[str]:
    """The parameters whose value in samconfig.toml differs from OVERRIDES (what config gives now)."""
    written = _overrides(str(deploy_parameters(target, environment).get("parameter_overrides", "")))
    wanted = _overrides(overrides)
    return sorted(name for name in written.keys() | wanted.keys() if written.get(name) != wanted.get(name))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "write" and len(args) == 6:
        write(Path(args[0]), Path(args[1]), *args[2:])
    elif command == "remove" and len(args) == 2:
        remove(Path(args[0]), args[1])
    elif command == "get" and len(args) == 3:
        value = deploy_parameters(Path(args[0]), args[1]).get(args[2])
        if value is None:
            sys.exit(1)
        print(value)
    elif command == "changed" and len(args) == 3:
        print("\n".join(changed(Path(args[0]), args[1], args[2])))
    else:
        sys.exit(__doc__)
