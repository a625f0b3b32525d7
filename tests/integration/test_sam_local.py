"""`sam local start-api` against the local stack, checked statically: no Docker engine here, so the
container run itself is not tested. What is: the env-vars file holds every variable the function
reads, the overlay template declares each of them (SAM CLI drops --env-vars entries the template
does not declare, and resolves undeclared !Refs to logical ids), and the function's settings load
from that file alone, naming the stack's real resources rather than logical ids."""

import json
from pathlib import Path

import pytest

from app.settings import Settings, load_settings
from devtools import sam_local
from devtools.cfn import load_template
from devtools.local_aws import LocalStack
from devtools.local_stack import ENVIRONMENT, ROOT, read_env_file

CONFIG = read_env_file(ROOT / "config" / f"{ENVIRONMENT}.env")


@pytest.fixture
def env(stack: LocalStack) -> dict[str, str]:
    state = {"endpoint": "http://127.0.0.1:5005", **stack.__dict__}
    return sam_local.env_vars(state, "host.docker.internal", CONFIG)


def _declared() -> set[str]:
    function = sam_local.overlay_template(load_template())["Resources"][sam_local.FUNCTION]["Properties"]
    return set(function["Environment"]["Variables"])


def test_every_variable_in_the_file_is_declared_and_every_declared_one_is_given(env: dict[str, str]) -> None:
    assert set(env) == _declared()
    logical_ids = set(load_template()["Resources"])
    assert not logical_ids & set(env.values()), "a !Ref left as a logical id, as SAM CLI would"


def test_every_variable_the_function_reads_is_in_the_file(env: dict[str, str]) -> None:
    required = {name.upper() for name, field in Settings.model_fields.items() if field.is_required()}
    required.discard("AWS_REGION")  # SAM CLI sets it in the container, as Lambda does
    assert required <= set(env), required - set(env)
    assert {"AWS_ENDPOINT_URL", "COGNITO_JWKS_URL"} <= set(env)  # botocore and the JWKS reach moto


def test_the_functions_settings_load_from_the_file_alone(
    env: dict[str, str], stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in {**env, "AWS_REGION": stack.region}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.cognito_user_pool_id == stack.user_pool_id != "UserPool"
    assert settings.dynamodb_table_name == stack.table_name
    assert settings.jwks_url.startswith("http://host.docker.internal:5005/")


def test_the_files_are_written_for_the_running_stack(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps({"endpoint": "http://127.0.0.1:5123", **stack.__dict__}))
    monkeypatch.setattr(sam_local, "STATE_FILE", state_file)
    env_file, template_file = sam_local.write(tmp_path / "out", "host.docker.internal")
    written = json.loads(env_file.read_text())[sam_local.FUNCTION]
    assert written["AWS_ENDPOINT_URL"] == "http://host.docker.internal:5123"
    template = json.loads(template_file.read_text())
    assert template["Resources"]["ApiFunction"]["Properties"]["CodeUri"] == str(ROOT)
    assert set(written) == set(template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"])
