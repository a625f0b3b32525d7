"""`sam local start-api` against the local stack (devtools/sam_local.py). There is no Docker engine
here, so the container itself does not run. What is tested: the function, given exactly the
variables SAM CLI would give its container (env.json's, plus those SAM CLI sets itself), answers
/health 200 and an authenticated list 200 through lambda_handler, with host.docker.internal
resolved as a container on that network resolves it (to this machine, here 127.0.0.1), against
moto's server and Amazon's DynamoDB Local; env.json carries config/dev.env's values and every
endpoint; the overlay template declares each variable (SAM CLI drops --env-vars entries the
template does not declare, and resolves undeclared !Refs to logical ids); `sam build` builds it.
What only Docker would show: that the container resolves host.docker.internal (Docker Desktop; on
Linux --add-host host.docker.internal:host-gateway) and routes to the address the stack listens on,
and that no firewall stands between them (docs/local-development.md)."""

import importlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings, get_settings
from devtools import sam_local
from devtools.cfn import load_template
from devtools.dynamodb_local import DynamoDBLocal
from devtools.events import LambdaContext, rest_event
from devtools.local_aws import LocalStack, provision
from devtools.local_stack import ENVIRONMENT, ROOT, read_env_file
from devtools.moto import MotoEndpoint
from tests.support import ORIGINS, sign_up

CONFIG = read_env_file(ROOT / "config" / f"{ENVIRONMENT}.env")
DOCKER_HOST = "host.docker.internal"
TEMPLATE_DEFAULTS = {name: str(spec.get("Default")) for name, spec in load_template()["Parameters"].items()}


def _state(stack: LocalStack, endpoint: str = "http://127.0.0.1:5005") -> dict[str, Any]:
    return {"endpoint": endpoint, "listen": "127.0.0.1", **stack.__dict__}


@pytest.fixture
def env(stack: LocalStack) -> dict[str, str]:
    return sam_local.env_vars(_state(stack), DOCKER_HOST, CONFIG)


def _declared() -> set[str]:
    overlay = sam_local.overlay_template(load_template(), CONFIG)
    return set(overlay["Resources"][sam_local.FUNCTION]["Properties"]["Environment"]["Variables"])


def test_every_variable_in_the_file_is_declared_and_every_declared_one_is_given(env: dict[str, str]) -> None:
    assert set(env) == _declared()
    logical_ids = set(load_template()["Resources"])
    assert not logical_ids & set(env.values()), "a !Ref left as a logical id, as SAM CLI would"


def test_every_variable_the_function_reads_is_in_the_file(env: dict[str, str]) -> None:
    required = {name.upper() for name, field in Settings.model_fields.items() if field.is_required()}
    required.discard("AWS_REGION")  # SAM CLI sets it in the container, as Lambda does
    assert required <= set(env), required - set(env)
    # botocore's endpoints for every service and for DynamoDB, and the pool's JWKS: all at the host.
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "COGNITO_JWKS_URL"):
        assert env[name].startswith(f"http://{DOCKER_HOST}:"), name


def test_the_file_and_the_template_carry_config_dev_env_not_the_template_defaults(
    env: dict[str, str],
) -> None:
    """config/dev.env sets DEBUG, LOG_LEVEL and the upload limit apart from the template's defaults."""
    for key, parameter in (
        ("DEBUG", "Debug"),
        ("LOG_LEVEL", "LogLevel"),
        ("UPLOADS_PER_USER_PER_HOUR", "UploadsPerUserPerHour"),
    ):
        assert CONFIG[key] != TEMPLATE_DEFAULTS[parameter], (
            f"{key}: the test needs a value the default is not"
        )
        assert env[key] == CONFIG[key], key
    overlay = sam_local.overlay_template(load_template(), CONFIG)
    for name, value in sam_local.config_parameters(load_template(), CONFIG).items():
        assert overlay["Parameters"][name]["Default"] == value, name
    assert sam_local.config_parameters(load_template(), CONFIG)["MaxAudioBytes"] == CONFIG["MAX_AUDIO_BYTES"]


def test_a_container_finds_the_stack_where_it_listens() -> None:
    assert sam_local.default_host({"listen": "127.0.0.1"}) == DOCKER_HOST  # Docker Desktop
    assert sam_local.default_host({"listen": "0.0.0.0"}) == DOCKER_HOST  # with --add-host on Linux
    assert sam_local.default_host({"listen": "172.17.0.1"}) == "172.17.0.1"  # the bridge's gateway
    linux = sam_local.commands(Path("build/sam-local"), DOCKER_HOST, "us-east-1")
    assert "--add-host host.docker.internal:host-gateway" in linux
    assert "--add-host" not in sam_local.commands(Path("build/sam-local"), "172.17.0.1", "us-east-1")
    assert "--build-dir build/sam-local/.aws-sam/build" in linux, (
        "never over .aws-sam, which deploy.sh deploys"
    )


