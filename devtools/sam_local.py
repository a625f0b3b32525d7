"""`sam local start-api` against the running local stack (./scripts/local.sh), where Docker exists.

    .venv/bin/python -m devtools.sam_local [--host HOST] [DIR]     (DIR defaults to build/sam-local)

writes DIR/env.json (for --env-vars) and DIR/template.json, and prints the commands to run. Plain
template.yaml cannot work locally: SAM CLI resolves the function's `!Ref`s to logical ids
(COGNITO_USER_POOL_ID='UserPool'), takes the parameters' defaults rather than config/dev.env's, and
sets --env-vars variables only where the template declares them, while the function also needs the
local endpoints. So template.json is template.yaml (as long-form JSON) with the parameters' defaults
set to config/dev.env's values, the local-only variables declared and every function's code found
from any directory; env.json gives the API function every variable it reads, the running stack's
resources and the endpoints (moto, DynamoDB Local, moto's JWKS) at HOST, as a container reaches them.
HOST defaults to the stack's --listen address when it is one a container can route to, else to
host.docker.internal. docs/local-development.md has the recipe and what stays unverified.
"""

import argparse
import ipaddress
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from devtools.cfn import Resolver, load_template
from devtools.listen import EVERY_INTERFACE
from devtools.local_stack import ENVIRONMENT, ROOT, STATE_FILE, read_env_file

FUNCTION = "ApiFunction"
# What the function reads locally that the deployed template leaves to defaults: the endpoints.
LOCAL_ONLY = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "COGNITO_JWKS_URL")
DOCKER_HOST = "host.docker.internal"
REGION_KEY = "AWS_REGION"  # a config key that is no parameter: the region


def _reachable(url: str, host: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{host}:{parts.port}"))


def config_parameters(template: dict[str, Any], config: dict[str, str]) -> dict[str, str]:
    """The template parameters config/<env>.env sets: each key spelled in CamelCase (LOG_LEVEL ->
    LogLevel, as scripts/lib.sh's CONFIG_PARAMETERS; tests/infra/test_template.py holds the two to
    it), the empty ones left to their defaults."""
    by_folded_name = {name.lower(): name for name in template["Parameters"]}
    parameters = {}
    for key, value in config.items():
        name = by_folded_name.get(key.replace("_", "").lower())
        if key != REGION_KEY and value and name:
            parameters[name] = value
    return parameters


def default_host(state: dict[str, Any]) -> str:
    """Where a container finds the stack: the address moto listens on, when it is one a container
    can route to (the Docker bridge's gateway, or another of this machine's); else Docker Desktop's
    host.docker.internal (the loopback, or every interface)."""
    listen = state.get("listen", "127.0.0.1")
    return DOCKER_HOST if listen == EVERY_INTERFACE or ipaddress.ip_address(listen).is_loopback else listen


def env_vars(state: dict[str, Any], host: str, config: dict[str, str]) -> dict[str, str]:
    """Every variable the function reads, for the stack described by `state` (.local-stack.json):
    the template's own values with config's parameters, its !Refs resolved to the running stack's
    resources instead of logical ids, and the endpoints at HOST."""
    template = load_template()
    resources = {
        "EchoesTable": state["table_name"],
        "AudioBucket": state["bucket_name"],
        "UserPool": state["user_pool_id"],
        "UserPoolClient": state["app_client_id"],
        "AppSecret": state["secret_name"],
    }
    parameters = {**config_parameters(template, config), "Environment": ENVIRONMENT}
    # Other functions (which the stack does not run locally) by the names the template gives them.
    names = Resolver(template, parameters, region=state["region"])
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function" and name not in resources:
            resources[name] = str(names.resolve(resource["Properties"]["FunctionName"]))
    resolver = Resolver(template, parameters, resource_names=resources, region=state["region"])
    declared = template["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    variables = {name: str(resolver.resolve(value)) for name, value in declared.items()}
    endpoint = _reachable(state["endpoint"], host)
    variables["AWS_ENDPOINT_URL"] = endpoint
    variables["AWS_ENDPOINT_URL_DYNAMODB"] = _reachable(
        state.get("dynamodb_endpoint") or state["endpoint"], host
    )
    variables["COGNITO_JWKS_URL"] = f"{endpoint}/{state['user_pool_id']}/.well-known/jwks.json"
    # sam local runs no erasure function: DELETE /api/v1/me runs its passes in the API's process.
    variables["ERASURE_FUNCTION_NAME"] = ""
    return variables


def overlay_template(template: dict[str, Any], config: dict[str, str]) -> dict[str, Any]:
    """template.yaml with config's values as the parameters' defaults (SAM CLI takes defaults
    unless told otherwise), the local-only variables declared (so that --env-vars may set them)
    and every function's code found from any directory."""
    for name, value in {**config_parameters(template, config), "Environment": ENVIRONMENT}.items():
        template["Parameters"][name]["Default"] = value
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and not str(properties["CodeUri"]).startswith("/"):
            properties["CodeUri"] = str(ROOT / properties["CodeUri"])
    variables = template["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    for name in LOCAL_ONLY:
        variables.setdefault(name, "")
    return template


def write(directory: Path, host: str | None = None) -> tuple[Path, Path]:
    if not STATE_FILE.exists():
        raise SystemExit("error: the local stack is not running: start it with ./scripts/local.sh")
    state = json.loads(STATE_FILE.read_text())
    config = read_env_file(ROOT / "config" / f"{ENVIRONMENT}.env")
    directory.mkdir(parents=True, exist_ok=True)
    env_file, template_file = directory / "env.json", directory / "template.json"
    variables = env_vars(state, host or default_host(state), config)
    env_file.write_text(json.dumps({FUNCTION: variables}, indent=2) + "\n")
    template_file.write_text(json.dumps(overlay_template(load_template(), config), indent=2) + "\n")
    return env_file, template_file


def commands(directory: Path, host: str, region: str) -> str:
    """The commands that build the overlay (into DIR, never over .aws-sam, which deploy.sh deploys)
    and serve it."""
    built = directory / ".aws-sam" / "build"
    linux = (
        f"  --add-host {DOCKER_HOST}:host-gateway   # Linux without Docker Desktop"
        if host == DOCKER_HOST
        else ""
    )
    return (
        f"sam build --build-in-source -t {directory}/template.json --build-dir {built}\n"
        f"AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local sam local start-api -t {built}/template.yaml \\\n"
        f"  --region {region} --env-vars {directory}/env.json" + (f" \\\n{linux}" if linux else "")
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.sam_local", description=__doc__.split("\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, default=ROOT / "build" / "sam-local")
    parser.add_argument(
        "--host", help=f"how a container reaches the stack (default: its --listen address, or {DOCKER_HOST})"
    )
    args = parser.parse_args(argv)
    env_file, _ = write(args.directory, args.host)
    state = json.loads(STATE_FILE.read_text())
    host = args.host or default_host(state)
    print(f"wrote {env_file} (endpoints at {host}) and {args.directory / 'template.json'}; then:")
    print(commands(args.directory, host, state["region"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
