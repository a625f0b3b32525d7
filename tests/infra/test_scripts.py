"""The deployment scripts, run for real against moto's server (AWS CLI and SAM CLI honour
AWS_ENDPOINT_URL). What moto cannot do (run AWS::Serverless::Function, so `sam deploy`) is checked
as the exact command line the script would run (DRY_RUN=true)."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.cloudformation.responses import CloudFormationResponse
from moto.logs.exceptions import InvalidParameterException
from moto.logs.responses import LogsResponse
from moto.s3.exceptions import MalformedXML
from moto.s3.models import S3Backend

from devtools.cfn import Resolver, load_template
from devtools.moto import MotoEndpoint
from tests.infra.built_function import AARCH64, assert_compiled_for, assert_ships_only_the_function
from tests.infra.deploy_config import expected_overrides, parse_overrides

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ("env-setup", "build", "deploy", "cleanup", "local")
ARTIFACTS_BUCKET = "echoes-sam-artifacts-123456789012-us-east-1"
CLOSED_ENDPOINT = "http://127.0.0.1:9"  # nothing listens: any AWS call would fail


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[MotoEndpoint]:
    endpoint = MotoEndpoint().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the repository's files (what git tracks or would add), so nothing here is touched."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    copy = tmp_path / "repo"
    for name in listed:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


@pytest.fixture
def aws(moto_endpoint: MotoEndpoint, monkeypatch: pytest.MonkeyPatch) -> MotoEndpoint:
    moto_endpoint.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint.url)
    monkeypatch.setattr(LogsResponse, "describe_log_groups", _describe_log_groups_as_aws)
    return moto_endpoint


_moto_describe_log_groups = LogsResponse.describe_log_groups


def _describe_log_groups_as_aws(self: LogsResponse) -> str:
    """moto ignores DescribeLogGroups' logGroupNamePattern; AWS keeps the names that hold it
    (case-sensitive substring) and refuses it beside logGroupNamePrefix."""
    pattern = self._get_param("logGroupNamePattern")
    if pattern is not None and self._get_param("logGroupNamePrefix") is not None:
        raise InvalidParameterException("logGroupNamePattern and logGroupNamePrefix are mutually exclusive")
    answer = json.loads(_moto_describe_log_groups(self))
    answer["logGroups"] = [g for g in answer["logGroups"] if pattern is None or pattern in g["logGroupName"]]
    return json.dumps(answer)


def _env(endpoint: str, **extra: str) -> dict[str, str]:
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEBUG", "LOG_LEVEL", "DRY_RUN"))
    }
    return {
        **keep,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        # One attempt per AWS CLI call: its retries of a refused connection (CLOSED_ENDPOINT) only
        # add backoff sleeps; moto's answers are never throttled, so nothing else is retried.
        "AWS_MAX_ATTEMPTS": "1",
        **extra,
    }


def _script(
    repo: Path, name: str, *args: str, endpoint: str = CLOSED_ENDPOINT, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(repo / "scripts" / f"{name}.sh"), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env=_env(endpoint, **env),
        check=False,
    )


def _bucket_names() -> set[str]:
    return {bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]}


# --- bad input --------------------------------------------------------------------------------

BAD_INVOCATIONS = [
    *[(script, ["--bogus"]) for script in SCRIPTS],
    *[(script, ["-e"]) for script in ("env-setup", "deploy", "cleanup")],
    *[(script, ["-e", "qa"]) for script in ("env-setup", "deploy", "cleanup")],
    *[(script, ["-e", "dev", "-r", "mars-1"]) for script in ("env-setup", "deploy", "cleanup")],
    *[(script, ["-e", "dev", "-p"]) for script in ("env-setup", "deploy", "cleanup")],
    ("env-setup", []),
    ("deploy", []),
    ("cleanup", []),
    ("deploy", ["-e", "dev", "-s", "bad name!"]),
    ("cleanup", ["-e", "dev", "-s", "bad name!"]),
    ("cleanup", ["-e", "dev", "-s"]),
    ("local", ["token"]),
    ("local", ["--lambda", "extra"]),
]


@pytest.mark.parametrize(
    ("script", "args"), BAD_INVOCATIONS, ids=[f"{s}:{' '.join(a) or 'none'}" for s, a in BAD_INVOCATIONS]
)
def test_bad_invocation_prints_usage_and_exits_2_before_touching_anything(
    repo: Path, aws: MotoEndpoint, script: str, args: list[str]
) -> None:
    before = sorted(p.relative_to(repo) for p in repo.rglob("*"))
    result = _script(repo, script, *args, endpoint=aws.url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Usage: ./scripts/" in result.stderr and "[error]" in result.stderr
    assert result.stdout == ""
    assert sorted(p.relative_to(repo) for p in repo.rglob("*")) == before
    assert _bucket_names() == set()


# What a script's --help offers: the options of its usage lines and of its option list (an
# indented line starting with them), and its commands (an indented word, then two spaces).
USAGE_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
LISTED_OPTIONS = re.compile(r"^\s+(--?[A-Za-z][\w-]*(?:,\s*--?[A-Za-z][\w-]*)*)")
LISTED_COMMAND = re.compile(r"^\s+([a-z][\w-]*)\s{2,}\S")
# What the deployment guide lists for a script: a bullet's leading `-x`, `--xx` or `command`.
DOCUMENTED = re.compile(r"`(--?[A-Za-z][\w-]*|[a-z][\w-]*)")


def _offered(help_text: str) -> set[str]:
    offered: set[str] = set()
    for line in help_text.splitlines():
        if line.startswith("Usage:") or line.lstrip().startswith("./scripts/"):
            offered |= set(USAGE_OPTION.findall(line.split(".sh", 1)[1]))
        elif listed := LISTED_OPTIONS.match(line):
            offered |= {option.strip() for option in listed[1].split(",")}
        elif command := LISTED_COMMAND.match(line):
            offered.add(command[1])
    return offered


def _documented(script: str) -> set[str]:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    heading = f"### `scripts/{script}.sh`\n"
    assert heading in guide, f"docs/deployment.md has no section for {script}.sh"
    section = re.split(r"\n#", guide.split(heading, 1)[1], maxsplit=1)[0]
    documented: set[str] = set()
    for line in section.splitlines():
        if line.startswith("- `"):
            documented |= set(DOCUMENTED.findall(line.split(": ", 1)[0]))
    return documented


def test_the_help_parser_reads_options_commands_and_usage() -> None:
    help_text = """Usage: ./scripts/x.sh -e ENV [-q|--quiet] [-h]
       ./scripts/x.sh token EMAIL

