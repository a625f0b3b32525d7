"""Running the deployment scripts for real against moto's server (the AWS CLI and SAM CLI honour
AWS_ENDPOINT_URL), each in a copy of the repository so that nothing here is touched."""

import json
import os
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, IAMBackend
from moto.logs.exceptions import InvalidParameterException
from moto.logs.responses import LogsResponse

from devtools.cfn import Resolver, load_template

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # moto's
ARTIFACTS_BUCKET = f"echoes-sam-artifacts-{ACCOUNT}-us-east-1"
CLOSED_ENDPOINT = "http://127.0.0.1:9"  # nothing listens: any AWS call would fail


def copy_repo(destination: Path) -> Path:
    """A copy of the repository's files (what git tracks or would add) in DESTINATION/repo."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    copy = destination / "repo"
    for name in listed:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


_moto_describe_log_groups = LogsResponse.describe_log_groups


def describe_log_groups_as_aws(self: LogsResponse) -> str:
    """moto ignores DescribeLogGroups' logGroupNamePattern; AWS keeps the names that hold it
    (case-sensitive substring) and refuses it beside logGroupNamePrefix."""
    pattern = self._get_param("logGroupNamePattern")
    if pattern is not None and self._get_param("logGroupNamePrefix") is not None:
        raise InvalidParameterException("logGroupNamePattern and logGroupNamePrefix are mutually exclusive")
    answer = json.loads(_moto_describe_log_groups(self))
    answer["logGroups"] = [g for g in answer["logGroups"] if pattern is None or pattern in g["logGroupName"]]
    return json.dumps(answer)


# The AWS managed policies the scripts attach. AWS has them all; moto loads its 1,000 and more copies
# only when asked (MOTO_IAM_LOAD_MANAGED_POLICIES), which costs seconds at every reset.
AWS_MANAGED_POLICIES = ("AmazonAPIGatewayPushToCloudWatchLogs",)


@cache
def _managed_policy_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return {name: data[name] for name in AWS_MANAGED_POLICIES}


def aws_managed_policies_as_aws(self: IAMBackend) -> list[AWSManagedPolicy]:
    """IAMBackend._init_aws_policies, with the managed policies the scripts use."""
    return [
        AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
        for name, data in _managed_policy_data().items()
    ]


def script_env(endpoint: str, **extra: str) -> dict[str, str]:
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


def run_script(
    repo: Path,
    name: str,
    *args: str,
    endpoint: str = CLOSED_ENDPOINT,
    environment: dict[str, str] | None = None,
    **env: str,
) -> subprocess.CompletedProcess:
    """scripts/NAME.sh ARGS in REPO, with fake credentials for ENDPOINT and ENV; or with exactly
    ENVIRONMENT when given."""
    return subprocess.run(
        [str(repo / "scripts" / f"{name}.sh"), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env=environment if environment is not None else script_env(endpoint, **env),
        check=False,
    )


def bucket_names() -> set[str]:
    return {bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]}


def dry_run_commands(output: str) -> list[list[str]]:
    """The commands a DRY_RUN=true run printed, split as a shell would split them (they are %q-quoted)."""
    prefix = "[dry-run] "
    return [shlex.split(line[len(prefix) :]) for line in output.splitlines() if line.startswith(prefix)]


LEFTOVER_LOG_GROUP = "/aws/lambda/echoes-dev-api-leftover"  # the environment's, owned by no stack


def deployed_dev_stack(stack_name: str = "echoes-dev-backend") -> dict[str, str]:
    return deployed_stack("dev", stack_name)


def deployed_stack(environment: str, stack_name: str | None = None) -> dict[str, str]:
    """What a deployment of ENVIRONMENT leaves that moto can hold: the stack's table and bucket (with
    object versions and a delete marker), its log groups (stack resources, as in the template:
    deleting the stack deletes them), each with the DeletionPolicy the template gives it in
    ENVIRONMENT (as CloudFormation's processed template has it: Retain in prod), a log group of the
    environment that no stack owns, another environment's log group and artifacts, its artifacts."""
    stack_name = stack_name or f"echoes-{environment}-backend"
    other = "dev" if environment == "prod" else "prod"
    template = load_template()
    resources = template["Resources"]
    names = Resolver(template, {"Environment": environment, "CorsAllowOrigins": "http://localhost:3000"})
    bucket = names.resolve(resources["AudioBucket"]["Properties"]["BucketName"])
    table = names.resolve(resources["EchoesTable"]["Properties"]["TableName"])
    log_groups = {
        name: names.resolve(resources[name]["Properties"]["LogGroupName"])
        for name in ("ApiFunctionLogGroup", "ApiAccessLogGroup")
    }

    def policy(name: str) -> dict[str, str]:
        return {"DeletionPolicy": names.resolve(resources[name]["DeletionPolicy"])}

    body = {
        "Resources": {
            "AudioBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketName": bucket},
                **policy("AudioBucket"),
            },
            "EchoesTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": table,
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
                **policy("EchoesTable"),
            },
            **{
                name: {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": group}, **policy(name)}
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
    leftover = f"/aws/lambda/echoes-{environment}-api-leftover"
    logs = boto3.client("logs")
    for group in (leftover, f"/aws/lambda/echoes-{other}-api"):
        logs.create_log_group(logGroupName=group)
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=f"{stack_name}/abc.template", Body=b"{}")
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=f"echoes-{other}-backend/keep.template", Body=b"{}")
    return {"bucket": bucket, "table": table, "leftover": leftover, **log_groups}


def account_ready_for_deploys(region: str = "us-east-1") -> None:
    """What env-setup.sh makes of an empty account (artifacts bucket, API Gateway's CloudWatch role
    for REGION), made here in-process, for the tests about something else: each AWS CLI start the
    scripts would spend on them costs about half a second of CPU."""
    bucket = f"echoes-sam-artifacts-{ACCOUNT}-{region}"
    s3 = boto3.client("s3", region_name=region)
    if bucket not in bucket_names():
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **where)  # type: ignore[arg-type]
    role = f"arn:aws:iam::{ACCOUNT}:role/apigateway-cloudwatch-logs"
    boto3.client("apigateway", region_name=region).update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}]
    )
