"""scripts/smoke_test.py (what deploy.sh runs after every deploy) against the local `--lambda` stack:
API Gateway as template.yaml declares it (authorizer, gateway responses, routes), then the function.
It passes there, whole journey included; and it fails when the template loses the gateway's CORS
or its 401 body, which the function's own tests cannot see (API Gateway answers those itself).
What AWS does beyond: the local gateway serves plain HTTP on 127.0.0.1 (no TLS, WAF, throttling);
the journey's PUT goes to moto's S3, which checks no signature (docs/local-development.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools.cfn import load_template
from tests.infra.local_api import LocalApi, local_lambda_stack
from tests.infra.scripts import ROOT, copy_repo

pytestmark = pytest.mark.slow
ORIGIN = "http://localhost:3000"  # config/dev.env's first origin, which the gateway's responses name
SMOKE = ROOT / "scripts" / "smoke_test.py"


def _smoke(stack: LocalApi, *extra: str) -> subprocess.CompletedProcess:
    state = stack.state()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": state["endpoint"],  # the AWS CLI's Cognito calls and the sign-in
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    return subprocess.run(
        [sys.executable, str(SMOKE), stack.base_url, ORIGIN, *extra, "--region", state["region"]],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_the_smoke_test_passes_with_the_whole_journey_and_leaves_no_user(tmp_path: Path) -> None:
    import boto3

    with local_lambda_stack(ROOT, tmp_path, f"{ORIGIN},http://localhost:5173") as stack:
        state = stack.state()
        result = _smoke(
            stack, "--journey", "--user-pool-id", state["user_pool_id"], "--client-id", state["app_client_id"]
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("ok   ") == 7, result.stdout
        cognito = boto3.client(
            "cognito-idp",
            endpoint_url=state["endpoint"],
            region_name=state["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        assert cognito.list_users(UserPoolId=state["user_pool_id"])["Users"] == [], (
            "DELETE /api/v1/me erased it"
        )


def _without_401_cors(template: dict[str, Any]) -> None:
    del template["Resources"]["Api"]["Properties"]["GatewayResponses"]["UNAUTHORIZED"]["ResponseParameters"][
        "Headers"
    ]["Access-Control-Allow-Origin"]


def _without_401_body(template: dict[str, Any]) -> None:
    del template["Resources"]["Api"]["Properties"]["GatewayResponses"]["UNAUTHORIZED"]["ResponseTemplates"]


def _with_preflights_behind_the_authorizer(template: dict[str, Any]) -> None:
    """SAM #957: the authorizer on OPTIONS refuses every browser's preflight."""
    for event in template["Resources"]["ApiFunction"]["Properties"]["Events"].values():
        if event["Properties"]["Method"].upper() == "OPTIONS":
            del event["Properties"]["Auth"]


BREAKAGES = {
    "gateway-401-without-cors": (_without_401_cors, f"the 401 readable by {ORIGIN}"),
    "gateway-401-without-its-body": (_without_401_body, "expected JSON, got 401"),
    "preflight-behind-the-authorizer": (
        _with_preflights_behind_the_authorizer,
        f"a preflight from {ORIGIN} passes",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_smoke_test_fails_when_the_template_breaks_a_door(tmp_path: Path, breakage: str) -> None:
    """Each breakage is made in a copy of the repository, whose template the local gateway serves
    (the copy has no DynamoDB Local installed: the stack runs DynamoDB on moto, enough here)."""
    break_template, failure = BREAKAGES[breakage]
    repo = copy_repo(tmp_path)
    template = load_template(repo / "template.yaml")
    break_template(template)
    (repo / "template.yaml").write_text(json.dumps(template))  # JSON is YAML: the loader reads it back
    with local_lambda_stack(repo, tmp_path, ORIGIN) as stack:
        result = _smoke(stack)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL {failure}" in result.stderr, result.stderr