Runs 'sam deploy --guided' with -e ENV (prose is not an option list).

  -e, --environment ENV   required
      --no-optimize keep it
  token      print a token
"""
    assert _offered(help_text) == {"-e", "-q", "--quiet", "-h", "--environment", "--no-optimize", "token"}


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_deployment_guide_lists_exactly_the_options_of_each_scripts_help(repo: Path, script: str) -> None:
    """--help is the reference and lives in the script; the guide keeps a short list per script."""
    result = _script(repo, script, "--help")
    assert result.returncode == 0 and result.stdout.startswith("Usage: ./scripts/")
    offered, documented = _offered(result.stdout), _documented(script)
    assert offered - documented == set(), f"docs/deployment.md: {script}.sh options not listed"
    assert documented - offered == set(), f"docs/deployment.md: {script}.sh has no such options"


# --- env-setup --------------------------------------------------------------------------------


@pytest.mark.slow
def test_env_setup_creates_the_bucket_and_samconfig_and_a_second_run_changes_nothing(
    repo: Path, aws: MotoEndpoint
) -> None:
    first = _script(repo, "env-setup", "-e", "dev", "-c", endpoint=aws.url)
    assert first.returncode == 0, first.stderr
    s3 = boto3.client("s3")
    assert _bucket_names() == {ARTIFACTS_BUCKET}
    assert s3.get_bucket_versioning(Bucket=ARTIFACTS_BUCKET)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=ARTIFACTS_BUCKET)["PublicAccessBlockConfiguration"][
        "BlockPublicPolicy"
    ]
    assert s3.get_bucket_encryption(Bucket=ARTIFACTS_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    samconfig = (repo / "samconfig.toml").read_text()
    assert 's3_bucket = "echoes-sam-artifacts-123456789012-us-east-1"' in samconfig
    overrides = tomllib.loads(samconfig)["dev"]["deploy"]["parameters"]["parameter_overrides"]
    assert parse_overrides(overrides) == expected_overrides("dev")
    assert "@" not in samconfig.split("[dev.deploy.parameters]")[1].split("[")[0]

    second = _script(repo, "env-setup", "-e", "dev", "-c", endpoint=aws.url)
    assert second.returncode == 0, second.stderr
    assert "exists" in second.stderr and "creating" not in second.stderr
    assert (repo / "samconfig.toml").read_text() == samconfig
    assert _bucket_names() == {ARTIFACTS_BUCKET}

    staging = _script(repo, "env-setup", "-e", "staging", endpoint=aws.url)
    assert staging.returncode == 0, staging.stderr
    both = (repo / "samconfig.toml").read_text()
    assert "[dev.deploy.parameters]" in both and "Environment=staging" in both


def test_env_setup_without_create_only_warns(repo: Path, aws: MotoEndpoint) -> None:
    result = _script(repo, "env-setup", "-e", "prod", endpoint=aws.url)
    assert result.returncode == 0, result.stderr
    assert "run again with -c" in result.stderr and _bucket_names() == set()


def test_env_setup_refuses_a_bad_config(repo: Path, aws: MotoEndpoint) -> None:
    config = repo / "config" / "prod.env"
    config.write_text(config.read_text().replace("https://echoes.app", "http://echoes.app"))
    result = _script(repo, "env-setup", "-e", "prod", "-c", endpoint=aws.url)
    assert result.returncode == 1 and "not allowed in prod" in result.stderr
    assert _bucket_names() == set() and not (repo / "samconfig.toml").exists()


def test_env_setup_takes_region_and_alarm_email_from_the_config_file(repo: Path, aws: MotoEndpoint) -> None:
    config = repo / "config" / "prod.env"
    text = config.read_text()
    config.write_text(
        text.replace("AWS_REGION=us-east-1", "AWS_REGION=eu-west-1").replace(
            "ALARM_EMAIL=alarms@echoes.app\n", "ALARM_EMAIL=ops@example.com\n"
        )
    )
    result = _script(repo, "env-setup", "-e", "prod", endpoint=aws.url)
    assert result.returncode == 0, result.stderr
    deploy = tomllib.loads((repo / "samconfig.toml").read_text())["prod"]["deploy"]["parameters"]
    assert deploy["region"] == "eu-west-1"
    assert deploy["s3_bucket"] == "echoes-sam-artifacts-123456789012-eu-west-1"
    assert parse_overrides(deploy["parameter_overrides"])["AlarmEmail"] == "ops@example.com"
    overridden = _script(repo, "env-setup", "-e", "prod", "-r", "us-west-2", endpoint=aws.url)
    assert overridden.returncode == 0, overridden.stderr
    assert tomllib.loads((repo / "samconfig.toml").read_text())["prod"]["deploy"]["parameters"]["region"] == (
        "us-west-2"
    ), "-r wins over the file"


def test_a_config_key_that_does_nothing_is_refused(repo: Path, aws: MotoEndpoint) -> None:
    config = repo / "config" / "dev.env"
    config.write_text(config.read_text() + "S3_BUCKET_NAME=echoes-dev-audio\n")
    result = _script(repo, "env-setup", "-e", "dev", endpoint=aws.url)
    assert result.returncode == 1 and "unknown key S3_BUCKET_NAME" in result.stderr
    assert not (repo / "samconfig.toml").exists()


@pytest.mark.slow
def test_env_setup_without_credentials_fails_clearly(repo: Path) -> None:
    result = _script(repo, "env-setup", "-e", "dev")
    assert result.returncode == 1 and "no usable AWS credentials" in result.stderr


# --- build and deploy -------------------------------------------------------------------------


@pytest.mark.slow
def test_deploy_build_only_builds_arm64_optimised_by_default_and_no_optimize_keeps_everything(
    repo: Path,
) -> None:
    """`deploy -b` is build.sh with its defaults (sam build), so one build checks both (each takes
    seconds): Lambda's arm64 wheels, only the function, and the size optimisations."""
    built = _script(repo, "deploy", "-b")  # any AWS call would hit the closed endpoint and fail
    assert built.returncode == 0, built.stderr
    assert "Built function: unzipped" in built.stdout
    function = repo / ".aws-sam" / "build" / "ApiFunction"
    assert_ships_only_the_function(function)
    assert_compiled_for(function, AARCH64)
    assert not (function / "aws_lambda_powertools" / "event_handler").exists(), "optimised by default"
    plain = _script(repo, "build", "-c", "--no-optimize")
    assert plain.returncode == 0, plain.stderr
    assert (function / "aws_lambda_powertools" / "event_handler").exists()


