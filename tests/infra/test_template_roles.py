"""Each function's role grants exactly what its code calls (issue 22 finding 11, issue 25 finding
5): nothing used is missing (AccessDenied in AWS, which neither emulator checks), nothing granted
is unused, and the API's role holds nothing of the account erasure but starting its function.

What each function runs: the API is lambda_handler.py and app/ but for the erasure's three modules,
which the API imports only to run passes in its own process where there is no erasure function
(app/main.py, _erasure_starter: the local stack and the tests); the erasure function is
erasure_handler.py and those three modules. The AWS calls are read from the source (botocore method
names, presigned operations, paginators, transaction items) and mapped to IAM actions.
"""

import re
from functools import cache
from pathlib import Path

import botocore.session
import pytest

from devtools.cfn import load_template

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = load_template()["Resources"]
ERASURE_MODULES = {ROOT / "app" / name for name in ("erasure.py", "sweep.py", "store/account.py")}
CODE = {
    "ApiFunction": [ROOT / "lambda_handler.py", *sorted(set((ROOT / "app").rglob("*.py")) - ERASURE_MODULES)],
    "ErasureFunction": [ROOT / "erasure_handler.py", *sorted(ERASURE_MODULES)],
}
SERVICES = ("dynamodb", "s3", "secretsmanager", "cognito-idp", "lambda", "sqs")
# botocore method -> the IAM actions it needs. A call of these services missing here fails the test.
ACTIONS: dict[str, set[str]] = {
    "get_item": {"dynamodb:GetItem"},
    "batch_get_item": {"dynamodb:BatchGetItem"},
    "put_item": {"dynamodb:PutItem"},
    "update_item": {"dynamodb:UpdateItem"},
    "query": {"dynamodb:Query"},
    "batch_write_item": {"dynamodb:BatchWriteItem"},
    "transact_write_items": set(),  # authorised by its items' actions (TRANSACTION_ITEMS below)
    "head_object": {"s3:GetObject"},
    # The staged upload read, the echo's key written and tagged (TaggingDirective REPLACE).
    "copy_object": {"s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"},
    "head_bucket": {"s3:ListBucket"},
    "delete_object": {"s3:DeleteObject"},
    "delete_objects": {"s3:DeleteObjectVersion"},  # the erasure deletes by VersionId
    "put_object_tagging": {"s3:PutObjectTagging"},
    "delete_object_tagging": {"s3:DeleteObjectTagging"},
    "list_object_versions": {"s3:ListBucketVersions"},
    "get_secret_value": {"secretsmanager:GetSecretValue"},
    "get_user": set(),  # authorised by the access token it is given, not by IAM
    "admin_delete_user": {"cognito-idp:AdminDeleteUser"},
    "invoke": {"lambda:InvokeFunction"},
    "send_message": {"sqs:SendMessage"},
}
PRESIGNED = {"put_object": {"s3:PutObject"}, "get_object": {"s3:GetObject"}}
TRANSACTION_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Not the code's calls but the runtime's: its logs and traces, Lambda's delivery of a failed
# asynchronous pass to the on-failure destination with the function's role, and the event source
# mapping's polling of the sweeps' queue with it.
RUNTIME = {
    "ApiFunction": {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    },
    "ErasureFunction": {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    },
}
ERASURE_ONLY = {"dynamodb:BatchWriteItem", "cognito-idp:AdminDeleteUser"}


@cache
def _methods() -> frozenset[str]:
    session = botocore.session.get_session()
    return frozenset(
        re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
        for service in SERVICES
        for operation in session.get_service_model(service).operation_names
    )


def used_actions(function: str) -> set[str]:
    source = "\n".join(path.read_text() for path in CODE[function])
    methods = _methods()
    calls = {method for method in re.findall(r"\.(\w+)\(", source) if method in methods}
    unmapped = calls - set(ACTIONS)
    assert not unmapped, f"map these calls to their IAM actions in ACTIONS: {unmapped}"
    actions = {action for call in calls for action in ACTIONS[call]}
    actions |= {
        a for op, a_set in PRESIGNED.items() if re.search(rf'presigned_url\(\s*"{op}"', source) for a in a_set
    }
    actions |= {ACTIONS[op].copy().pop() for op in re.findall(r'get_paginator\("(\w+)"\)', source)}
    if "transact_write_items" in calls:
        actions |= {action for item, action in TRANSACTION_ITEMS.items() if re.search(rf'"{item}": ', source)}
    return actions


def _role(function: str) -> dict:
    role = RESOURCES[function]["Properties"]["Role"]
    assert set(role) == {"Fn::GetAtt"} and role["Fn::GetAtt"][1] == "Arn", role
    return RESOURCES[role["Fn::GetAtt"][0]]["Properties"]


