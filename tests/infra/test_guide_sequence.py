"""The deployment guide's three commands, as written, from an empty account: env-setup.sh, build.sh,
deploy.sh, for dev and for prod with a profile. Everything runs for real: the AWS CLI and SAM CLI
against moto's server, whose CloudFormation applies SAM's transform and stands in for what moto
cannot create (tests/infra/moto_cloudformation.py); the deployed API that deploy.sh smoke-tests is
the local `--lambda` stack (API Gateway as the template declares it, then the function)."""

from pathlib import Path

import boto3
import pytest

from devtools.moto import MotoEndpoint
from tests.infra import moto_cloudformation
from tests.infra.local_api import local_lambda_stack
from tests.infra.scripts import ACCOUNT, ROOT, bucket_names, run_script, script_env

pytestmark = pytest.mark.slow
ORIGIN = "https://app.echoes.test"  # every environment's first allowed origin here, and the local stack's


def _first_origin(repo: Path, *environments: str) -> None:
    for environment in environments:
        config = repo / "config" / f"{environment}.env"
        lines = [
            f"CORS_ALLOW_ORIGINS={ORIGIN}" if line.startswith("CORS_ALLOW_ORIGINS=") else line
            for line in config.read_text().splitlines()
        ]
        config.write_text("\n".join(lines) + "\n")


def _profile_only(tmp_path: Path, endpoint: str) -> dict[str, str]:
    """An environment whose only credentials are the AWS CLI profile `deployer`."""
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text("[profile deployer]\nregion = us-east-1\n")
    credentials.write_text("[deployer]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    env = script_env(endpoint, AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials))
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_DEFAULT_REGION"]
    return env


def _stack_status(name: str) -> str:
    status: str = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    return status


def test_the_guides_three_commands_deploy_dev_and_prod_from_an_empty_account(
    repo: Path, moto_aws: MotoEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's CloudFormation finds a TemplateURL's bucket in the path on "localhost" only.
    endpoint = f"http://localhost:{moto_aws.port}"
    _first_origin(repo, "dev", "prod")
    with (
        local_lambda_stack(ROOT, tmp_path, ORIGIN) as api,
        moto_cloudformation.as_aws(monkeypatch, api_url=api.base_url),
    ):
        setup = run_script(repo, "env-setup", "-e", "dev", endpoint=endpoint)
        assert setup.returncode == 0, setup.stderr
        build = run_script(repo, "build", endpoint=endpoint)
        assert build.returncode == 0, build.stderr
        deploy = run_script(repo, "deploy", "-e", "dev", endpoint=endpoint)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        assert "deploying the build in .aws-sam/build" in deploy.stderr, "build.sh's build, not a second one"
        assert _stack_status("echoes-dev-backend") == "CREATE_COMPLETE"
        artifacts = boto3.client("s3").list_objects_v2(
            Bucket=f"echoes-sam-artifacts-{ACCOUNT}-us-east-1", Prefix="echoes-dev-backend/"
        )
        assert artifacts["KeyCount"] >= 2, "the function's code and the template, uploaded by sam deploy"
        assert f"deployed echoes-dev-backend: {api.base_url}" in deploy.stderr

        moto_aws.reset()  # an empty account again, whose only credentials are a profile's
        assert bucket_names() == set()
        profile = _profile_only(tmp_path, endpoint)
        without = run_script(repo, "env-setup", "-e", "prod", environment=profile)
        assert without.returncode == 1 and "no usable AWS credentials" in without.stderr
        for command in (["env-setup", "-e", "prod"], ["deploy", "-e", "prod", "-y"]):
            result = run_script(repo, *command, "-p", "deployer", environment=profile)
            assert result.returncode == 0, result.stdout + result.stderr
        assert _stack_status("echoes-prod-backend") == "CREATE_COMPLETE"
        assert f"echoes-sam-artifacts-{ACCOUNT}-us-east-1" in bucket_names()