def _dry_run_commands(output: str) -> list[list[str]]:
    """The commands a DRY_RUN=true run printed, split as a shell would split them (they are %q-quoted)."""
    prefix = "[dry-run] "
    return [shlex.split(line[len(prefix) :]) for line in output.splitlines() if line.startswith(prefix)]


@pytest.mark.slow
def test_deploy_runs_sam_deploy_with_the_environments_parameters(repo: Path, aws: MotoEndpoint) -> None:
    # deploy reads samconfig.toml, which env-setup writes with or without the artifacts bucket (-c)
    assert _script(repo, "env-setup", "-e", "dev", endpoint=aws.url).returncode == 0
    result = _script(
        repo, "deploy", "-e", "dev", "-y", endpoint=aws.url, DRY_RUN="true", DEBUG="true", LOG_LEVEL="WARNING"
    )
    assert result.returncode == 0, result.stderr
    build, *commands = _dry_run_commands(result.stdout)
    assert build == [str(repo / "scripts" / "build.sh")] and not (repo / ".aws-sam").exists(), "nothing built"
    assert commands[0] == [
        "sam",
        "deploy",
        "--config-env",
        "dev",
        "--stack-name",
        "echoes-dev-backend",
        "--region",
        "us-east-1",
        "--parameter-overrides",
        commands[0][9],
        "--no-fail-on-empty-changeset",
        "--no-confirm-changeset",
        "--debug",
    ]
    # Every key of config/dev.env, the caller's LOG_LEVEL in place of the file's (debug mode).
    assert parse_overrides(commands[0][9]) == expected_overrides("dev", log_level="WARNING")
    assert "LogLevel=WARNING" in commands[0][9]
    assert commands[1][:6] == [
        "aws",
        "--region",
        "us-east-1",
        "cloudformation",
        "describe-stacks",
        "--stack-name",
    ]
    assert "+ " in result.stderr, "DEBUG=true traces commands"
    staging = _script(
        repo, "deploy", "-e", "staging", "-s", "my-stack", "-r", "eu-west-1", endpoint=aws.url, DRY_RUN="true"
    )
    assert staging.returncode == 1 and "env-setup.sh -e staging" in staging.stderr, (
        "no samconfig for staging yet"
    )
    unknown_profile = _script(repo, "deploy", "-e", "dev", "-p", "nobody", endpoint=aws.url, DRY_RUN="true")
    assert (
        unknown_profile.returncode == 1
        and "no usable AWS credentials for profile nobody" in unknown_profile.stderr
    )