def statements(function: str) -> list[dict]:
    return [s for policy in _role(function)["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _listed(value: object) -> list:
    return value if isinstance(value, list) else [value]


def granted_actions(function: str) -> set[str]:
    return {action for statement in statements(function) for action in _listed(statement["Action"])}


@pytest.mark.parametrize("function", list(CODE))
def test_the_role_grants_exactly_what_the_code_calls(function: str) -> None:
    role = _role(function)
    assert "ManagedPolicyArns" not in role, "a managed policy grants far more (logs on every group)"
    assert "Policies" not in RESOURCES[function]["Properties"], "SAM would add its basic execution role"
    used, granted = used_actions(function) | RUNTIME[function], granted_actions(function)
    assert used - granted == set(), f"called but not granted: {used - granted}"
    assert granted - used == set(), f"granted but unused: {granted - used}"


def test_the_api_role_holds_nothing_of_the_erasure_but_starting_it() -> None:
    assert granted_actions("ApiFunction") & ERASURE_ONLY == set()
    assert granted_actions("ErasureFunction") >= ERASURE_ONLY
    [start] = [s for s in statements("ApiFunction") if s["Action"] == "lambda:InvokeFunction"]
    assert start["Resource"] == {"Fn::GetAtt": ["ErasureFunction", "Arn"]}


@pytest.mark.parametrize("function", list(CODE))
def test_every_statement_names_its_resources(function: str) -> None:
    for statement in statements(function):
        resources = _listed(statement["Resource"])
        actions = _listed(statement["Action"])
        assert all("*" not in action for action in actions), statement["Sid"]
        if "*" in resources:  # X-Ray takes no resource-level permissions
            assert {action.split(":")[0] for action in actions} == {"xray"}, statement["Sid"]


def test_each_function_writes_logs_to_its_own_log_group_only() -> None:
    for function, group in (
        ("ApiFunction", "ApiFunctionLogGroup"),
        ("ErasureFunction", "ErasureFunctionLogGroup"),
    ):
        [logs] = [s for s in statements(function) if any(a.startswith("logs:") for a in _listed(s["Action"]))]
        assert logs["Resource"] == {"Fn::GetAtt": [group, "Arn"]}, function
        assert RESOURCES[function]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group}


def test_the_api_names_the_two_indexes_it_queries() -> None:
    [table] = [s for s in statements("ApiFunction") if s["Sid"] == "EchoesTable"]
    indexes = {r["Fn::Sub"].rsplit("/", 1)[1] for r in table["Resource"] if "Fn::Sub" in r}
    declared = {
        index["IndexName"] for index in RESOURCES["EchoesTable"]["Properties"]["GlobalSecondaryIndexes"]
    }
    assert indexes == declared == {"by_created", "by_emotion_created"}


def test_the_api_lists_and_deletes_versions_of_one_echos_audio_only() -> None:
    """An echo's DELETE removes every version of its key: the listing's prefix must be a key
    (audio/<sub>/<id>.<ext>), never a user's whole prefix or the staging one, as the erasure's is."""
    by_sid = {s["Sid"]: s for s in statements("ApiFunction")}
    listing = by_sid["ListOneEchosAudioVersions"]
    assert listing["Action"] == "s3:ListBucketVersions"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "audio/*/*.*"}}
    versions = [s for s in by_sid.values() if "s3:DeleteObjectVersion" in _listed(s["Action"])]
    assert [s["Resource"] for s in versions] == [{"Fn::Sub": "${AudioBucket.Arn}/audio/*"}]


def test_the_erasure_deletes_versions_only_under_the_users_prefixes() -> None:
    by_sid = {s["Sid"]: s for s in statements("ErasureFunction")}
    assert by_sid["ListAudioVersions"]["Condition"] == {"StringLike": {"s3:prefix": ["audio/*", "uploads/*"]}}
    assert by_sid["DeleteAudioVersions"]["Resource"] == [
        {"Fn::Sub": "${AudioBucket.Arn}/audio/*"},
        {"Fn::Sub": "${AudioBucket.Arn}/uploads/*"},
    ]
    assert by_sid["NextPass"]["Resource"]["Fn::Sub"].endswith(":function:echoes-${Environment}-erasure")
    assert RESOURCES["ErasureFunction"]["Properties"]["FunctionName"] == {
        "Fn::Sub": "echoes-${Environment}-erasure"
    }


def test_a_failed_asynchronous_pass_is_kept_not_retried() -> None:
    config = RESOURCES["ErasureFunction"]["Properties"]["EventInvokeConfig"]
    assert config["MaximumRetryAttempts"] == 0
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["ErasureFailuresQueue", "Arn"]},
    }
    assert RESOURCES["ErasureFailuresQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    alarm = RESOURCES["ErasureFailuresAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ErasureFailuresQueue", "QueueName"]}}
    ]


def test_the_sweeps_after_an_erasure_come_back_to_the_erasure_function() -> None:
    """app/sweep.py: the erasure queues its sweeps on ErasureSweepQueue, which the function's event
    source mapping polls, reporting failed records alone; a sweep received three times lands in the
    alarmed failures queue. The queue's visibility timeout is AWS's recommended six times the
    longest function timeout the template allows."""
    function = RESOURCES["ErasureFunction"]["Properties"]
    assert function["Environment"]["Variables"]["ERASURE_SWEEP_QUEUE_URL"] == {"Ref": "ErasureSweepQueue"}
    assert function["Events"]["Sweeps"] == {
        "Type": "SQS",
        "Properties": {
            "Queue": {"Fn::GetAtt": ["ErasureSweepQueue", "Arn"]},
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    }
    queue = RESOURCES["ErasureSweepQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ErasureFailuresQueue", "Arn"]},
        "maxReceiveCount": 3,
    }
    longest_timeout = load_template()["Parameters"]["FunctionTimeoutSeconds"]["MaxValue"]
    assert queue["VisibilityTimeout"] >= 6 * longest_timeout
    [sweeps] = [s for s in statements("ErasureFunction") if s["Sid"] == "Sweeps"]
    assert sweeps["Resource"] == {"Fn::GetAtt": ["ErasureSweepQueue", "Arn"]}


def test_only_the_erasure_function_may_invoke_itself_in_a_chain() -> None:
    """AWS's recursive loop detection would stop an erasure after about 16 passes: the erasure
    function allows its loops (bounded by the app); the API keeps Lambda's default, Terminate."""
    assert RESOURCES["ErasureFunction"]["Properties"]["RecursiveLoop"] == "Allow"
    assert "RecursiveLoop" not in RESOURCES["ApiFunction"]["Properties"]
