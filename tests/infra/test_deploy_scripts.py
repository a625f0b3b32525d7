"""env-setup.sh, build.sh and deploy.sh, run for real against moto's server."""

import tomllib
from pathlib import Path

import boto3
import pytest

from devtools.moto import MotoEndpoint
from tests.infra.built_function import AARCH64, assert_compiled_for, assert_ships_only_the_function
from tests.infra.deploy_config import expected_overrides, parse_overrides
from tests.infra.scripts import (
    ARTIFACTS_BUCKET,
    account_ready_for_deploys,
    bucket_names,
    dry_run_commands,
    run_script,
)

# --- env-setup --------------------------------------------------------------------------------

APIGATEWAY_LOGS_ROLE = "apigateway-cloudwatch-logs"
PUSH_TO_CLOUDWATCH = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


def _apigateway_logs_role() -> str | None:
    return boto3.client("apigateway").get_account().get("cloudwatchRoleArn")


@pytest.mark.slow
def test_env_setup_creates_what_a_first_deploy_needs_and_a_second_run_changes_nothing(
    repo: Path, moto_aws: MotoEndpoint
) -> None:
    """The guide's first command, as written (no option), from an empty account."""
    first = run_script(repo, "env-setup", "-e", "dev", endpoint=moto_aws.url)
    assert first.returncode == 0, first.stderr
    s3 = boto3.client("s3")
    assert bucket_names() == {ARTIFACTS_BUCKET}
    assert s3.get_bucket_versioning(Bucket=ARTIFACTS_BUCKET)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=ARTIFACTS_BUCKET)["PublicAccessBlockConfiguration"][
        "BlockPublicPolicy"
    ]
    assert s3.get_bucket_encryption(Bucket=ARTIFACTS_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    # API Gateway's CloudWatch role for the region: the stage's access log fails to create without it.
    iam = boto3.client("iam")
    role = iam.get_role(RoleName=APIGATEWAY_LOGS_ROLE)["Role"]
    assert _apigateway_logs_role() == role["Arn"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert (
        trust["Principal"] == {"Service": "apigateway.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    )
    attached = iam.list_attached_role_policies(RoleName=APIGATEWAY_LOGS_ROLE)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [PUSH_TO_CLOUDWATCH]
    samconfig = (repo / "samconfig.toml").read_text()
    assert 's3_bucket = "echoes-sam-artifacts-123456789012-us-east-1"' in samconfig
    overrides = tomllib.loads(samconfig)["dev"]["deploy"]["parameters"]["parameter_overrides"]
    assert parse_overrides(overrides) == expected_overrides("dev")
    assert "@" not in samconfig.split("[dev.deploy.parameters]")[1].split("[")[0]
    assert "dev is ready to deploy" in first.stderr

    second = run_script(repo, "env-setup", "-e", "dev", endpoint=moto_aws.url)
    assert second.returncode == 0, second.stderr
    assert "exists" in second.stderr and "creating" not in second.stderr and "setting" not in second.stderr
    assert (repo / "samconfig.toml").read_text() == samconfig
    assert bucket_names() == {ARTIFACTS_BUCKET}

    staging = run_script(repo, "env-setup", "-e", "staging", endpoint=moto_aws.url)
    assert staging.returncode == 0, staging.stderr
    both = (repo / "samconfig.toml").read_text()
    assert "[dev.deploy.parameters]" in both and "Environment=staging" in both


def test_env_setup_keeps_the_accounts_own_apigateway_logs_role(repo: Path, moto_aws: MotoEndpoint) -> None:
    """The setting is the account's, for every API in the region: one already set stays as it is."""
    theirs = "arn:aws:iam::123456789012:role/their-apigateway-logs"
    boto3.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": theirs}]
    )
    result = run_script(repo, "env-setup", "-e", "dev", endpoint=moto_aws.url)
    assert result.returncode == 0, result.stderr
    assert _apigateway_logs_role() == theirs and f"CloudWatch role in us-east-1: {theirs}" in result.stderr
    assert boto3.client("iam").list_roles()["Roles"] == []


@pytest.mark.slow
def test_env_setup_check_creates_nothing_and_names_what_is_missing(
    repo: Path, moto_aws: MotoEndpoint
) -> None:
    """--check (what a deploy role that may not create runs): never "ready" over a missing resource."""
    missing_bucket = run_script(repo, "env-setup", "-e", "prod", "--check", endpoint=moto_aws.url)
    assert missing_bucket.returncode == 1
    assert f"artifacts bucket {ARTIFACTS_BUCKET} does not exist in us-east-1" in missing_bucket.stderr
    assert "ready" not in missing_bucket.stderr and not (repo / "samconfig.toml").exists()
    assert bucket_names() == set() and _apigateway_logs_role() is None
    boto3.client("s3").create_bucket(Bucket=ARTIFACTS_BUCKET)
    missing_role = run_script(repo, "env-setup", "-e", "prod", "--check", endpoint=moto_aws.url)
    assert missing_role.returncode == 1, missing_role.stderr
    assert "API Gateway has no CloudWatch role in us-east-1" in missing_role.stderr
    assert "ready" not in missing_role.stderr and not (repo / "samconfig.toml").exists()
    assert boto3.client("iam").list_roles()["Roles"] == [] and _apigateway_logs_role() is None


def test_env_setup_refuses_an_artifacts_bucket_in_another_region(repo: Path, moto_aws: MotoEndpoint) -> None:
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket=ARTIFACTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    result = run_script(repo, "env-setup", "-e", "dev", endpoint=moto_aws.url)
    assert result.returncode == 1
    assert f"artifacts bucket {ARTIFACTS_BUCKET} is in eu-west-1, not us-east-1" in result.stderr
    assert not (repo / "samconfig.toml").exists()


def test_env_setup_refuses_a_bad_config(repo: Path, moto_aws: MotoEndpoint) -> None:
    config = repo / "config" / "prod.env"
    config.write_text(config.read_text().replace("https://echoes.app", "http://echoes.app"))
    result = run_script(repo, "env-setup", "-e", "prod", endpoint=moto_aws.url)
    assert result.returncode == 1 and "not allowed in prod" in result.stderr
    assert bucket_names() == set() and not (repo / "samconfig.toml").exists()


@pytest.mark.slow
def test_env_setup_takes_region_and_alarm_email_from_the_config_file(
    repo: Path, moto_aws: MotoEndpoint
) -> None:
    config = repo / "config" / "prod.env"
    text = config.read_text()
    config.write_text(
        text.replace("AWS_REGION=us-east-1", "AWS_REGION=eu-west-1").replace(
            "ALARM_EMAIL=alarms@echoes.app\n", "ALARM_EMAIL=ops@example.com\n"
        )
    )
    for region in ("eu-west-1", "us-west-2"):  # the CloudWatch role only: the buckets are env-setup's to make
        boto3.client("apigateway", region_name=region).update_account(
            patchOperations=[
                {"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::123456789012:role/r"}
            ]
        )
    result = run_script(repo, "env-setup", "-e", "prod", endpoint=moto_aws.url)
    assert result.returncode == 0, result.stderr
    deploy = tomllib.loads((repo / "samconfig.toml").read_text())["prod"]["deploy"]["parameters"]
    assert deploy["region"] == "eu-west-1"
    assert deploy["s3_bucket"] == "echoes-sam-artifacts-123456789012-eu-west-1"
    assert "echoes-sam-artifacts-123456789012-eu-west-1" in bucket_names()
    assert parse_overrides(deploy["parameter_overrides"])["AlarmEmail"] == "ops@example.com"
    overridden = run_script(repo, "env-setup", "-e", "prod", "-r", "us-west-2", endpoint=moto_aws.url)
    assert overridden.returncode == 0, overridden.stderr
    assert tomllib.loads((repo / "samconfig.toml").read_text())["prod"]["deploy"]["parameters"]["region"] == (
        "us-west-2"
    ), "-r wins over the file"


def test_a_config_key_that_does_nothing_is_refused(repo: Path, moto_aws: MotoEndpoint) -> None:
    config = repo / "config" / "dev.env"
    config.write_text(config.read_text() + "S3_BUCKET_NAME=echoes-dev-audio\n")
    result = run_script(repo, "env-setup", "-e", "dev", endpoint=moto_aws.url)
    assert result.returncode == 1 and "unknown key S3_BUCKET_NAME" in result.stderr
    assert not (repo / "samconfig.toml").exists()


@pytest.mark.slow
def test_env_setup_without_credentials_fails_clearly(repo: Path) -> None:
    result = run_script(repo, "env-setup", "-e", "dev")
    assert result.returncode == 1 and "no usable AWS credentials" in result.stderr


# --- build and deploy -------------------------------------------------------------------------


@pytest.mark.slow
def test_deploy_build_only_builds_arm64_optimised_by_default_and_no_optimize_keeps_everything(
    repo: Path,
) -> None:
    """`deploy -b` is build.sh with its defaults (sam build), so one build checks both (each takes
    seconds): Lambda's arm64 wheels, only the function, and the size optimisations."""
    built = run_script(repo, "deploy", "-b")  # any AWS call would hit the closed endpoint and fail
    assert built.returncode == 0, built.stderr
    assert "Built function: unzipped" in built.stdout
    function = repo / ".aws-sam" / "build" / "ApiFunction"
    assert_ships_only_the_function(function)
    assert_compiled_for(function, AARCH64)
    assert not (function / "aws_lambda_powertools" / "event_handler").exists(), "optimised by default"
    plain = run_script(repo, "build", "-c", "--no-optimize")
    assert plain.returncode == 0, plain.stderr
    assert (function / "aws_lambda_powertools" / "event_handler").exists()


@pytest.mark.slow
def test_deploy_takes_samconfig_and_passes_only_what_a_flag_overrides(
    repo: Path, moto_aws: MotoEndpoint
) -> None:
    """samconfig.toml's section is the one source of stack, region, bucket and parameters: deploy
    passes only --config-env, and each flag that overrides it (saying so)."""
    account_ready_for_deploys()
    assert run_script(repo, "env-setup", "-e", "dev", endpoint=moto_aws.url).returncode == 0
    result = run_script(
        repo,
        "deploy",
        "-e",
        "dev",
        "-y",
        endpoint=moto_aws.url,
        DRY_RUN="true",
        DEBUG="true",
        LOG_LEVEL="WARNING",
    )
    assert result.returncode == 0, result.stderr
    build, *commands = dry_run_commands(result.stdout)
    assert build == [str(repo / "scripts" / "build.sh")] and not (repo / ".aws-sam").exists(), "nothing built"
    assert commands[0] == [
        "sam",
        "deploy",
        "--config-env",
        "dev",
        "--parameter-overrides",
        commands[0][5],
        "--no-confirm-changeset",
        "--debug",
    ]
    # Every key of config/dev.env, the caller's LOG_LEVEL in place of the file's (debug mode).
    assert parse_overrides(commands[0][5]) == expected_overrides("dev", log_level="WARNING")
    assert commands[1][:6] == [
        "aws",
        "--region",
        "us-east-1",
        "cloudformation",
        "describe-stacks",
        "--stack-name",
    ]
    assert "+ " in result.stderr, "DEBUG=true traces commands"
    assert "[warn]" not in result.stderr, "nothing overridden, samconfig.toml as config/dev.env gives it"

    flags = run_script(
        repo,
        "deploy",
        "-e",
        "dev",
        "-y",
        "-r",
        "eu-west-1",
        "-s",
        "my-stack",
        endpoint=moto_aws.url,
        DRY_RUN="true",
    )
    assert flags.returncode == 0, flags.stderr
    assert "-r eu-west-1 overrides samconfig.toml's region us-east-1" in flags.stderr
    assert "-s my-stack overrides samconfig.toml's stack name echoes-dev-backend" in flags.stderr
    eu_bucket = "echoes-sam-artifacts-123456789012-eu-west-1"
    commands = dry_run_commands(flags.stdout)
    # -r checks that region's artifacts bucket, and (a dry run prints it) creates it when missing.
    assert ["aws", "--region", "eu-west-1", "s3api", "create-bucket", "--bucket", eu_bucket,
            "--create-bucket-configuration", "LocationConstraint=eu-west-1"] in commands  # fmt: skip
    assert [
        "sam", "deploy", "--config-env", "dev", "--region", "eu-west-1", "--s3-bucket", eu_bucket,
        "--stack-name", "my-stack", "--s3-prefix", "my-stack", "--no-confirm-changeset",
    ] in commands  # fmt: skip
    assert bucket_names() == {ARTIFACTS_BUCKET}, "a dry run creates nothing"

    staging = run_script(repo, "deploy", "-e", "staging", endpoint=moto_aws.url, DRY_RUN="true")
    assert staging.returncode == 1 and "env-setup.sh -e staging" in staging.stderr, (
        "no samconfig for staging yet"
    )
    unknown_profile = run_script(
        repo, "deploy", "-e", "dev", "-p", "nobody", endpoint=moto_aws.url, DRY_RUN="true"
    )
    assert unknown_profile.returncode == 1
    assert "no usable AWS credentials for profile nobody" in unknown_profile.stderr


def test_deploy_says_when_samconfig_is_older_than_the_config(repo: Path, moto_aws: MotoEndpoint) -> None:
    account_ready_for_deploys()
    assert run_script(repo, "env-setup", "-e", "dev", endpoint=moto_aws.url).returncode == 0
    config = repo / "config" / "dev.env"
    config.write_text(
        config.read_text().replace("UPLOADS_PER_USER_PER_HOUR=120", "UPLOADS_PER_USER_PER_HOUR=7")
    )
    result = run_script(repo, "deploy", "-e", "dev", "-y", endpoint=moto_aws.url, DRY_RUN="true")
    assert result.returncode == 0, result.stderr
    assert "samconfig.toml [dev] differs from config/dev.env in: UploadsPerUserPerHour" in result.stderr
    (deploy,) = [c for c in dry_run_commands(result.stdout) if c[:2] == ["sam", "deploy"]]
    assert "--parameter-overrides" not in deploy, "samconfig.toml's values are deployed, as said"


def test_deploy_to_prod_needs_confirmation(repo: Path, moto_aws: MotoEndpoint) -> None:
    account_ready_for_deploys()
    assert run_script(repo, "env-setup", "-e", "prod", endpoint=moto_aws.url).returncode == 0
    result = run_script(repo, "deploy", "-e", "prod", endpoint=moto_aws.url, DRY_RUN="true")
    assert result.returncode == 1 and "needs confirmation" in result.stderr
    assert not (repo / ".aws-sam").exists(), "nothing built before the answer"


@pytest.mark.parametrize(
    ("domain", "certificate", "refusal"),
    [
        ("api.echoes.test", "", "CUSTOM_DOMAIN_NAME and CUSTOM_DOMAIN_CERTIFICATE_ARN go together"),
        ("", "arn:aws:acm:us-east-1:123456789012:certificate/abc", "go together"),
        ("api.echoes.test", "arn:aws:acm:eu-west-1:123456789012:certificate/abc", "is not in us-east-1"),
    ],
    ids=["name-only", "certificate-only", "certificate-of-another-region"],
)
def test_env_setup_refuses_a_custom_domain_the_template_or_api_gateway_would(
    repo: Path, domain: str, certificate: str, refusal: str
) -> None:
    """Refused before any AWS call (the endpoint is closed): the template's rule, and a regional
    custom domain's need for a certificate of its own region, checked at once."""
    config = repo / "config" / "dev.env"
    config.write_text(
        config.read_text()
        .replace("CUSTOM_DOMAIN_NAME=\n", f"CUSTOM_DOMAIN_NAME={domain}\n")
        .replace("CUSTOM_DOMAIN_CERTIFICATE_ARN=\n", f"CUSTOM_DOMAIN_CERTIFICATE_ARN={certificate}\n")
    )
    result = run_script(repo, "env-setup", "-e", "dev")
    assert result.returncode == 1 and refusal in result.stderr, result.stderr
    assert not (repo / "samconfig.toml").exists()