def test_deploy_to_prod_needs_confirmation(repo: Path, aws: MotoEndpoint) -> None:
    result = _script(repo, "deploy", "-e", "prod", endpoint=aws.url, DRY_RUN="true")
    assert result.returncode == 1 and "needs confirmation" in result.stderr
    assert not (repo / ".aws-sam").exists(), "nothing built before the answer"


# --- cleanup ----------------------------------------------------------------------------------


LEFTOVER_LOG_GROUP = "/aws/lambda/echoes-dev-api-leftover"  # the environment's, owned by no stack


def _deployed_dev_stack(stack_name: str = "echoes-dev-backend") -> dict[str, str]:
    """What a dev deployment leaves that moto can hold: the stack's table and bucket (with object
    versions and a delete marker), its log groups (stack resources, as in the template: deleting
    the stack deletes them), a log group no stack owns, its artifacts and its samconfig section."""
    template = load_template()
    resources = template["Resources"]
    names = Resolver(template, {"Environment": "dev", "CorsAllowOrigins": "http://localhost:3000"})
    bucket = names.resolve(resources["AudioBucket"]["Properties"]["BucketName"])
    table = names.resolve(resources["EchoesTable"]["Properties"]["TableName"])
    log_groups = {
        name: names.resolve(resources[name]["Properties"]["LogGroupName"])
        for name in ("ApiFunctionLogGroup", "ApiAccessLogGroup")
    }
    body = {
        "Resources": {
            "AudioBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": bucket}},
            "EchoesTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": table,
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            },
            **{
                name: {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": group}}
                for name, group in log_groups.items()
            },
        }
    }
    boto3.client("cloudformation").create_stack(StackName=stack_name, TemplateBody=json.dumps(body))
    s3 = boto3.client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for version in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="audio/u/1.wav", Body=version)
    s3.put_object(Bucket=bucket, Key="audio/u/2.wav", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="audio/u/2.wav")
    logs = boto3.client("logs")
    for group in (LEFTOVER_LOG_GROUP, "/aws/lambda/echoes-prod-api"):
        logs.create_log_group(logGroupName=group)
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=f"{stack_name}/abc.template", Body=b"{}")
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key="echoes-prod-backend/keep.template", Body=b"{}")
    return {"bucket": bucket, "table": table, **log_groups}


