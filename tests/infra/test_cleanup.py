"""cleanup.sh, run for real against moto's server: what it lists, deletes and leaves."""

import json
import uuid
from pathlib import Path

import boto3
import pytest
from moto.cloudformation.responses import CloudFormationResponse
from moto.s3.exceptions import MalformedXML
from moto.s3.models import S3Backend

from devtools.moto import MotoEndpoint
from tests.infra.scripts import (
    ARTIFACTS_BUCKET,
    CLOSED_ENDPOINT,
    LEFTOVER_LOG_GROUP,
    account_ready_for_deploys,
    bucket_names,
    deployed_dev_stack,
    deployed_stack,
    dry_run_commands,
    run_script,
)


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
def test_cleanup_dry_run_lists_real_resources_and_deletes_nothing(repo: Path, moto_aws: MotoEndpoint) -> None:
    deployed = deployed_dev_stack()
    (repo / ".aws-sam").mkdir()
    result = run_script(repo, "cleanup", "-e", "dev", "-d", endpoint=moto_aws.url)
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
    commands = dry_run_commands(result.stdout)
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
def test_cleanup_without_force_and_no_terminal_refuses(repo: Path, moto_aws: MotoEndpoint) -> None:
    deployed_dev_stack()
    result = run_script(repo, "cleanup", "-e", "dev", endpoint=moto_aws.url)
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
    repo: Path, moto_aws: MotoEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also a bucket of more than a page of versions and delete markers: 1,100 delete markers,
    which a listing's --max-items does not count (only versions), with version ids whose JSON is
    longer than one command-line argument may be; counted over the listing's two pages (--output
    text queries each page on its own), deleted 1,000 at most at a time (as S3 requires)."""
    deployed = deployed_dev_stack()
    _add_delete_markers(deployed["bucket"], 1100)
    _delete_objects_as_s3(monkeypatch)
    account_ready_for_deploys()
    assert run_script(repo, "env-setup", "-e", "dev", endpoint=moto_aws.url).returncode == 0
    assert run_script(repo, "env-setup", "-e", "prod", endpoint=moto_aws.url).returncode == 0
    planned = run_script(repo, "cleanup", "-e", "dev", "-d", endpoint=moto_aws.url)
    assert f"bucket {deployed['bucket']} with 1105 object versions and delete markers" in _plan(
        planned.stdout, "would delete"
    )
    result = run_script(repo, "cleanup", "-e", "dev", "-f", endpoint=moto_aws.url)
    assert result.returncode == 0, result.stderr
    assert _plan(result.stdout, "deleting") == _plan(planned.stdout, "would delete")
    assert "samconfig.toml [dev] entries" in _plan(result.stdout, "deleting")
    assert _stacks() == []
    assert deployed["bucket"] not in bucket_names()
    assert deployed["table"] not in boto3.client("dynamodb").list_tables()["TableNames"]
    assert _log_groups() == {"/aws/lambda/echoes-prod-api"}
    remaining = boto3.client("s3").list_objects_v2(Bucket=ARTIFACTS_BUCKET)["Contents"]
    assert [o["Key"] for o in remaining] == ["echoes-prod-backend/keep.template"]
    samconfig = (repo / "samconfig.toml").read_text()
    assert "[dev." not in samconfig and "[prod.deploy.parameters]" in samconfig
    again = run_script(
        repo, "cleanup", "-e", "dev", "-f", endpoint=moto_aws.url
    )  # the stack's listing now fails
    assert again.returncode == 0 and "nothing remote to delete for dev" in again.stderr, again.stderr


@pytest.mark.slow
def test_cleanup_stops_when_a_listing_fails_for_another_reason_than_absence(
    repo: Path, moto_aws: MotoEndpoint
) -> None:
    """Only "does not exist" (the stack) and NoSuchBucket (the artifacts bucket) mean nothing to
    delete; a listing refused, throttled or unreachable (here: one service's endpoint closed, each
    in turn) proves nothing, so nothing is deleted, not even the samconfig.toml entries."""
    absent = run_script(repo, "cleanup", "-e", "dev", "-f", endpoint=moto_aws.url)  # no stack, no bucket
    assert absent.returncode == 0 and "nothing remote to delete for dev" in absent.stderr, absent.stderr
    deployed = deployed_dev_stack()
    account_ready_for_deploys()
    assert run_script(repo, "env-setup", "-e", "dev", endpoint=moto_aws.url).returncode == 0
    groups = _log_groups()
    for service in ("CLOUDFORMATION", "CLOUDWATCH_LOGS", "S3"):  # the order of the three listings
        closed = {f"AWS_ENDPOINT_URL_{service}": CLOSED_ENDPOINT}
        result = run_script(repo, "cleanup", "-e", "dev", "-f", endpoint=moto_aws.url, **closed)
        assert result.returncode == 1, service + result.stdout + result.stderr
        assert (
            "cannot tell what to delete, nothing deleted" in result.stderr
            and "Could not connect" in result.stderr
        ), service
        assert _plan(result.stdout, "deleting") == [], service
        assert _log_groups() == groups and "[dev.deploy.parameters]" in (repo / "samconfig.toml").read_text()
        artifacts = boto3.client("s3").list_objects_v2(Bucket=ARTIFACTS_BUCKET, Prefix="echoes-dev-backend/")
        assert artifacts["KeyCount"] == 1, service
        assert _stacks() == ["echoes-dev-backend"] and deployed["bucket"] in bucket_names(), service


@pytest.mark.slow
def test_cleanup_of_a_rolled_back_stack_skips_what_it_lists_as_deleted_or_never_created(
    repo: Path, moto_aws: MotoEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first deploy that failed leaves a ROLLBACK_COMPLETE stack to delete. AWS's
    ListStackResources still lists its resources: those the rollback deleted as DELETE_COMPLETE
    (their physical ids kept), one whose creation failed without a PhysicalResourceId (optional in
    StackResourceSummary). moto answers CREATE_COMPLETE with an id for every resource: its answer
    to the script is rewritten here as AWS's, and the rollback's deletions are made by hand."""
    deployed = deployed_dev_stack()
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
    result = run_script(repo, "cleanup", "-e", "dev", "-d", endpoint=moto_aws.url)
    assert result.returncode == 0, result.stderr
    assert _plan(result.stdout, "would delete") == [
        "stack echoes-dev-backend",
        f"log group {LEFTOVER_LOG_GROUP}",
        f"1 deployment artifacts in s3://{ARTIFACTS_BUCKET}/echoes-dev-backend/",
    ]


