"""template.yaml's operations promises (issue 25): alarms that reach someone, per environment.

What AWS does that no test here can show is said in docs/deployment.md (Alarms): these tests read
the template as CloudFormation would resolve it for each config/<env>.env, and the key and topic
policies as IAM would read them; nothing here publishes to a real topic."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from devtools.cfn import Resolver, load_template
from tests.infra.deploy_config import ENVIRONMENTS, config_of, expected_overrides

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]


def _of_type(kind: str) -> dict[str, dict]:
    return {name: spec for name, spec in RESOURCES.items() if spec["Type"] == kind}


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _resolver(environment: str, **overrides: str) -> Resolver:
    return Resolver(TEMPLATE, expected_overrides(environment) | overrides)


# --- alarms that reach someone ------------------------------------------------------------------


def test_the_topic_key_lets_cloudwatch_and_budgets_publish_and_rotates() -> None:
    """The AWS managed key alias/aws/sns cannot grant CloudWatch anything, so alarms published to
    a topic it encrypts fail with KMS AccessDenied (issue 25, finding 1). The topic must use a
    customer managed key whose policy allows both services the two actions SNS documents."""
    topic = RESOURCES["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": ["AlarmTopicKey", "Arn"]}
    key = RESOURCES["AlarmTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    allowed: dict[str, set[str]] = {}
    for statement in key["KeyPolicy"]["Statement"]:
        if statement["Effect"] != "Allow" or "Service" not in statement["Principal"]:
            continue
        for service in _as_list(statement["Principal"]["Service"]):
            allowed.setdefault(service, set()).update(_as_list(statement["Action"]))
    for service in ("cloudwatch.amazonaws.com", "budgets.amazonaws.com"):
        assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= allowed.get(service, set()), service
    assert set(allowed) == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}, "no other service"
    administrators = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    ]
    assert len(administrators) == 1, "the account keeps control of the key (else it is unmanageable)"


def test_only_this_accounts_alarms_and_budgets_may_publish_to_the_topic() -> None:
    policy = RESOURCES["AlarmTopicPolicy"]["Properties"]
    assert policy["Topics"] == [{"Ref": "AlarmTopic"}]
    statements = policy["PolicyDocument"]["Statement"]
    publishers = {statement["Principal"]["Service"]: statement for statement in statements}
    assert set(publishers) == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    resolver = _resolver("prod")
    for service, statement in publishers.items():
        assert statement["Action"] == "sns:Publish" and statement["Resource"] == {"Ref": "AlarmTopic"}
        condition = resolver.resolve(statement["Condition"])
        assert condition["StringEquals"] == {"aws:SourceAccount": "123456789012"}, service
    alarm_arns = resolver.resolve(publishers["cloudwatch.amazonaws.com"]["Condition"])["ArnLike"][
        "aws:SourceArn"
    ]
    assert alarm_arns == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:echoes-prod-*"
    for name, alarm in _of_type("AWS::CloudWatch::Alarm").items():  # every alarm matches that pattern
        assert resolver.resolve(alarm["Properties"]["AlarmName"]).startswith("echoes-prod-"), name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_config_passes_the_templates_rules(environment: str) -> None:
    assert _resolver(environment).broken_rules() == []


def test_prod_refuses_to_deploy_without_alarms_or_someone_to_tell() -> None:
    (no_email,) = _resolver("prod", AlarmEmail="").broken_rules()
    assert "ALARM_EMAIL" in no_email and "ALARM_EMAIL_OPT_OUT" in no_email
    assert _resolver("prod", AlarmEmail="", AlarmEmailOptOut="true").broken_rules() == []
    (no_alarms,) = _resolver("prod", AlarmsEnabled="false").broken_rules()
    assert "ALARMS_ENABLED" in no_alarms
    # Staging and dev may deploy without anyone subscribed.
    assert _resolver("staging", AlarmEmail="", AlarmsEnabled="false").broken_rules() == []


def _load_config(tmp_path: Path, environment: str, text: str) -> subprocess.CompletedProcess:
    """scripts/lib.sh's load_config on a config file with TEXT, in a copy of scripts/ and config/."""
    for directory in ("scripts", "config"):
        shutil.copytree(ROOT / directory, tmp_path / directory)
    (tmp_path / "config" / f"{environment}.env").write_text(text)
    return subprocess.run(
        ["bash", "-c", f"source scripts/lib.sh && load_config {environment}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"]},
    )


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (("ALARM_EMAIL=alarms@echoes.app", "ALARM_EMAIL="), "prod alarms must reach someone"),
        (("ALARMS_ENABLED=true", "ALARMS_ENABLED=false"), "prod needs ALARMS_ENABLED=true"),
    ],
)
def test_the_scripts_refuse_prod_without_alarms_before_calling_aws(
    tmp_path: Path, change: tuple[str, str], refusal: str
) -> None:
    """The same rule as the template's, so that deploy.sh and env-setup.sh fail at once instead of
    at CloudFormation's change set."""
    text = (ROOT / "config" / "prod.env").read_text()
    assert change[0] + "\n" in text
    result = _load_config(tmp_path, "prod", text.replace(change[0] + "\n", change[1] + "\n"))
    assert result.returncode == 1 and refusal in result.stderr, result.stderr
    opted_out = text.replace("ALARM_EMAIL=alarms@echoes.app\n", "ALARM_EMAIL=\n").replace(
        "ALARM_EMAIL_OPT_OUT=false", "ALARM_EMAIL_OPT_OUT=true"
    )
    assert _load_config(tmp_path / "opted-out", "prod", opted_out).returncode == 0


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_alarms_exist_where_config_says_and_notify_the_topic(environment: str) -> None:
    enabled = config_of(environment)["ALARMS_ENABLED"] == "true"
    assert enabled is (environment != "dev"), "staging and prod have alarms; dev has none"
    resolver = _resolver(environment)
    alarms = _of_type("AWS::CloudWatch::Alarm")
    assert alarms
    for name, spec in alarms.items():
        assert spec["Condition"] == "HasAlarms", name
        assert resolver.condition(spec["Condition"]) is enabled, name
        props = spec["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["OKActions"] == [{"Ref": "AlarmTopic"}], name
    # The topic and its key exist everywhere (the budget notifies them too).
    for name in ("AlarmTopic", "AlarmTopicKey", "AlarmTopicPolicy"):
        assert "Condition" not in RESOURCES[name], name
    subscribed = resolver.condition(RESOURCES["AlarmEmailSubscription"]["Condition"])
    assert subscribed is bool(config_of(environment)["ALARM_EMAIL"])


# --- alarms on what matters ---------------------------------------------------------------------

APP_SIGNALS = (
    "ErasureChainStopped",
    "PendingAudioOnLiveEcho",
    "OrphanedAudio",
    "UploadLimitReached",
    "AudioLeftPending",
)


def _alarms() -> dict[str, dict]:
    return {name: spec["Properties"] for name, spec in _of_type("AWS::CloudWatch::Alarm").items()}


def _emitted(metric: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, str]]:
    """The namespace and dimensions app.observability.count(METRIC) writes in its EMF record, as
    CloudWatch turns it into a metric."""
    import json

    from app.observability import count

    capsys.readouterr()
    count(metric)
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    (dimension_set,) = directive["Dimensions"]
    return directive["Namespace"], {name: record[name] for name in dimension_set}