def _stacks() -> list[str]:
    return [
        s["StackName"]
        for s in boto3.client("cloudformation").list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]


def _log_groups() -> set[str]:
    return {g["logGroupName"] for g in boto3.client("logs").describe_log_groups()["logGroups"]}


def _plan(output: str, verb: str) -> list[str]:
    return [line.removeprefix(verb + " ") for line in output.splitlines() if line.startswith(verb + " ")]


@pytest.mark.slow
def test_cleanup_dry_run_lists_real_resources_and_deletes_nothing(repo: Path, aws: MotoEndpoint) -> None:
    deployed = _deployed_dev_stack()
    (repo / ".aws-sam").mkdir()
    result = _script(repo, "cleanup", "-e", "dev", "-d", endpoint=aws.url)
    assert result.returncode == 0, result.stderr
    assert _plan(result.stdout, "would delete") == [
        f"bucket {deployed['bucket']} with 4 object versions and delete markers",
        "log group /aws/lambda/echoes-dev-api (with the stack)",
        "log group /aws/apigateway/echoes-dev-access (with the stack)",
        "stack echoes-dev-backend",
        f"log group {LEFTOVER_LOG_GROUP}",
        f"1 deployment artifacts in s3://{ARTIFACTS_BUCKET}/echoes-dev-backend/",
        "local .aws-sam",
    ]
    assert _stacks() == ["echoes-dev-backend"] and len(_log_groups()) == 4 and (repo / ".aws-sam").exists()
    # The commands it would run, printed so that a shell reads them back as they were.
    commands = _dry_run_commands(result.stdout)
    assert [
        "aws",
        "--region",
        "us-east-1",
        "cloudformation",
        "delete-stack",
        "--stack-name",
        "echoes-dev-backend",
    ] in commands
    assert [
        "aws",
        "--region",
        "us-east-1",
        "logs",
        "delete-log-group",
        "--log-group-name",
        LEFTOVER_LOG_GROUP,
    ] in commands


@pytest.mark.slow
def test_cleanup_without_force_and_no_terminal_refuses(repo: Path, aws: MotoEndpoint) -> None:
    _deployed_dev_stack()
    result = _script(repo, "cleanup", "-e", "dev", endpoint=aws.url)
    assert result.returncode == 1 and "needs confirmation" in result.stderr
    assert _stacks() == ["echoes-dev-backend"]