@pytest.mark.slow
def test_cleanup_stops_on_versions_s3_refuses_to_delete(repo: Path, moto_aws: MotoEndpoint) -> None:
    """DeleteObjects answers 200 and names the keys it did not delete (here a bucket policy
    refuses one, which moto enforces as S3 does): the script says so and stops, deleting no more."""
    deployed = deployed_dev_stack()
    denied = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
        "Resource": f"arn:aws:s3:::{deployed['bucket']}/audio/u/1.wav",
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [denied]})
    boto3.client("s3").put_bucket_policy(Bucket=deployed["bucket"], Policy=policy)
    result = run_script(repo, "cleanup", "-e", "dev", "-f", endpoint=moto_aws.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"S3 did not delete every version in {deployed['bucket']}" in result.stderr
    assert "AccessDenied\taudio/u/1.wav" in result.stderr
    assert _stacks() == ["echoes-dev-backend"] and LEFTOVER_LOG_GROUP in _log_groups()


@pytest.mark.slow
def test_cleanup_takes_the_stack_name_like_deploy(repo: Path, moto_aws: MotoEndpoint) -> None:
    deployed_dev_stack(stack_name="echoes-dev-feature-x")
    result = run_script(
        repo, "cleanup", "-e", "dev", "-s", "echoes-dev-feature-x", "-f", endpoint=moto_aws.url
    )
    assert result.returncode == 0, result.stderr
    assert "deleting stack echoes-dev-feature-x" in result.stdout
    assert _stacks() == [] and _log_groups() == {"/aws/lambda/echoes-prod-api"}
    remaining = boto3.client("s3").list_objects_v2(Bucket=ARTIFACTS_BUCKET)["Contents"]
    assert [o["Key"] for o in remaining] == ["echoes-prod-backend/keep.template"]


def test_cleanup_local_only_touches_nothing_remote(repo: Path) -> None:
    (repo / ".aws-sam" / "build").mkdir(parents=True)
    (repo / "artifacts").mkdir()
    result = run_script(repo, "cleanup", "-l")  # closed endpoint: any AWS call would fail
    assert result.returncode == 0, result.stderr
    assert not (repo / ".aws-sam").exists() and not (repo / "artifacts").exists()


def _versions(bucket: str) -> list[tuple[str, str]]:
    listed = boto3.client("s3").list_object_versions(Bucket=bucket)
    return sorted(
        (v["Key"], v["VersionId"]) for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
    )


@pytest.mark.slow
def test_cleanup_of_prod_leaves_what_the_template_retains_untouched(
    repo: Path, moto_aws: MotoEndpoint
) -> None:
    """Issue 25: prod's template retains the table, the audio bucket and the log groups
    (DeletionPolicy Retain); cleanup used to empty the bucket before delete-stack, so the retained
    table pointed at audio that no longer existed. It now empties nothing the template retains,
    deletes nothing it retains (nor a prod log group an earlier stack left), and says so."""
    deployed = deployed_stack("prod")
    before = _versions(deployed["bucket"])
    assert len(before) == 4
    account_ready_for_deploys()
    assert run_script(repo, "env-setup", "-e", "prod", endpoint=moto_aws.url).returncode == 0
    retained = [
        f"{deployed['bucket']} (AWS::S3::Bucket)",
        f"{deployed['table']} (AWS::DynamoDB::Table)",
        f"{deployed['ApiFunctionLogGroup']} (AWS::Logs::LogGroup)",
        f"{deployed['ApiAccessLogGroup']} (AWS::Logs::LogGroup)",
    ]
    planned = run_script(repo, "cleanup", "-e", "prod", "-d", endpoint=moto_aws.url)
    assert planned.returncode == 0, planned.stderr
    result = run_script(repo, "cleanup", "-e", "prod", "-f", endpoint=moto_aws.url)
    assert result.returncode == 0, result.stderr
    assert _stacks() == []
    assert _versions(deployed["bucket"]) == before, "every version of the retained bucket is still there"
    assert deployed["table"] in boto3.client("dynamodb").list_tables()["TableNames"]
    assert {
        deployed["ApiFunctionLogGroup"],
        deployed["ApiAccessLogGroup"],
        deployed["leftover"],
    } <= _log_groups()
    # What it leaves, and why, said before (-d) and while (-f) it deletes the rest.
    left = _plan(planned.stdout, "would leave")
    assert sorted(
        line.split(" (the prod template")[0] for line in left if "(the prod template" in line
    ) == sorted(retained)
    assert f"log group {deployed['leftover']} (prod's template retains its log groups" in "\n".join(left)
    assert _plan(result.stdout, "leaving") == left
    assert _plan(planned.stdout, "would delete") == [
        "stack echoes-prod-backend",
        f"1 deployment artifacts in s3://{ARTIFACTS_BUCKET}/echoes-prod-backend/",
        "samconfig.toml [prod] entries",
    ]