@pytest.mark.parametrize("metric", APP_SIGNALS)
def test_each_app_signal_has_an_alarm_on_the_metric_the_app_emits(
    metric: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An alarm whose dimensions differ from the emitted ones by one name or value watches a metric
    that never gets a datapoint, and never fires: read both from the code."""
    source = "\n".join(path.read_text() for path in (ROOT / "app").rglob("*.py"))
    assert f'count("{metric}")' in source, f"app/ no longer emits {metric}"
    namespace, dimensions = _emitted(metric, capsys)
    watching = [
        props
        for props in _alarms().values()
        if props.get("MetricName") == metric
        and props["Namespace"] == namespace
        and {d["Name"]: d["Value"] for d in props["Dimensions"]} == dimensions
    ]
    assert len(watching) == 1, (metric, namespace, dimensions)
    assert watching[0]["Statistic"] == "Sum" and watching[0]["ComparisonOperator"] == "GreaterThanThreshold"


def test_every_alarm_has_a_row_in_the_deployment_guide() -> None:
    """The guide's table is what an operator reads when a mail arrives: an alarm missing from it
    (two were, once the erasure function and the key rotation added theirs) has no documented why."""
    guide = (ROOT / "docs" / "deployment.md").read_text()
    resolver = _resolver("prod")
    for name, props in _alarms().items():
        suffix = resolver.resolve(props["AlarmName"]).removeprefix("echoes-prod-")
        assert f"\n| `{suffix}` |" in guide, f"docs/deployment.md's alarm table has no row for {name}"


def test_every_alarm_fires_at_low_traffic_treats_missing_data_on_purpose_and_says_why() -> None:
    for name, props in _alarms().items():
        assert props["TreatMissingData"] in {"notBreaching", "breaching", "ignore", "missing"}, name
        assert len(props["AlarmDescription"]) > 150, f"{name}: say why it fires and where to look"
        periods = props["EvaluationPeriods"]
        if periods > 1:  # M of N: a minute without requests (or with one success) does not reset it
            assert 1 <= props["DatapointsToAlarm"] < periods, name
        period = props.get("Period") or min(
            m["MetricStat"]["Period"] for m in props["Metrics"] if "MetricStat" in m
        )
        assert period * periods <= 3600, f"{name}: fires within the hour"
    five_xx = _alarms()["Api5xxRateAlarm"]
    assert (five_xx["Period"], five_xx["EvaluationPeriods"], five_xx["DatapointsToAlarm"]) == (60, 5, 3)


def test_dynamodb_throttles_alarm_fills_missing_data_itself() -> None:
    """Alarms on AWS/DynamoDB metrics always ignore missing data whatever TreatMissingData says,
    and throttle metrics only have datapoints when something was throttled: an alarm on them alone
    would stay in ALARM for ever after the first throttle. FILL(..., 0) in metric math makes the
    quiet minutes zeros, so the alarm returns to OK."""
    props = _alarms()["DynamoDbThrottlesAlarm"]
    (expression,) = [m for m in props["Metrics"] if m.get("ReturnData")]
    watched = {m["Id"]: m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m}
    for metric_id in watched:
        assert f"FILL({metric_id},0)" in expression["Expression"], metric_id
    seen = {
        (
            m["MetricName"],
            next((d["Value"] for d in m["Dimensions"] if d["Name"] == "GlobalSecondaryIndexName"), None),
        )
        for m in watched.values()
    }
    indexes = [i["IndexName"] for i in RESOURCES["EchoesTable"]["Properties"]["GlobalSecondaryIndexes"]]
    assert seen == {
        (metric, index)
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents")
        for index in (None, *indexes)
    }, "the table and every index, reads and writes"
    assert all(m["Namespace"] == "AWS/DynamoDB" for m in watched.values())


def test_dropped_asynchronous_events_of_the_erasure_function_alarm_at_once() -> None:
    """The erasure function is the only one invoked asynchronously (its next passes)."""
    props = _alarms()["AsyncEventsDroppedAlarm"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", "AsyncEventsDropped")
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ErasureFunction"}}]
    assert (props["EvaluationPeriods"], props["Threshold"]) == (1, 0)


# --- dashboard ----------------------------------------------------------------------------------


def _dashboard(environment: str) -> dict:
    import json

    names = {"ApiFunction": f"echoes-{environment}-api", "EchoesTable": f"echoes-{environment}-echoes"}
    names["ApiFunctionLogGroup"] = f"/aws/lambda/echoes-{environment}-api"
    names["ErasureFunction"] = f"echoes-{environment}-erasure"
    resolver = Resolver(TEMPLATE, expected_overrides(environment), names)
    return json.loads(resolver.resolve(RESOURCES["Dashboard"]["Properties"]["DashboardBody"]))


def _plotted(body: dict) -> set[tuple[str, str, str]]:
    """(namespace, metric, statistic) of every metric line; SEARCH expressions as ("SEARCH", metric, "")."""
    plotted = set()
    for widget in body["widgets"]:
        properties = widget["properties"]
        for line in properties.get("metrics", []):
            options = line[-1] if isinstance(line[-1], dict) else {}
            if isinstance(line[0], str):
                plotted.add((line[0], line[1], options.get("stat", properties.get("stat", ""))))
            elif "SEARCH(" in line[0].get("expression", ""):
                (metric,) = re.findall(r'MetricName="(\w+)"', line[0]["expression"])
                plotted.add(("SEARCH", metric, ""))
    return plotted


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_has_a_dashboard_of_what_matters(environment: str) -> None:
    assert "Condition" not in RESOURCES["Dashboard"]
    body = _dashboard(environment)
    plotted = _plotted(body)
    api, fn, ddb = "AWS/ApiGateway", "AWS/Lambda", "AWS/DynamoDB"
    wanted = {
        (api, "Count", "Sum"),
        (api, "4XXError", "Sum"),
        (api, "5XXError", "Sum"),
        (api, "Latency", "p50"),
        (api, "Latency", "p99"),
        (fn, "Duration", "p99"),
        (fn, "ConcurrentExecutions", "Maximum"),
        (fn, "Throttles", "Sum"),
        (ddb, "ConsumedReadCapacityUnits", "Sum"),
        (ddb, "ConsumedWriteCapacityUnits", "Sum"),
        (ddb, "ReadThrottleEvents", "Sum"),
        (ddb, "WriteThrottleEvents", "Sum"),
        *(("Echoes", metric, "Sum") for metric in APP_SIGNALS),
        ("SEARCH", "EchoCreated", ""),
        ("SEARCH", "ApiErrors", ""),
    }
    assert wanted <= plotted, wanted - plotted
    # Lambda publishes no init-duration metric: it is in each cold start's REPORT record, which
    # the JSON log format writes as a platform.report event (read with Logs Insights).
    (query,) = [w["properties"]["query"] for w in body["widgets"] if w["type"] == "log"]
    assert query.startswith(f"SOURCE '/aws/lambda/echoes-{environment}-api' |")
    assert "record.metrics.initDurationMs" in query
    # Where SnapStart is on (staging, prod), a cold start is a restore: its REPORT record has
    # restoreDurationMs and no initDurationMs, so a widget of init durations alone stays empty there.
    assert "ispresent(record.metrics.restoreDurationMs)" in query
    assert "avg(record.metrics.restoreDurationMs)" in query
    text = str(body)
    assert f"echoes-{environment}-api" in text and "${" not in text.replace("${PROP('Dim.error_code')}", "")


# --- data survives an operator ------------------------------------------------------------------

RETAINED_IN_PROD = {
    "EchoesTable",
    "AudioBucket",
    "AudioBucketPolicy",
    "UserPool",
    "ApiFunctionLogGroup",
    "ErasureFunctionLogGroup",
    "ApiAccessLogGroup",
    "WafLogGroup",
}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_resource_says_what_deleting_or_replacing_it_does(environment: str) -> None:
    """No resource relies on CloudFormation's default (delete): each names its DeletionPolicy and
    UpdateReplacePolicy, and prod keeps its data, its users, the bucket's TLS-only policy and the
    logs (cleanup.sh leaves these in prod)."""
    resolver = _resolver(environment)
    for name, spec in RESOURCES.items():
        for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
            assert attribute in spec, f"{name} has no explicit {attribute}"
            expected = "Retain" if environment == "prod" and name in RETAINED_IN_PROD else "Delete"
            assert resolver.resolve(spec[attribute]) == expected, (name, attribute)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_prod_table_refuses_a_direct_delete(environment: str) -> None:
    """Retain only acts when CloudFormation deletes the table; DeleteTable from a console or a
    script is refused only by deletion protection."""
    protected = _resolver(environment).resolve(
        RESOURCES["EchoesTable"]["Properties"]["DeletionProtectionEnabled"]
    )
    assert protected is (environment == "prod")
    pool = _resolver(environment).resolve(RESOURCES["UserPool"]["Properties"]["DeletionProtection"])
    assert pool == ("ACTIVE" if environment == "prod" else "INACTIVE")


# --- cost guardrails ----------------------------------------------------------------------------

TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"


def _types_that_take_tags(types: set[str]) -> dict[str, str]:
    """Each CloudFormation type among TYPES whose schema (cfn-lint's copy of the registry's) has a
    tags property, and that property's name."""
    script = (
        "import json, sys\n"
        "from cfnlint.schema import PROVIDER_SCHEMA_MANAGER as P\n"
        "found = {}\n"
        "for kind in json.loads(sys.argv[1]):\n"
        "    properties = P.get_resource_schema('us-east-1', kind).schema['properties']\n"
        "    found.update({kind: p for p in ('Tags', 'UserPoolTags', 'ResourceTags') if p in properties})\n"
        "print(json.dumps(found))\n"
    )
    import json

    result = subprocess.run(
        [str(TOOLS_PYTHON), "-c", script, json.dumps(sorted(types))],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def _tags(value: object) -> dict:
    if isinstance(value, list):
        return {tag["Key"]: tag["Value"] for tag in value}
    assert isinstance(value, dict)
    return value


@pytest.mark.slow
def test_everything_that_takes_tags_carries_the_cost_allocation_tags() -> None:
    wanted = {"project": "echoes", "environment": {"Ref": "Environment"}}
    plain = {spec["Type"] for spec in RESOURCES.values() if not spec["Type"].startswith("AWS::Serverless::")}
    taggable = _types_that_take_tags(plain)
    assert {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Cognito::UserPool", "AWS::KMS::Key"} <= set(
        taggable
    )
    for name, spec in RESOURCES.items():
        if spec["Type"] in taggable:
            tags = _tags(spec["Properties"].get(taggable[spec["Type"]], []))
            assert tags == wanted, name
    # SAM: the functions take theirs from Globals, the API has its own; both pass them on to what
    # SAM generates (the function's role, the stage).
    function_globals = TEMPLATE["Globals"]["Function"]
    assert (function_globals["Tags"], function_globals["PropagateTags"]) == (wanted, True)
    for name, spec in RESOURCES.items():
        if spec["Type"] == "AWS::Serverless::Function":
            assert "Tags" not in spec["Properties"] or spec["Properties"]["Tags"] == wanted, name
    api = RESOURCES["Api"]["Properties"]
    assert (api["Tags"], api["PropagateTags"]) == (wanted, True)


ACCOUNT_CONCURRENCY = 1000  # Lambda's default concurrency quota per account and region
UNRESERVED_MINIMUM = 100  # Lambda keeps at least this much unreserved


def test_reserved_concurrency_per_environment_leaves_the_account_its_unreserved_minimum() -> None:
    """Every *RESERVED_CONCURRENCY key of every environment (the API function's, and any other
    function's) is reserved in the same account and region when the environments share one:
    together they must leave Lambda's unreserved minimum, or the deploy fails."""
    total = 0
    for environment in ENVIRONMENTS:
        config = config_of(environment)
        reserved = {
            key: int(value) for key, value in config.items() if key.endswith("RESERVED_CONCURRENCY") and value
        }
        total += sum(reserved.values())
        api = reserved.get("RESERVED_CONCURRENCY")
        if environment == "dev":
            assert api is None, "dev stays deployable in a new account (quota 10)"
            continue
        assert api is not None and api >= int(config["THROTTLE_BURST_LIMIT"]), (
            f"{environment}: at least the stage's burst, so that the stage throttles (429) before Lambda (503)"
        )
    assert total <= ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM
    reserved_property = RESOURCES["ApiFunction"]["Properties"]["ReservedConcurrentExecutions"]
    for environment in ENVIRONMENTS:
        resolved = _resolver(environment).resolve({"value": reserved_property}).get("value")
        assert resolved == (config_of(environment)["RESERVED_CONCURRENCY"] or None), environment


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_has_a_budget_that_notifies_the_alarm_topic(environment: str) -> None:
    resolver = Resolver(TEMPLATE, expected_overrides(environment), {"AlarmTopic": "arn:topic"})
    budget = resolver.resolve(RESOURCES["Budget"]["Properties"])
    assert "Condition" not in RESOURCES["Budget"]
    data = budget["Budget"]
    assert (data["BudgetType"], data["TimeUnit"]) == ("COST", "MONTHLY")
    assert data["BudgetLimit"] == {"Amount": config_of(environment)["MONTHLY_BUDGET_USD"], "Unit": "USD"}
    assert data["FilterExpression"]["And"] == [
        {"Tags": {"Key": "project", "Values": ["echoes"]}},
        {"Tags": {"Key": "environment", "Values": [environment]}},
    ], "the stack's own cost-allocation tags"
    kinds = set()
    for notification in RESOURCES["Budget"]["Properties"]["NotificationsWithSubscribers"]:
        assert notification["Subscribers"] == [{"SubscriptionType": "SNS", "Address": {"Ref": "AlarmTopic"}}]
        kinds.add(notification["Notification"]["NotificationType"])
    assert kinds == {"ACTUAL", "FORECASTED"}


# --- TLS, access log, compression, log levels, WAF ---------------------------------------------

API = RESOURCES["Api"]["Properties"]


def test_the_api_has_the_strictest_tls_policy_regional_rest_apis_take() -> None:
    """TLS 1.3 only, on the API's own execute-api endpoint (not only on a custom domain); an
    enhanced policy needs an endpoint access mode, STRICT unless a migration asks for BASIC."""
    parameters = TEMPLATE["Parameters"]
    assert API["SecurityPolicy"] == {"Ref": "TlsSecurityPolicy"}
    assert parameters["TlsSecurityPolicy"]["Default"] == "SecurityPolicy_TLS13_1_3_2025_09"
    assert API["EndpointAccessMode"] == {"Ref": "ApiEndpointAccessMode"}
    assert parameters["ApiEndpointAccessMode"]["Default"] == "STRICT"
    assert API["EndpointConfiguration"] == {"Type": "REGIONAL"}


def test_the_access_log_tells_502_from_504_and_names_the_request_for_aws() -> None:
    import json

    fields = json.loads(API["AccessLogSetting"]["Format"])
    wanted = {
        "extendedRequestId": "$context.extendedRequestId",
        "responseLength": "$context.responseLength",
        "xrayTraceId": "$context.xrayTraceId",
        "responseType": "$context.error.responseType",
        "integrationStatus": "$context.integration.status",
        "integrationError": "$context.integration.error",
        "integrationErrorMessage": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
        "status": "$context.status",
        "tlsVersion": "$context.tlsVersion",
    }
    assert wanted.items() <= fields.items()
    assert all(value.startswith("$context.") for value in fields.values())
    assert "$context.authorizer.claims.sub" in fields.values()  # who, never the token itself
    assert not any("authorization" in value.lower() for value in fields.values())


def test_responses_are_compressed_above_a_threshold() -> None:
    size = API["MinimumCompressionSize"]
    assert isinstance(size, int) and 0 < size <= 10485760  # API Gateway's range
    assert size < 500 * 1024, "export pages (about 0.5 MB) are compressed"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_one_log_level_drives_the_app_powertools_and_lambda(environment: str) -> None:
    """With advanced logging controls, Lambda drops records below ApplicationLogLevel and
    Powertools' Logger takes AWS_LAMBDA_LOG_LEVEL over its own level: the two must agree. Checked
    with Powertools itself: a Logger built as Lambda starts the function has the config's level and
    warns of no mismatch."""
    import logging
    import warnings

    from aws_lambda_powertools import Logger

    config = config_of(environment)
    logging_config = _resolver(environment).resolve(
        {k: v for k, v in RESOURCES["ApiFunction"]["Properties"]["LoggingConfig"].items() if k != "LogGroup"}
    )
    assert logging_config == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": logging_config["ApplicationLogLevel"],
        "SystemLogLevel": config["SYSTEM_LOG_LEVEL"],
    }
    assert config["SYSTEM_LOG_LEVEL"] == "INFO", "the dashboard's cold-start widget reads INFO records"
    environment_variables = RESOURCES["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert (
        environment_variables["LOG_LEVEL"]
        == environment_variables["POWERTOOLS_LOG_LEVEL"]
        == {"Ref": "LogLevel"}
    )
    patch = pytest.MonkeyPatch()
    try:
        patch.setenv("AWS_LAMBDA_LOG_LEVEL", logging_config["ApplicationLogLevel"])
        patch.setenv("POWERTOOLS_LOG_LEVEL", config["LOG_LEVEL"])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # Powertools warns when the two levels differ
            logger = Logger(service=f"level-check-{environment}")
            logger.setLevel(config["LOG_LEVEL"])  # what app.main does
        assert logging.getLevelName(logger.log_level) == config["LOG_LEVEL"]
    finally:
        patch.undo()


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_managed_rule_groups_are_pinned_from_config(environment: str) -> None:
    rules = {rule["Name"]: rule for rule in RESOURCES["WebAcl"]["Properties"]["Rules"]}
    config = config_of(environment)
    pins = {
        "aws-common-rule-set": config["WAF_COMMON_RULE_SET_VERSION"],
        "aws-known-bad-inputs": config["WAF_KNOWN_BAD_INPUTS_RULE_SET_VERSION"],
    }
    for name, version in pins.items():
        statement = rules[name]["Statement"]["ManagedRuleGroupStatement"]
        assert _resolver(environment).resolve(statement["Version"]) == version, name
        assert re.fullmatch(r"Version_\d+\.\d+", version), name
    if environment == "prod":  # prod runs what staging ran first
        staging = config_of("staging")
        assert pins == {
            "aws-common-rule-set": staging["WAF_COMMON_RULE_SET_VERSION"],
            "aws-known-bad-inputs": staging["WAF_KNOWN_BAD_INPUTS_RULE_SET_VERSION"],
        }


def _cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.startswith("Access-Control-")}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_waf_blocks_carry_the_gateway_responses_cors_headers(environment: str) -> None:
    """Issue 22, item 10: WAF's 429 and 403 bypass API Gateway and the app, so without headers of
    their own a browser can read neither them nor Retry-After. A WAF header is static text, as a
    gateway response's is: both name the first allowed origin (what a browser on another listed
    origin gets is said in docs/deployment.md)."""
    resolver = _resolver(environment)
    origins = config_of(environment)["CORS_ALLOW_ORIGINS"].split(",")
    gateway = {
        kind: _cors_headers(
            {n: v.strip("'") for n, v in resolver.resolve(r["ResponseParameters"]["Headers"]).items()}
        )
        for kind, r in API["GatewayResponses"].items()
    }
    (expected,) = {tuple(sorted(headers.items())) for headers in gateway.values()}  # all alike
    assert dict(expected)["Access-Control-Allow-Origin"] == origins[0]
    blocking = [
        rule for rule in RESOURCES["WebAcl"]["Properties"]["Rules"] if "Block" in rule.get("Action", {})
    ]
    assert {rule["Name"] for rule in blocking} == {"rate-limit-per-ip", "block-managed-rule-matches"}
    for rule in blocking:
        response = resolver.resolve(rule["Action"]["Block"]["CustomResponse"])
        headers = {header["Name"]: header["Value"] for header in response["ResponseHeaders"]}
        assert _cors_headers(headers) == dict(expected), rule["Name"]
        assert "Retry-After" in headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("level", TEMPLATE["Parameters"]["LogLevel"]["AllowedValues"])