def _add_delete_markers(bucket: str, count: int) -> None:
    """One version and COUNT delete markers on a key as long as the app's (audio/<sub>/<id>.<ext>),
    as deletes without a version id (the app's, of an echo's audio) leave them; one DeleteObjects
    per 1,000 (moto adds no marker to a key that has no version)."""
    key = f"audio/{uuid.uuid4()}/{uuid.uuid4()}.webm"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    for start in range(0, count, 1000):
        repeated = [{"Key": key}] * min(1000, count - start)
        s3.delete_objects(Bucket=bucket, Delete={"Objects": repeated, "Quiet": True})


def _delete_objects_as_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    """DeleteObjects takes at most 1,000 keys: S3 answers MalformedXML beyond, moto deletes them all."""
    moto_delete = S3Backend.delete_objects

    def as_s3(self: S3Backend, bucket_name: str, objects: list, *args: object) -> object:
        if len(objects) > 1000:
            raise MalformedXML()
        return moto_delete(self, bucket_name, objects, *args)

    monkeypatch.setattr(S3Backend, "delete_objects", as_s3)


@pytest.mark.slow
def test_cleanup_force_removes_exactly_what_the_dry_run_listed(
    repo: Path, aws: MotoEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also a bucket of more than a page of versions and delete markers: 1,100 delete markers,
    which a listing's --max-items does not count (only versions), with version ids whose JSON is
    longer than one command-line argument may be; counted over the listing's two pages (--output
    text queries each page on its own), deleted 1,000 at most at a time (as S3 requires)."""
    deployed = _deployed_dev_stack()
    _add_delete_markers(deployed["bucket"], 1100)
    _delete_objects_as_s3(monkeypatch)
    assert _script(repo, "env-setup", "-e", "dev", endpoint=aws.url).returncode == 0
    assert _script(repo, "env-setup", "-e", "prod", endpoint=aws.url).returncode == 0
    planned = _script(repo, "cleanup", "-e", "dev", "-d", endpoint=aws.url)
    assert f"bucket {deployed['bucket']} with 1105 object versions and delete markers" in _plan(
        planned.stdout, "would delete"
    )
    result = _script(repo, "cleanup", "-e", "dev", "-f", endpoint=aws.url)
    assert result.returncode == 0, result.stderr
    assert _plan(result.stdout, "deleting") == _plan(planned.stdout, "would delete")
    assert "samconfig.toml [dev] entries" in _plan(result.stdout, "deleting")
    assert _stacks() == []
    assert deployed["bucket"] not in _bucket_names()
    assert deployed["table"] not in boto3.client("dynamodb").list_tables()["TableNames"]
    assert _log_groups() == {"/aws/lambda/echoes-prod-api"}
    remaining = boto3.client("s3").list_objects_v2(Bucket=ARTIFACTS_BUCKET)["Contents"]
    assert [o["Key"] for o in remaining] == ["echoes-prod-backend/keep.template"]
    samconfig = (repo / "samconfig.toml").read_text()
    assert "[dev." not in samconfig and "[prod.deploy.parameters]" in samconfig
    again = _script(repo, "cleanup", "-e", "dev", "-f", endpoint=aws.url)  # the stack's listing now fails
    assert again.returncode == 0 and "nothing remote to delete for dev" in again.stderr, again.stderr


@pytest.mark.slow
def test_cleanup_stops_when_a_listing_fails_for_another_reason_than_absence(
    repo: Path, aws: MotoEndpoint
) -> None:
    """Only "does not exist" (the stack) and NoSuchBucket (the artifacts bucket) mean nothing to
    delete; a listing refused, throttled or unreachable (here: one service's endpoint closed, each
    in turn) proves nothing, so nothing is deleted, not even the samconfig.toml entries."""
    absent = _script(repo, "cleanup", "-e", "dev", "-f", endpoint=aws.url)  # no stack, no bucket
    assert absent.returncode == 0 and "nothing remote to delete for dev" in absent.stderr, absent.stderr
    deployed = _deployed_dev_stack()
    assert _script(repo, "env-setup", "-e", "dev", endpoint=aws.url).returncode == 0
    groups = _log_groups()
    for service in ("CLOUDFORMATION", "CLOUDWATCH_LOGS", "S3"):  # the order of the three listings
        closed = {f"AWS_ENDPOINT_URL_{service}": CLOSED_ENDPOINT}
        result = _script(repo, "cleanup", "-e", "dev", "-f", endpoint=aws.url, **closed)
        assert result.returncode == 1, service + result.stdout + result.stderr
        assert (
            "cannot tell what to delete, nothing deleted" in result.stderr
            and "Could not connect" in result.stderr
        ), service
        assert _plan(result.stdout, "deleting") == [], service
        assert _log_groups() == groups and "[dev.deploy.parameters]" in (repo / "samconfig.toml").read_text()
        artifacts = boto3.client("s3").list_objects_v2(Bucket=ARTIFACTS_BUCKET, Prefix="echoes-dev-backend/")
        assert artifacts["KeyCount"] == 1, service
        assert _stacks() == ["echoes-dev-backend"] and deployed["bucket"] in _bucket_names(), service


@pytest.mark.slow
def test_cleanup_of_a_rolled_back_stack_skips_what_it_lists_as_deleted_or_never_created(
    repo: Path, aws: MotoEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first deploy that failed leaves a ROLLBACK_COMPLETE stack to delete. AWS's
    ListStackResources still lists its resources: those the rollback deleted as DELETE_COMPLETE
    (their physical ids kept), one whose creation failed without a PhysicalResourceId (optional in
    StackResourceSummary). moto answers CREATE_COMPLETE with an id for every resource: its answer
    to the script is rewritten here as AWS's, and the rollback's deletions are made by hand."""
    deployed = _deployed_dev_stack()
    s3 = boto3.client("s3")
    listed = s3.list_object_versions(Bucket=deployed["bucket"])
    versions = [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
    s3.delete_objects(
        Bucket=deployed["bucket"],
        Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]},
    )
    s3.delete_bucket(Bucket=deployed["bucket"])
    for name in ("ApiFunctionLogGroup", "ApiAccessLogGroup"):
        boto3.client("logs").delete_log_group(logGroupName=deployed[name])
    moto_answer = CloudFormationResponse.list_stack_resources

    def rolled_back(self: CloudFormationResponse) -> object:
        answer = moto_answer(self)
        for summary in answer.result["StackResourceSummaries"]:
            summary["ResourceStatus"] = "DELETE_COMPLETE"
            if summary["LogicalResourceId"] == "AudioBucket":  # its creation failed
                summary["ResourceStatus"] = "CREATE_FAILED"
                del summary["PhysicalResourceId"]
        return answer

    monkeypatch.setattr(CloudFormationResponse, "list_stack_resources", rolled_back)
    result = _script(repo, "cleanup", "-e", "dev", "-d", endpoint=aws.url)
    assert result.returncode == 0, result.stderr
    assert _plan(result.stdout, "would delete") == [
        "stack echoes-dev-backend",
        f"log group {LEFTOVER_LOG_GROUP}",
        f"1 deployment artifacts in s3://{ARTIFACTS_BUCKET}/echoes-dev-backend/",
    ]


