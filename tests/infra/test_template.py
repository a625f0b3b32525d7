"""template.yaml keeps its promises: lint-clean, least privilege, encryption, per-environment."""

import json
import subprocess
import tomllib
from pathlib import Path

import boto3
import pytest

from app.settings import Settings
from devtools.cfn import Resolver, load_template
from devtools.local_stack import read_env_file

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
ENVIRONMENTS = ("dev", "staging", "prod")


def _of_type(kind: str) -> dict[str, dict]:
    return {name: spec for name, spec in RESOURCES.items() if spec["Type"] == kind}


def _resolved(environment: str, value: object) -> object:
    return Resolver(TEMPLATE, {"Environment": environment, "CorsAllowOrigins": "https://a.example"}).resolve(
        value
    )


FUNCTION = RESOURCES["ApiFunction"]["Properties"]
STATEMENTS = FUNCTION["Policies"][0]["Statement"]


def test_cfn_lint_has_no_errors_and_no_warnings() -> None:
    result = subprocess.run(
        ["cfn-lint", "template.yaml"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, ""), result.stdout + result.stderr


def test_sam_validate_lint_passes() -> None:
    result = subprocess.run(
        ["sam", "validate", "--lint", "--region", "us-east-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": __import__("os").environ["PATH"], "SAM_CLI_TELEMETRY": "0", "HOME": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_function_runtime_architecture_handler_and_tracing() -> None:
    globals_ = TEMPLATE["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Tracing"] == "Active"
    assert FUNCTION["Handler"] == "lambda_handler.handler"
    assert RESOURCES["ApiFunction"]["Metadata"]["BuildMethod"] == "makefile"
    assert FUNCTION["LoggingConfig"]["LogGroup"] == {"Ref": "ApiFunctionLogGroup"}
    assert (
        _resolved("dev", RESOURCES["ApiFunctionLogGroup"]["Properties"]["LogGroupName"])
        == "/aws/lambda/echoes-dev-api"
    )


def test_every_required_setting_is_passed_and_every_variable_is_a_setting() -> None:
    variables = set(FUNCTION["Environment"]["Variables"])
    fields = {name.upper() for name in Settings.model_fields}
    required = {name.upper() for name, field in Settings.model_fields.items() if field.is_required()}
    provided_by_lambda = {"AWS_REGION"}
    assert required - provided_by_lambda <= variables
    assert {v for v in variables if not v.startswith("POWERTOOLS_")} <= fields


def test_log_groups_have_retention() -> None:
    for name, spec in _of_type("AWS::Logs::LogGroup").items():
        assert spec["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name


def test_table_encrypted_recoverable_on_demand_with_ttl_and_retained_in_prod() -> None:
    table = RESOURCES["EchoesTable"]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert {index["IndexName"] for index in props["GlobalSecondaryIndexes"]} == {
        "by_created",
        "by_emotion_created",
    }
    for resource in ("EchoesTable", "AudioBucket", "UserPool"):
        policy = RESOURCES[resource]["DeletionPolicy"]
        assert _resolved("prod", policy) == "Retain" and _resolved("dev", policy) == "Delete", resource


def test_bucket_is_private_encrypted_versioned_tls_only_with_lifecycle() -> None:
    props = RESOURCES["AudioBucket"]["Properties"]
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"]
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"]
    assert rules["expire-audio-never-made-into-an-echo"]["TagFilters"] == [
        {"Key": "echoes-state", "Value": "pending"}
    ]
    cors = props["CorsConfiguration"]["CorsRules"][0]
    assert _resolved("dev", cors["AllowedOrigins"]) == ["https://a.example"]
    deny = RESOURCES["AudioBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(deny["Resource"]) == 2, "the bucket and its objects"


def test_user_pool_client_has_no_secret_and_the_needed_flows() -> None:
    client = RESOURCES["UserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} <= set(client["ExplicitAuthFlows"])
    pool = RESOURCES["UserPool"]["Properties"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 10


def test_secret_is_generated_not_written() -> None:
    secret = RESOURCES["AppSecret"]["Properties"]
    assert "GenerateSecretString" in secret and "SecretString" not in secret


def test_function_policy_is_least_privilege() -> None:
    for statement in STATEMENTS:
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        assert "*" not in resources, statement["Sid"]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), statement["Sid"]
    by_sid = {statement["Sid"]: statement for statement in STATEMENTS}
    assert by_sid["AudioObjects"]["Resource"] == {"Fn::Sub": "${AudioBucket.Arn}/audio/*"}
    assert by_sid["CursorKey"] == {
        "Sid": "CursorKey",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": {"Ref": "AppSecret"},
    }
    assert "dynamodb:Scan" not in by_sid["EchoesTable"]["Action"]
    # Account erasure: each permission scoped to the table, the audio prefix, the pool, the function.
    assert by_sid["AccountErasureItems"]["Resource"] == {"Fn::GetAtt": ["EchoesTable", "Arn"]}
    assert by_sid["AccountErasureListVersions"]["Condition"] == {"StringLike": {"s3:prefix": "audio/*"}}
    assert by_sid["AccountErasureAudioVersions"]["Resource"] == {"Fn::Sub": "${AudioBucket.Arn}/audio/*"}
    assert by_sid["AccountErasureCognitoUser"]["Resource"] == {"Fn::GetAtt": ["UserPool", "Arn"]}
    assert by_sid["AccountErasureContinuation"]["Resource"]["Fn::Sub"].endswith(
        ":function:echoes-${Environment}-api"
    )
    assert FUNCTION["FunctionName"] == {"Fn::Sub": "echoes-${Environment}-api"}  # what it names
    # No managed policies: they grant far more than the function needs.
    assert all(isinstance(policy, dict) for policy in FUNCTION["Policies"])


def test_authorizer_covers_the_api_only_and_never_preflights() -> None:
    api = RESOURCES["Api"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "CognitoAuthorizer"
    assert api["Auth"]["AddDefaultAuthorizerToCorsPreflight"] is False
    assert api["TracingEnabled"] is True and api["StageName"] == {"Ref": "Environment"}
    assert api["MethodSettings"][0]["ThrottlingRateLimit"] == {"Ref": "ThrottleRateLimit"}
    assert "DestinationArn" in api["AccessLogSetting"]
    for name, event in FUNCTION["Events"].items():
        props = event["Properties"]
        public = props["Auth"] == {"Authorizer": "NONE"} if "Auth" in props else False
        protected_route = props["Path"].startswith("/api/v1/") and props["Method"] != "OPTIONS"
        assert public != protected_route, name
    assert FUNCTION["Events"]["EchoesPreflight"]["Properties"]["Method"] == "OPTIONS"


def test_gateway_errors_use_the_apps_error_format() -> None:
    responses = RESOURCES["Api"]["Properties"]["GatewayResponses"]
    expected = {  # gateway response -> (status, the app's error code)
        "UNAUTHORIZED": ("401", "authentication_failed"),
        "ACCESS_DENIED": ("401", "authentication_failed"),
        "MISSING_AUTHENTICATION_TOKEN": ("404", "resource_not_found"),
        "THROTTLED": ("429", "rate_limit_exceeded"),
        "REQUEST_TOO_LARGE": ("413", "file_too_large"),
        "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported_media_type"),
        "DEFAULT_4XX": (None, "validation_error"),
        "DEFAULT_5XX": ("503", "service_unavailable"),
    }
    assert set(responses) == set(expected)
    for name, response in responses.items():
        body = json.loads(
            response["ResponseTemplates"]["application/json"].replace("$context.error.messageString", '"m"')
        )
        assert set(body) == {"error", "message", "details", "timestamp", "request_id"}, name
        assert (response.get("StatusCode"), body["error"]) == expected[name], name


def test_alarms_and_their_topic_exist_only_in_prod() -> None:
    alarms = _of_type("AWS::CloudWatch::Alarm")
    assert {spec["Properties"]["MetricName"] for spec in alarms.values()} == {
        "5XXError",
        "Errors",
        "Throttles",
        "Latency",
    }
    for name, spec in {**alarms, **_of_type("AWS::SNS::Topic")}.items():
        assert spec["Condition"] == "IsProd", name
        assert Resolver(TEMPLATE, {"Environment": "prod"}).condition(spec["Condition"])
        assert not Resolver(TEMPLATE, {"Environment": "staging"}).condition(spec["Condition"])
    assert RESOURCES["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_outputs_give_what_scripts_and_frontend_need() -> None:
    assert {
        "ApiUrl",
        "UserPoolId",
        "UserPoolClientId",
        "AudioBucketName",
        "EchoesTableName",
        "ApiFunctionName",
    } <= set(TEMPLATE["Outputs"])
    assert "/${Environment}" in TEMPLATE["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_config_files_are_valid_settings_for_their_environment(environment: str) -> None:
    values = read_env_file(ROOT / "config" / f"{environment}.env")
    assert values["ENVIRONMENT"] == environment
    settings = Settings(
        **{k.lower(): v for k, v in values.items()},
        cognito_user_pool_id="us-east-1_Example",
        cognito_app_client_id="example",
    )
    assert (
        _resolved(environment, RESOURCES["EchoesTable"]["Properties"]["TableName"])
        == settings.dynamodb_table_name
    )
    assert _resolved(environment, RESOURCES["AppSecret"]["Properties"]["Name"]) == settings.app_secret_name
    if environment != "dev":
        assert all(origin.startswith("https://") for origin in settings.cors_allow_origins)
        assert settings.debug is False


def test_samconfig_template_has_one_section_per_environment() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml.template").read_text())
    for environment in ENVIRONMENTS:
        deploy = config[environment]["deploy"]["parameters"]
        assert deploy["stack_name"] == f"echoes-{environment}-backend"
        assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True


def test_local_stack_resources_match_the_template(stack) -> None:
    props = _resolved("dev", RESOURCES["EchoesTable"]["Properties"])
    table = boto3.client("dynamodb").describe_table(TableName=stack.table_name)["Table"]
    assert table["KeySchema"] == props["KeySchema"]
    assert {i["IndexName"]: i["KeySchema"] for i in table["GlobalSecondaryIndexes"]} == {
        i["IndexName"]: i["KeySchema"] for i in props["GlobalSecondaryIndexes"]
    }
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=stack.table_name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    s3 = boto3.client("s3")
    assert s3.get_bucket_versioning(Bucket=stack.bucket_name)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=stack.bucket_name)["PublicAccessBlockConfiguration"][
        "BlockPublicAcls"
    ]
    pool = boto3.client("cognito-idp").describe_user_pool(UserPoolId=stack.user_pool_id)["UserPool"]
    assert (
        pool["Policies"]["PasswordPolicy"]["MinimumLength"]
        == RESOURCES["UserPool"]["Properties"]["Policies"]["PasswordPolicy"]["MinimumLength"]
    )
    assert boto3.client("secretsmanager").get_secret_value(SecretId=stack.secret_name)["SecretString"]