def test_every_app_log_level_maps_to_the_lambda_level_powertools_reads_as_the_same(level: str) -> None:
    from aws_lambda_powertools.shared.constants import LAMBDA_ADVANCED_LOGGING_LEVELS

    lambda_level = Resolver(TEMPLATE, {"LogLevel": level}).resolve(
        RESOURCES["ApiFunction"]["Properties"]["LoggingConfig"]["ApplicationLogLevel"]
    )
    assert LAMBDA_ADVANCED_LOGGING_LEVELS[lambda_level] == level


# --- cursor-key rotation ------------------------------------------------------------------------


def test_the_cursor_key_rotates_on_the_configured_schedule_with_the_rotation_function() -> None:
    schedule = RESOURCES["CursorKeyRotationSchedule"]
    assert schedule["DependsOn"] == "CursorKeyRotationPermission", "Secrets Manager may invoke it first"
    props = schedule["Properties"]
    assert props["SecretId"] == {"Ref": "AppSecret"}
    assert props["RotationLambdaARN"] == {"Fn::GetAtt": ["CursorKeyRotationFunction", "Arn"]}
    for environment in ENVIRONMENTS:
        days = config_of(environment)["CURSOR_KEY_ROTATION_DAYS"]
        assert _resolver(environment).resolve(props["RotationRules"]) == {
            "ScheduleExpression": f"rate({days} days)"
        }
    permission = RESOURCES["CursorKeyRotationPermission"]["Properties"]
    assert (permission["Principal"], permission["Action"]) == (
        "secretsmanager.amazonaws.com",
        "lambda:InvokeFunction",
    )
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}, "no other account's Secrets Manager"


