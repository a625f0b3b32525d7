"""What config/<env>.env should give template.yaml, worked out here independently of scripts/lib.sh:
each key sets the parameter spelled as the key in CamelCase (LOG_LEVEL -> LogLevel), except
AWS_REGION, the region the environment is deployed to."""

from pathlib import Path

from devtools.cfn import load_template
from devtools.local_stack import read_env_file

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")
REGION_KEY = "AWS_REGION"
PARAMETERS = load_template()["Parameters"]


def config_of(environment: str) -> dict[str, str]:
    return read_env_file(ROOT / "config" / f"{environment}.env")


def parameter_for(key: str) -> str:
    """The template parameter a config key sets; KeyError when the template has none."""
    camel = "".join(part.capitalize() for part in key.split("_"))
    by_folded_name = {name.lower(): name for name in PARAMETERS}
    return by_folded_name[camel.lower()]


def expected_overrides(environment: str, log_level: str | None = None) -> dict[str, str]:
    """The parameter overrides deploy should pass: every non-empty key but AWS_REGION, with the
    caller's LOG_LEVEL (debug mode) in place of the file's."""
    values = {**config_of(environment), **({"LOG_LEVEL": log_level} if log_level else {})}
    return {parameter_for(key): value for key, value in values.items() if key != REGION_KEY and value}


def parse_overrides(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split())
