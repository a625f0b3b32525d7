"""template.yaml keeps its promises: lint-clean, least privilege, encryption, per-environment."""

import json
import os
import subprocess
import tomllib
from pathlib import Path

import boto3
import pytest

from app.erasure import check_erasure_budget
from app.settings import Settings
from app.store.audio import STAGING_PREFIX
from devtools.cfn import Resolver, load_template
from tests.infra.deploy_config import (
    ENVIRONMENTS,
    REGION_KEY,
    config_of,
    expected_overrides,
    parameter_for,
    parse_overrides,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]


def _of_type(kind: str) -> dict[str, dict]:
    return {name: spec for name, spec in RESOURCES.items() if spec["Type"] == kind}


def _resolved(environment: str, value: object) -> object:
    return Resolver(TEMPLATE, {"Environment": environment, "CorsAllowOrigins": "https://a.example"}).resolve(
        value
    )


FUNCTION = RESOURCES["ApiFunction"]["Properties"]
STATEMENTS = RESOURCES["ApiFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


@pytest.mark.slow
def test_cfn_lint_has_no_errors_no_warnings_and_no_informational_findings() -> None:
    # --include-checks I: the informational rules too (I3011: a stateful resource without an
    # explicit DeletionPolicy/UpdateReplacePolicy).
    result = subprocess.run(
        ["cfn-lint", "--include-checks", "I", "--", "template.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, ""), result.stdout + result.stderr


@pytest.mark.slow
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


@pytest.mark.parametrize("function", ["ApiFunction", "ErasureFunction"])
def test_every_required_setting_is_passed_and_every_variable_is_a_setting(function: str) -> None:
    variables = set(RESOURCES[function]["Properties"]["Environment"]["Variables"])
    fields = {name.upper() for name in Settings.model_fields}
    required = {name.upper() for name, field in Settings.model_fields.items() if field.is_required()}
    provided_by_lambda = {"AWS_REGION"}
    assert required - provided_by_lambda <= variables
    read_by_libraries = ("POWERTOOLS_", "AWS_XRAY_")  # Powertools', the X-Ray SDK's
    assert {v for v in variables if not v.startswith(read_by_libraries)} <= fields


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
    # Everything under the staging prefix expires, current and overwritten versions alike: the
    # upload URLs bound neither size nor overwrites there (docs/design.md, Uploads).
    staged = rules["expire-staged-uploads"]
    assert staged["Prefix"] == STAGING_PREFIX and "TagFilters" not in staged
    assert staged["ExpirationInDays"] == 1 and staged["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    cors = props["CorsConfiguration"]["CorsRules"][0]
    assert _resolved("dev", cors["AllowedOrigins"]) == ["https://a.example"]
    assert cors["AllowedHeaders"] == ["content-type"], "the only header an upload URL signs"
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
    """The API role's statements, each on its resources (tests/infra/test_template_roles.py reads
    every action of both functions' roles against the calls their code makes)."""
    by_sid = {statement["Sid"]: statement for statement in STATEMENTS}
    assert by_sid["AudioObjects"]["Resource"] == {"Fn::Sub": "${AudioBucket.Arn}/audio/*"}
    assert by_sid["StagedUploads"]["Resource"] == {"Fn::Sub": "${AudioBucket.Arn}/uploads/*"}
    assert set(by_sid["StagedUploads"]["Action"]) == {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"}
    assert by_sid["CursorKey"] == {
        "Sid": "CursorKey",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": {"Ref": "AppSecret"},
    }
    assert "dynamodb:Scan" not in by_sid["EchoesTable"]["Action"]
    assert FUNCTION["FunctionName"] == {"Fn::Sub": "echoes-${Environment}-api"}
    assert FUNCTION["Role"] == {"Fn::GetAtt": ["ApiFunctionRole", "Arn"]}


def test_troubleshooting_simulates_exactly_the_functions_actions() -> None:
    guide = (ROOT / "docs" / "troubleshooting.md").read_text()
    simulated = {
        action
        for line in guide.splitlines()
        if line.startswith('simulate "')
        for action in line.split("--action-names", 1)[1].split()
        if ":" in action
    }
    granted = {
        action
        for role in ("ApiFunctionRole", "ErasureFunctionRole")
        for policy in RESOURCES[role]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert simulated == granted


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


def test_authorizer_accepts_exactly_the_apps_token_rule() -> None:
    """API Gateway with AuthorizationScopes accepts only access tokens carrying a listed scope (and
    refuses ID tokens); app/auth.py must enforce that very rule, or deployed and local differ."""
    from app.auth import ACCEPTED_SCOPE, ACCEPTED_TOKEN_USE

    authorizer = RESOURCES["Api"]["Properties"]["Auth"]["Authorizers"]["CognitoAuthorizer"]
    assert authorizer["AuthorizationScopes"] == [ACCEPTED_SCOPE]
    assert ACCEPTED_TOKEN_USE == "access"  # what a scoped Cognito authorizer lets through
    for name, event in FUNCTION["Events"].items():  # no route overrides the scopes
        assert "AuthorizationScopes" not in event["Properties"].get("Auth", {}), name


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


def _function_environment(environment: str) -> dict[str, str]:
    """The function's environment variables as CloudFormation would set them when deploy.sh passes
    config/<env>.env's parameters (resources named as the template names them)."""
    resolver = Resolver(TEMPLATE, expected_overrides(environment))
    names = {
        "EchoesTable": resolver.resolve(RESOURCES["EchoesTable"]["Properties"]["TableName"]),
        "AudioBucket": resolver.resolve(RESOURCES["AudioBucket"]["Properties"]["BucketName"]),
        "AppSecret": resolver.resolve(RESOURCES["AppSecret"]["Properties"]["Name"]),
        "UserPool": "us-east-1_Example",
        "UserPoolClient": "example",
        "ErasureFunction": resolver.resolve(RESOURCES["ErasureFunction"]["Properties"]["FunctionName"]),
    }
    variables = Resolver(TEMPLATE, expected_overrides(environment), names).resolve(FUNCTION["Environment"])
    return {name: str(value) for name, value in variables["Variables"].items()}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_config_files_give_valid_settings_for_their_environment(environment: str) -> None:
    config = config_of(environment)
    variables = _function_environment(environment)
    settings = Settings(
        **{name.lower(): value for name, value in variables.items()},
        aws_region=config["AWS_REGION"],  # Lambda sets AWS_REGION: the region deployed to
    )
    assert settings.environment == environment
    assert settings.debug is (config["DEBUG"] == "true")
    assert settings.log_level == config["LOG_LEVEL"]
    assert settings.uploads_per_user_per_hour == int(config["UPLOADS_PER_USER_PER_HOUR"])
    assert settings.max_audio_bytes == int(config["MAX_AUDIO_BYTES"])
    assert settings.cors_allow_origins == tuple(config["CORS_ALLOW_ORIGINS"].split(","))
    if environment != "dev":
        assert all(origin.startswith("https://") for origin in settings.cors_allow_origins)
        assert settings.debug is False


def _lib_overrides(environment: str) -> dict[str, str]:
    """What scripts/lib.sh makes of config/<env>.env: the --parameter-overrides deploy passes."""
    result = subprocess.run(
        ["bash", "-c", f"source scripts/lib.sh && load_config {environment} && parameter_overrides"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"]},  # no LOG_LEVEL of the caller's
    )
    assert result.returncode == 0, result.stderr
    return parse_overrides(result.stdout)


def _uses(parameter: str) -> bool:
    """Whether anything the stack creates depends on PARAMETER (a Ref or ${...} to it)."""
    text = json.dumps(
        {"Resources": RESOURCES, "Conditions": TEMPLATE["Conditions"], "Rules": TEMPLATE["Rules"]}
    )
    return f'{{"Ref": "{parameter}"}}' in text or "${" + parameter + "}" in text


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_function_knows_its_timeout_and_erasure_passes_fit_in_it(environment: str) -> None:
    """The app sizes an erasure pass from FUNCTION_TIMEOUT_SECONDS (app/erasure.py): it must be
    the own Timeout of each function that reads it (the erasure function runs the passes, the API
    waits for the first one), and the default budget must fit under it."""
    for name in ("ApiFunction", "ErasureFunction"):
        function = RESOURCES[name]["Properties"]
        assert function["Timeout"] == {"Ref": "FunctionTimeoutSeconds"}, name
        assert function["Environment"]["Variables"]["FUNCTION_TIMEOUT_SECONDS"] == {
            "Ref": "FunctionTimeoutSeconds"
        }, name
    variables = _function_environment(environment)
    settings = Settings(**{name.lower(): value for name, value in variables.items()}, aws_region="eu-west-3")
    check_erasure_budget(settings)  # raises SettingsError if a pass could outlive the timeout


@pytest.mark.parametrize("bound", ["MinValue", "MaxValue"])
def test_every_timeout_the_template_accepts_is_one_the_app_starts_with(bound: str) -> None:
    """The parameter allowed 3..9 s, under which the app refuses its default erasure budget at
    start: a stack deployed with one would fail every request at init instead of the deploy
    failing up front."""
    timeout = TEMPLATE["Parameters"]["FunctionTimeoutSeconds"][bound]
    variables = _function_environment("dev") | {"FUNCTION_TIMEOUT_SECONDS": str(timeout)}
    settings = Settings(**{name.lower(): value for name, value in variables.items()}, aws_region="eu-west-3")
    check_erasure_budget(settings)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_config_key_reaches_a_parameter_the_stack_uses(environment: str) -> None:
    config = config_of(environment)
    assert _lib_overrides(environment) == expected_overrides(environment)
    for key, value in config.items():
        if key == REGION_KEY:
            continue  # the region deployed to: test_scripts checks deploy and env-setup use it
        parameter = parameter_for(key)
        assert _uses(parameter), f"{key} -> {parameter}, which nothing in the template uses"
        if value:
            assert _lib_overrides(environment)[parameter] == value
    variables = _function_environment(environment)
    for key in ("DEBUG", "LOG_LEVEL", "MAX_AUDIO_BYTES", "UPLOADS_PER_USER_PER_HOUR", "CORS_ALLOW_ORIGINS"):
        assert variables[key] == config[key], f"{key} does not reach the function"


def test_every_parameter_is_fed_by_config_or_has_a_documented_default() -> None:
    fed = {
        parameter_for(key)
        for environment in ENVIRONMENTS
        for key in config_of(environment)
        if key != REGION_KEY
    }
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for name, spec in TEMPLATE["Parameters"].items():
        assert name in fed or ("Default" in spec and spec.get("Description")), name
        assert _uses(name), f"parameter {name} is used by nothing"
        assert f"`{name}`" in guide, f"docs/deployment.md does not describe {name}"
    for environment in ENVIRONMENTS:
        for key in config_of(environment):
            assert f"`{key}`" in guide, f"docs/deployment.md does not describe {key}"


# --- abuse protection -------------------------------------------------------------------------

WAF_RESOURCES = ("WebAcl", "WebAclAssociation", "WafLogGroup", "WafLogging")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_waf_is_on_where_config_says_and_off_by_default(environment: str) -> None:
    enabled = config_of(environment)["WAF_ENABLED"] == "true"
    for name in WAF_RESOURCES:
        condition = RESOURCES[name]["Condition"]
        assert Resolver(TEMPLATE, expected_overrides(environment)).condition(condition) is enabled, name
        assert not Resolver(TEMPLATE, {"Environment": environment}).condition(condition), "off by default"
    assert enabled is {"dev": False, "staging": True, "prod": True}[environment]


def test_waf_guards_the_api_stage_with_a_per_ip_rate_rule_and_managed_rules() -> None:
    association = RESOURCES["WebAclAssociation"]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}
    assert association["ResourceArn"]["Fn::Sub"].endswith("/restapis/${Api}/stages/${Api.Stage}")
    acl = RESOURCES["WebAcl"]["Properties"]
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    assert len({rule["Priority"] for rule in acl["Rules"]}) == len(acl["Rules"])
    rate = rules["rate-limit-per-ip"]
    assert rate["Priority"] == min(r["Priority"] for r in acl["Rules"]), "floods are cut first"
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == {"Ref": "WafRateLimitPerIp"}
    assert rate["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]: rule
        for rule in acl["Rules"]
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert set(managed) == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
    # The groups count and label; one rule blocks whatever they labelled, in the API's format.
    assert all(rule["OverrideAction"] == {"Count": {}} for rule in managed.values())
    block = rules["block-managed-rule-matches"]
    labels = {s["LabelMatchStatement"]["Key"] for s in block["Statement"]["OrStatement"]["Statements"]}
    assert labels == {"awswaf:managed:aws:core-rule-set:", "awswaf:managed:aws:known-bad-inputs:"}
    assert block["Priority"] > max(rule["Priority"] for rule in managed.values())
    assert block["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 403
    assert RESOURCES["WafLogging"]["Properties"]["RedactedFields"] == [
        {"SingleHeader": {"Name": "authorization"}}
    ]


def test_waf_answers_in_the_apis_error_format() -> None:
    acl = RESOURCES["WebAcl"]["Properties"]
    bodies = acl["CustomResponseBodies"]
    expected = {
        "rate-limit-per-ip": (429, "rate_limit_exceeded"),
        "block-managed-rule-matches": (403, "forbidden"),
    }
    for rule in acl["Rules"]:
        if rule["Name"] not in expected:
            continue
        response = rule["Action"]["Block"]["CustomResponse"]
        body = bodies[response["CustomResponseBodyKey"]]
        assert body["ContentType"] == "APPLICATION_JSON"
        parsed = json.loads(_resolved("prod", body["Content"]))
        assert set(parsed) == {"error", "message", "details", "timestamp", "request_id"}
        assert (response["ResponseCode"], parsed["error"]) == expected[rule["Name"]]
        assert parsed["details"]["blocked_by"] == "waf"
        # WAF bodies are static text: it cannot fill in a time or a request id.
        assert parsed["timestamp"] is None and parsed["request_id"] is None
    rate = next(rule for rule in acl["Rules"] if rule["Name"] == "rate-limit-per-ip")
    limited = json.loads(_resolved("prod", bodies["RateLimited"]["Content"]))
    assert limited["details"]["limit"] == int(TEMPLATE["Parameters"]["WafRateLimitPerIp"]["Default"])
    assert {"Name": "Retry-After", "Value": "60"} in rate["Action"]["Block"]["CustomResponse"][
        "ResponseHeaders"
    ]


def test_writes_are_throttled_tighter_than_reads_in_every_environment() -> None:
    api = RESOURCES["Api"]["Properties"]
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in api["MethodSettings"]}
    stage = settings[("/*", "*")]
    assert (stage["ThrottlingRateLimit"], stage["ThrottlingBurstLimit"]) == (
        {"Ref": "ThrottleRateLimit"},
        {"Ref": "ThrottleBurstLimit"},
    )
    events = {(e["Properties"]["Path"], e["Properties"]["Method"]) for e in FUNCTION["Events"].values()}
    # Every write method the API serves, read from its routes: a new one without its own event and
    # setting would fall under ANY at the read rate.
    from app.routes import echoes, me

    writes = {
        method
        for route in [*echoes.router.routes, *me.router.routes]
        for method in getattr(route, "methods", set())
        if method not in {"GET", "HEAD", "OPTIONS"}
    }
    assert writes >= {"POST", "PATCH", "DELETE"}, writes
    for method in sorted(writes):
        write = settings[("/~1api~1v1~1{proxy+}", method)]
        assert ("/api/v1/{proxy+}", method) in events, "a method setting needs a method of its own"
        assert (write["ThrottlingRateLimit"], write["ThrottlingBurstLimit"]) == (
            {"Ref": "WriteThrottleRateLimit"},
            {"Ref": "WriteThrottleBurstLimit"},
        )
    for environment in ENVIRONMENTS:
        config = config_of(environment)
        assert int(config["WRITE_THROTTLE_RATE_LIMIT"]) < int(config["THROTTLE_RATE_LIMIT"]), environment
        assert int(config["WRITE_THROTTLE_BURST_LIMIT"]) < int(config["THROTTLE_BURST_LIMIT"]), environment


# --- IaC security scan ------------------------------------------------------------------------

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def _checkov(directory: Path) -> dict:
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(directory),
            "--framework",
            "cloudformation",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(directory), "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.mark.slow
def test_checkov_finds_nothing_and_every_skip_says_why(tmp_path: Path) -> None:
    # checkov drops resources whose Condition is false with the parameters' defaults: the WAF and
    # the alarms are off by default, so the template is scanned a second time as prod deploys it.
    as_deployed = tmp_path / "default"
    with_waf = tmp_path / "waf"
    for directory in (as_deployed, with_waf):
        directory.mkdir()
    text = (ROOT / "template.yaml").read_text()
    (as_deployed / "template.yaml").write_text(text)
    prod_like = text
    for switch in (
        '  WafEnabled:\n    Type: String\n    Default: "false"',
        '  AlarmsEnabled:\n    Type: String\n    Default: "false"',
    ):
        assert switch in text
        prod_like = prod_like.replace(switch, switch.replace('"false"', '"true"'))
    (with_waf / "template.yaml").write_text(prod_like)
    for directory in (as_deployed, with_waf):
        report = _checkov(directory)
        failed = report["results"]["failed_checks"]
        assert report["summary"]["failed"] == 0, [(c["check_id"], c["resource"]) for c in failed]
    scanned = {
        check["resource"]
        for check in report["results"]["passed_checks"] + report["results"]["skipped_checks"]
    }
    assert {
        "AWS::WAFv2::WebACL.WebAcl",
        "AWS::KMS::Key.AlarmTopicKey",
        "AWS::SNS::Topic.AlarmTopic",
    } <= scanned
    for name, spec in RESOURCES.items():
        for skip in spec.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"].startswith("CKV") and len(skip.get("comment", "")) > 20, (name, skip)


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