@pytest.mark.slow
def test_cleanup_stops_on_versions_s3_refuses_to_delete(repo: Path, aws: MotoEndpoint) -> None:
    """DeleteObjects answers 200 and names the keys it did not delete (here a bucket policy
    refuses one, which moto enforces as S3 does): the script says so and stops, deleting no more."""
    deployed = _deployed_dev_stack()
    denied = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
        "Resource": f"arn:aws:s3:::{deployed['bucket']}/audio/u/1.wav",
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [denied]})
    boto3.client("s3").put_bucket_policy(Bucket=deployed["bucket"], Policy=policy)
    result = _script(repo, "cleanup", "-e", "dev", "-f", endpoint=aws.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"S3 did not delete every version in {deployed['bucket']}" in result.stderr
    assert "AccessDenied\taudio/u/1.wav" in result.stderr
    assert _stacks() == ["echoes-dev-backend"] and LEFTOVER_LOG_GROUP in _log_groups()


@pytest.mark.slow
def test_cleanup_takes_the_stack_name_like_deploy(repo: Path, aws: MotoEndpoint) -> None:
    _deployed_dev_stack(stack_name="echoes-dev-feature-x")
    result = _script(repo, "cleanup", "-e", "dev", "-s", "echoes-dev-feature-x", "-f", endpoint=aws.url)
    assert result.returncode == 0, result.stderr
    assert "deleting stack echoes-dev-feature-x" in result.stdout
    assert _stacks() == [] and _log_groups() == {"/aws/lambda/echoes-prod-api"}
    remaining = boto3.client("s3").list_objects_v2(Bucket=ARTIFACTS_BUCKET)["Contents"]
    assert [o["Key"] for o in remaining] == ["echoes-prod-backend/keep.template"]


def test_cleanup_local_only_touches_nothing_remote(repo: Path) -> None:
    (repo / ".aws-sam" / "build").mkdir(parents=True)
    (repo / "artifacts").mkdir()
    result = _script(repo, "cleanup", "-l")  # closed endpoint: any AWS call would fail
    assert result.returncode == 0, result.stderr
    assert not (repo / ".aws-sam").exists() and not (repo / "artifacts").exists()


# --- docs/troubleshooting.md: its commands work as written --------------------------------------

TROUBLESHOOTING = ROOT / "docs" / "troubleshooting.md"


def _commands_under(heading: str) -> list[str]:
    """The ```bash blocks of docs/troubleshooting.md's section HEADING."""
    section = TROUBLESHOOTING.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [block.split("\n```", 1)[0] for block in section.split("```bash\n")[1:]]


def _bash(script: str, endpoint: str = CLOSED_ENDPOINT) -> subprocess.CompletedProcess:
    env = _env(endpoint, PATH=f"{ROOT / '.venv-tools' / 'bin'}:{os.environ['PATH']}")
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_troubleshooting_import_check_works_as_written() -> None:
    (check,) = _commands_under("The app does not import")
    result = _bash(check)  # no AWS call: nothing listens on the endpoint
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Echoes API ") and "routes" in result.stdout
    broken = _bash(check.replace("ENVIRONMENT=dev ", ""))
    assert broken.returncode == 1 and "ENVIRONMENT: Field required" in broken.stderr


def test_troubleshooting_identity_and_stack_events_work_as_written(aws: MotoEndpoint) -> None:
    """Against moto's server; moto has no IAM policy simulation or CloudWatch Logs tailing through
    SAM CLI, so the permission and log commands are checked for what they name instead."""
    _deployed_dev_stack()
    variables = TROUBLESHOOTING.read_text().split("```bash\n", 1)[1].split("\n```", 1)[0]
    (identity,) = _commands_under('Permissions: AccessDenied, "is not authorized to perform"')[:1]
    (events,) = _commands_under("The deploy fails: the stack's events")
    result = _bash("\n".join([variables, identity, events]), endpoint=aws.url)
    assert result.returncode == 0, result.stderr
    assert '"Account": "123456789012"' in result.stdout
    assert result.stderr == "", "the events query is valid (moto's stack has no failed event to list)"


# --- CI/CD --------------------------------------------------------------------------------------

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_workflows_are_valid_github_workflows() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert {w.name for w in WORKFLOWS} == {"ci.yml", "deploy.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pin_actions_use_oidc_and_least_permissions(workflow: Path) -> None:
    import re

    import yaml

    text = workflow.read_text()
    for action in re.findall(r"uses:\s*(\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"not pinned to a commit: {action}"
    assert "aws-access-key-id" not in text and "secrets.AWS_SECRET" not in text
    parsed = yaml.safe_load(text)
    assert parsed["permissions"] == {"contents": "read"}
    for name, job in parsed["jobs"].items():
        if "id-token" in job.get("permissions", {}):
            assert "configure-aws-credentials" in str(job["steps"]), name
    assert "./scripts/test.sh" in text, "CI runs the README's test command"


def test_deploy_workflow_deploys_dev_on_push_and_others_by_dispatch() -> None:
    import yaml

    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    triggers = deploy[True] if True in deploy else deploy["on"]  # YAML 1.1 reads `on` as true
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["workflow_dispatch"]["inputs"]["environment"]["options"] == ["staging", "prod"]
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == "test" and "environment" in job
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
