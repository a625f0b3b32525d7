"""Published versions, SnapStart and gradual deploys, per environment as config/<env>.env says:
API Gateway invokes the live alias (never $LATEST), SnapStart applies to the published versions
where configured, and CodeDeploy shifts the alias as configured, rolling back on the alarms.
Checked on the template as CloudFormation receives it (SAM's transform, tests/infra/sam_translate.py)."""

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.cfn import Resolver, load_template
from tests.infra.deploy_config import ENVIRONMENTS, config_of, expected_overrides
from tests.infra.sam_translate import translated

pytestmark = pytest.mark.slow  # SAM's translator, in the tools virtualenv: about a second each
ROOT = Path(__file__).resolve().parents[2]
ALIAS = "ApiFunctionAliaslive"
ROLLBACK_ALARMS = ["Api5xxRateAlarm", "FunctionErrorsAlarm"]


def _resources(environment: str, kind: str) -> dict[str, dict[str, Any]]:
    resources = translated(environment)["Resources"]
    return {name: spec for name, spec in resources.items() if spec["Type"] == kind}


def _integration_uris(environment: str) -> list[str]:
    (api,) = _resources(environment, "AWS::ApiGateway::RestApi").values()
    return [
        json.dumps(operation["x-amazon-apigateway-integration"]["uri"])
        for path in api["Properties"]["Body"]["paths"].values()
        for operation in path.values()
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_api_gateway_invokes_the_live_alias_and_may_invoke_nothing_else(environment: str) -> None:
    (alias,) = _resources(environment, "AWS::Lambda::Alias").values()
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": "ApiFunction"}
    uris = _integration_uris(environment)
    assert len(uris) == 9 and all("${" + ALIAS + "}" in uri for uri in uris), uris
    permissions = [
        spec["Properties"]
        for spec in _resources(environment, "AWS::Lambda::Permission").values()
        if spec["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert permissions and all(p["FunctionName"] == {"Ref": ALIAS} for p in permissions), permissions


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_snapstart_applies_to_published_versions_where_configured(environment: str) -> None:
    function = load_template()["Resources"]["ApiFunction"]["Properties"]
    resolver = Resolver(load_template(), expected_overrides(environment))
    applied = resolver.resolve(function["SnapStart"]["ApplyOn"])
    wanted = {"dev": "None", "staging": "PublishedVersions", "prod": "PublishedVersions"}[environment]
    assert (
        applied
        == wanted
        == ("PublishedVersions" if config_of(environment)["SNAPSTART_ENABLED"] == "true" else "None")
    )


@pytest.mark.parametrize(
    ("environment", "deployment"),
    [("dev", "AllAtOnce"), ("staging", "Linear10PercentEvery1Minute"), ("prod", "Canary10Percent5Minutes")],
)
def test_codedeploy_shifts_the_alias_as_configured_and_rolls_back_on_the_alarms(
    environment: str, deployment: str
) -> None:
    assert config_of(environment)["DEPLOYMENT_TYPE"] == deployment
    (group,) = _resources(environment, "AWS::CodeDeploy::DeploymentGroup").values()
    properties = group["Properties"]
    assert properties["DeploymentConfigName"] == {
        "Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": deployment}]
    }
    rollback = properties["AutoRollbackConfiguration"]
    assert rollback["Enabled"] and "DEPLOYMENT_STOP_ON_ALARM" in rollback["Events"]
    alarm_names = {name: f"echoes-{environment}-{name}" for name in ROLLBACK_ALARMS}
    alarms = Resolver(translated(environment), expected_overrides(environment), alarm_names).resolve(
        properties["AlarmConfiguration"]
    )
    if config_of(environment)["ALARMS_ENABLED"] == "true":
        assert alarms == {
            "Enabled": True,
            "Alarms": [{"Name": alarm_names[name]} for name in ROLLBACK_ALARMS],
        }
    else:
        assert alarms == {}  # dev: no alarms exist to watch
    (alias,) = _resources(environment, "AWS::Lambda::Alias").values()
    assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"] == {
        "Ref": "ApiFunctionDeploymentGroup"
    }


def test_the_rollback_alarms_watch_the_api_and_the_function() -> None:
    resources = load_template()["Resources"]
    assert resources["Api5xxRateAlarm"]["Properties"]["MetricName"] == "5XXError"
    assert resources["FunctionErrorsAlarm"]["Properties"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": "ApiFunction"}}
    ]


def test_codedeploy_may_shift_this_functions_alias_and_read_this_environments_alarms_only() -> None:
    role = load_template()["Resources"]["ApiDeployRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "codedeploy.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    (policy,) = role["Policies"]
    statements = Resolver(load_template(), expected_overrides("prod")).resolve(policy["PolicyDocument"])[
        "Statement"
    ]
    granted = {
        action: statement["Resource"] for statement in statements for action in _as_list(statement["Action"])
    }
    function = "arn:aws:lambda:us-east-1:123456789012:function:echoes-prod-api"
    assert granted == {
        "lambda:GetAlias": [function, f"{function}:*"],
        "lambda:UpdateAlias": [function, f"{function}:*"],
        "lambda:GetProvisionedConcurrencyConfig": [function, f"{function}:*"],
        "cloudwatch:DescribeAlarms": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:echoes-prod-*",
    }
    (group,) = _resources("prod", "AWS::CodeDeploy::DeploymentGroup").values()
    assert group["Properties"]["ServiceRoleArn"] == {"Fn::GetAtt": ["ApiDeployRole", "Arn"]}
    assert "CodeDeployServiceRole" not in translated("prod")["Resources"]  # SAM's account-wide one


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_deploy_deletes_the_version_it_replaces(environment: str) -> None:
    """SAM retains the versions it publishes unless the function names a DeletionPolicy: ApiFunction
    names Delete (every resource states its policy), which SAM passes on to its versions. So the
    stack's update deletes the previous version once the alias has moved (its SnapStart snapshot
    stops being cached), and a rollback after a deployment cannot point the alias back at it: it is
    a deploy of the previous commit (docs/deployment.md, Gradual deploys)."""
    (version,) = _resources(environment, "AWS::Lambda::Version").values()
    assert (version["DeletionPolicy"], version["UpdateReplacePolicy"]) == ("Delete", "Delete")
    guide = (ROOT / "docs" / "deployment.md").read_text()
    assert "--function-version <N>" not in guide, "the guide rolls back to a version the deploy deleted"