def test_the_rotation_function_ships_alone_and_runs_the_rotation_code() -> None:
    function = RESOURCES["CursorKeyRotationFunction"]
    module, name = function["Properties"]["Handler"].split(".")
    import rotation.cursor_key

    assert module == "cursor_key" and callable(getattr(rotation.cursor_key, name))
    assert function["Metadata"]["BuildMethod"] == "makefile"
    makefile = (ROOT / "Makefile").read_text()
    assert 'build-CursorKeyRotationFunction:\n\tcp rotation/cursor_key.py "$(ARTIFACTS_DIR)/"\n' in makefile


def test_the_rotation_role_may_do_exactly_what_the_rotation_code_calls() -> None:
    """Least privilege both ways, as IAM is what moto does not check: every Secrets Manager call of
    rotation/cursor_key.py is granted, nothing else is, and only on the cursor key; logs only to its
    own log group; no managed policy (SAM's basic execution role writes to every log group)."""
    import botocore.session

    role = RESOURCES["CursorKeyRotationRole"]["Properties"]
    assert RESOURCES["CursorKeyRotationFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["CursorKeyRotationRole", "Arn"]
    }
    assert "ManagedPolicyArns" not in role
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    statements = {s["Sid"]: s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]}
    assert set(statements) == {"RotateTheCursorKey", "OwnLogGroup"}
    model = botocore.session.get_session().get_service_model("secretsmanager")
    by_method = {re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(): name for name in model.operation_names}
    source = (ROOT / "rotation" / "cursor_key.py").read_text()
    called = {by_method[method] for method in re.findall(r"client\.(\w+)\(", source) if method in by_method}
    assert called == {"DescribeSecret", "GetSecretValue", "PutSecretValue", "UpdateSecretVersionStage"}
    rotate = statements["RotateTheCursorKey"]
    assert set(rotate["Action"]) == {f"secretsmanager:{operation}" for operation in called}
    assert rotate["Resource"] == {"Ref": "AppSecret"}
    logs = statements["OwnLogGroup"]
    assert set(logs["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert logs["Resource"] == {"Fn::GetAtt": ["CursorKeyRotationLogGroup", "Arn"]}
    logging_config = RESOURCES["CursorKeyRotationFunction"]["Properties"]["LoggingConfig"]
    assert logging_config["LogGroup"] == {"Ref": "CursorKeyRotationLogGroup"}