def test_the_files_are_written_for_the_running_stack(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(_state(stack, "http://172.17.0.1:5123") | {"listen": "172.17.0.1"}))
    monkeypatch.setattr(sam_local, "STATE_FILE", state_file)
    env_file, template_file = sam_local.write(tmp_path / "out")
    written = json.loads(env_file.read_text())[sam_local.FUNCTION]
    assert written["AWS_ENDPOINT_URL"] == "http://172.17.0.1:5123", "the stack's --listen address by default"
    template = json.loads(template_file.read_text())
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert Path(resource["Properties"]["CodeUri"]).is_absolute(), name
    assert set(written) == set(template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"])


# --- the function, given exactly what its container would get ------------------------------------


@pytest.fixture(scope="module")
def own_dynamodb_local() -> Iterator[DynamoDBLocal]:
    """A DynamoDB Local of this module's own: the session's holds tests/api's dev table already."""
    server = DynamoDBLocal().start()
    yield server
    server.stop()


@pytest.fixture
def running_stack(
    moto_endpoint: MotoEndpoint, own_dynamodb_local: DynamoDBLocal, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """What ./scripts/local.sh records in .local-stack.json, for a stack on moto's server and
    DynamoDB Local."""
    moto_endpoint.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint.url)
    stack = provision(ENVIRONMENT, ORIGINS, dynamodb_endpoint=own_dynamodb_local.url)
    return _state(stack, moto_endpoint.url)


def _as_a_container_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    """host.docker.internal, which Docker gives the container for the host, is this machine."""
    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return resolve("127.0.0.1" if host == DOCKER_HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _samcli_own_variables(region: str) -> dict[str, str]:
    """What SAM CLI 1.170 sets in every function container besides --env-vars (the AWS_* block of
    samcli/local/lambdafn/env_vars.py), with the credentials of the shell it runs in."""
    return {
        "AWS_SAM_LOCAL": "true",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ACCOUNT_ID": "123456789012",
        "AWS_LAMBDA_FUNCTION_NAME": "ApiFunction",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": CONFIG["FUNCTION_MEMORY_MB"],
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "10",
        "AWS_LAMBDA_FUNCTION_HANDLER": "lambda_handler.handler",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "aws/lambda/ApiFunction",
        "AWS_LAMBDA_LOG_STREAM_NAME": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    }


def test_the_function_given_exactly_env_json_answers_health_and_an_authenticated_list(
    running_stack: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(running_stack))
    monkeypatch.setattr(sam_local, "STATE_FILE", state_file)
    env_file, _ = sam_local.write(tmp_path / "sam-local")
    variables = json.loads(env_file.read_text())[sam_local.FUNCTION]
    assert variables["AWS_ENDPOINT_URL_DYNAMODB"].startswith(f"http://{DOCKER_HOST}:"), "DynamoDB Local's"

    _as_a_container_resolves(monkeypatch)
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in {**_samcli_own_variables(running_stack["region"]), **variables}.items():
        monkeypatch.setenv(name, value)
    user = sign_up(running_stack["user_pool_id"], running_stack["app_client_id"], "sam-local@example.com")

    get_settings.cache_clear()
    sys.modules.pop("lambda_handler", None)
    handler = importlib.import_module("lambda_handler").handler  # as the runtime does at init
    health = handler(rest_event("GET", "/health"), LambdaContext.fresh())
    assert health["statusCode"] == 200, health["body"]
    assert json.loads(health["body"])["dependencies"] == {
        "dynamodb": "connected",
        "s3": "connected",
        "cognito": "connected",
    }
    auth = {"Authorization": f"Bearer {user.access_token}"}
    listed = handler(rest_event("GET", "/api/v1/echoes", headers=auth), LambdaContext.fresh())
    assert listed["statusCode"] == 200, listed["body"]
    assert json.loads(listed["body"])["echoes"] == []
    get_settings.cache_clear()


@pytest.mark.slow
def test_sam_build_builds_the_generated_template(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The printed build command, run as printed (into its own build directory)."""
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(_state(stack)))
    monkeypatch.setattr(sam_local, "STATE_FILE", state_file)
    directory = tmp_path / "sam-local"
    sam_local.write(directory)
    build = sam_local.commands(directory, DOCKER_HOST, "us-east-1").splitlines()[0].split()
    sam = ROOT / ".venv-tools" / "bin" / "sam"
    result = subprocess.run(
        [str(sam), *build[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{sam.parent}:{os.environ['PATH']}"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = directory / ".aws-sam" / "build"
    assert (built / "ApiFunction" / "lambda_handler.py").is_file()
    assert "ApiFunction" in (built / "template.yaml").read_text()
