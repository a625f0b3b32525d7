"""`sam local start-api` against the running local stack (./scripts/local.sh), where Docker exists.

    .venv/bin/python -m devtools.sam_local [--host HOST] [DIR]     (DIR defaults to build/sam-local)

writes DIR/env.json (--env-vars) and DIR/template.json. Two things keep plain template.yaml from
working locally: SAM CLI resolves the function's `!Ref`s to logical ids (COGNITO_USER_POOL_ID=
'UserPool'), and it only sets --env-vars variables the template declares, while the function
also needs AWS_ENDPOINT_URL and COGNITO_JWKS_URL to reach moto. So the overlay template is
template.yaml (as long-form JSON) with those two declared, and env.json gives every variable the
running stack's values, with endpoints a container can reach (HOST, default host.docker.internal).
docs/local-development.md has the recipe.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from devtools.cfn import Resolver, load_template
from devtools.local_stack import ENVIRONMENT, ROOT, STATE_FILE, read_env_file

FUNCTION = "ApiFunction"
# What the function reads locally that the deployed template leaves to defaults.
LOCAL_ONLY = ("AWS_ENDPOINT_URL", "COGNITO_JWKS_URL")


def _reachable(url: str, host: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{host}:{parts.port}"))


def env_vars(state: dict[str, Any], host: str, config: dict[str, str]) -> dict[str, str]:
    """Every variable the function reads, for the stack described by `state` (.local-stack.json):
    the template's own values, its !Refs resolved to the running stack's resources instead of
    logical ids, and the endpoints a container reaches."""
    template = load_template()
    resources = {
        "EchoesTable": state["table_name"],
        "AudioBucket": state["bucket_name"],
        "UserPool": state["user_pool_id"],
        "UserPoolClient": state["app_client_id"],
        "AppSecret": state["secret_name"],
    }
    parameters = {"Environment": ENVIRONMENT, "CorsAllowOrigins": config["CORS_ALLOW_ORIGINS"]}
    resolver = Resolver(template, parameters, resource_names=resources, region=state["region"])
    declared = template["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    variables = {name: str(resolver.resolve(value)) for name, value in declared.items()}
    endpoint = _reachable(state["endpoint"], host)
    variables["AWS_ENDPOINT_URL"] = endpoint
    variables["COGNITO_JWKS_URL"] = f"{endpoint}/{state['user_pool_id']}/.well-known/jwks.json"
    return variables


def overlay_template(template: dict[str, Any]) -> dict[str, Any]:
    """template.yaml with the local-only variables declared (so --env-vars may set them) and the
    code found from any directory."""
    function = template["Resources"][FUNCTION]["Properties"]
    function["CodeUri"] = str(ROOT)
    variables = function["Environment"]["Variables"]
    for name in LOCAL_ONLY:
        variables.setdefault(name, "")
    return template


def write(directory: Path, host: str) -> tuple[Path, Path]:
    if not STATE_FILE.exists():
        raise SystemExit("error: the local stack is not running: start it with ./scripts/local.sh")
    state = json.loads(STATE_FILE.read_text())
    config = read_env_file(ROOT / "config" / f"{ENVIRONMENT}.env")
    directory.mkdir(parents=True, exist_ok=True)
    env_file, template_file = directory / "env.json", directory / "template.json"
    env_file.write_text(json.dumps({FUNCTION: env_vars(state, host, config)}, indent=2) + "\n")
    template_file.write_text(json.dumps(overlay_template(load_template()), indent=2) + "\n")
    return env_file, template_file


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.sam_local", description=__doc__.split("\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, default=ROOT / "build" / "sam-local")
    parser.add_argument("--host", default="host.docker.internal", help="how a container reaches this machine")
    args = parser.parse_args(argv)
    env_file, template_file = write(args.directory, args.host)
    origins = json.loads(env_file.read_text())[FUNCTION]["CORS_ALLOW_ORIGINS"]
    print(
        f"sam build -t {template_file} && AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
        f"sam local start-api --region {json.loads(STATE_FILE.read_text())['region']} "
        f"--env-vars {env_file} --parameter-overrides Environment={ENVIRONMENT} CorsAllowOrigins={origins}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
