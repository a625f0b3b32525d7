"""The GitHub Actions deploy role of one environment: its trust and its permissions, from template.yaml.

    .venv-tools/bin/python scripts/deploy_policy.py ENV ACCOUNT REGION REPOSITORY OUT_DIR [TEMPLATE]

writes OUT_DIR/trust.json and OUT_DIR/deploy-N.json, the trust and permission policies that
env-setup.sh --github puts on the role (each permission policy under IAM's 6,144 characters). Run with .venv-tools' Python: it reads SAM's transform (samtranslator) and CloudFormation's
resource schemas (cfn-lint's copy of the registry's).

- Trust: GitHub's OIDC provider, audience sts.amazonaws.com, subject repo:OWNER/REPO:environment:ENV
  only (a job of that repository running in that GitHub environment).
- Permissions: what CloudFormation's handlers of every resource type the stack has once SAM has
  expanded it (the registry schemas' handlers.{create,read,update,delete}.permissions, the caller's
  permissions being what CloudFormation uses without a service role), minus what this template's
  use of each type does not need (EXCLUDED, each with why), scoped by service to this environment's
  names where the resource's ARN carries a name (SCOPES) and to the account and region where it
  carries only an id; plus what deploy.sh itself does (DEPLOYER: the stack and its change sets, SAM's
  transforms, the artifacts bucket, the account checks, the smoke test's test user).
tests/infra/test_github_deploy_role.py reads the result against the template and AWS's IAM reference.
"""

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OIDC_HOST = "token.actions.githubusercontent.com"
HANDLERS = ("create", "read", "update", "delete")  # not list: CloudFormation lists nothing to deploy

# Service prefix of each CloudFormation namespace the template uses.
SERVICES = {
    "ApiGateway": "apigateway",
    "Budgets": "budgets",
    "CloudWatch": "cloudwatch",
    "CodeDeploy": "codedeploy",
    "Cognito": "cognito-idp",
    "DynamoDB": "dynamodb",
    "IAM": "iam",
    "KMS": "kms",
    "Lambda": "lambda",
    "Logs": "logs",
    "S3": "s3",
    "SNS": "sns",
    "SQS": "sqs",
    "SecretsManager": "secretsmanager",
    "WAFv2": "wafv2",
}

# What a type's handlers list that this template's use of the type never needs, and why.
EXCLUDED: dict[str, str] = {
    # DynamoDB: no import, replicas (global tables) or Kinesis streaming.
    "dynamodb:ImportTable": "no ImportSourceSpecification",
    "dynamodb:DescribeImport": "no ImportSourceSpecification",
    "dynamodb:Scan": "import only",
    "dynamodb:Query": "import only",
    "dynamodb:GetItem": "import only",
    "dynamodb:PutItem": "import only",
    "dynamodb:UpdateItem": "import only",
    "dynamodb:DeleteItem": "import only",
    "dynamodb:BatchWriteItem": "import only",
    "dynamodb:CreateTableReplica": "no Replicas",
    "dynamodb:AssociateTableReplica": "no Replicas",
    "dynamodb:EnableKinesisStreamingDestination": "no KinesisStreamSpecification",
    "dynamodb:DisableKinesisStreamingDestination": "no KinesisStreamSpecification",
    "dynamodb:UpdateKinesisStreamingDestination": "no KinesisStreamSpecification",
    "kinesis:DescribeStream": "no KinesisStreamSpecification",
    "kinesis:PutRecords": "no KinesisStreamSpecification",
    "logs:CreateLogStream": "a table's import logs only (the functions' groups are the stack's)",
    "logs:DescribeLogStreams": "a table's import logs only",
    "logs:PutLogEvents": "a table's import logs only",
    "s3:GetObjectMetadata": "a table's import only",
    # Lambda: no VPC, file system, layers, code signing, capacity provider or KMS-encrypted variables.
    "ec2:DescribeNetworkInterfaces": "no VpcConfig",
    "ec2:DescribeSecurityGroups": "no VpcConfig",
    "ec2:DescribeSubnets": "no VpcConfig",
    "ec2:DescribeVpcs": "no VpcConfig",
    "elasticfilesystem:DescribeMountTargets": "no FileSystemConfigs",
    "s3files:ListMountTargets": "no FileSystemConfigs",
    "lambda:GetLayerVersion": "no Layers",
    "lambda:GetCodeSigningConfig": "no CodeSigningConfigArn",
    "lambda:PassCapacityProvider": "no CapacityProviderConfig",
    "kms:GenerateDataKey": "no KmsKeyArn on a function, no CMK on a table",
    # S3: no S3 Tables, replication role, metadata tables.
    "s3tables:CreateNamespace": "no metadata table configuration",
    "s3tables:CreateTable": "no metadata table configuration",
    "s3tables:CreateTableBucket": "no metadata table configuration",
    "s3tables:GetTable": "no metadata table configuration",
    "s3tables:GetTableMetadataLocation": "no metadata table configuration",
    "s3tables:PutTableBucketPolicy": "no metadata table configuration",
    "s3tables:PutTableEncryption": "no metadata table configuration",
    "s3tables:PutTablePolicy": "no metadata table configuration",
    "s3tables:UpdateTableMetadataLocation": "no metadata table configuration",
    "s3:REST.PUT.OBJECT": "no delivery of log groups to S3 (and no IAM action)",
    "firehose:TagDeliveryStream": "no delivery of logs to Firehose",
    "firehose:ListDeliveryStreams": "WAF logs to CloudWatch Logs, not Firehose",
    "s3:GetBucketPolicy": "WAF logs to CloudWatch Logs, not S3",
    "s3:PutBucketPolicy": "WAF logs to CloudWatch Logs, not S3",
    "iam:DescribeOrganization": "WAF logging outside an organization's delegation",
    # Cognito: no SMS role, custom KMS key or analytics.
    "iam:CreateServiceLinkedRole": "no replicas, SMS, autoscaling or Firehose delivery",
    "kms:GenerateDataKeyWithoutPlaintext": "no custom KMS key on the user pool",
    "kms:ReEncryptFrom": "no custom KMS key on the user pool",
    "kms:ReEncryptTo": "no custom KMS key on the user pool",
    "cognito-idp:AssociateWebACL": "the WAF is on the API, not on the user pool",
    "cognito-idp:DisassociateWebACL": "the WAF is on the API, not on the user pool",
    "cognito-idp:GetWebACLForResource": "the WAF is on the API, not on the user pool",
    # WAF: associated with the API stage only; no Marketplace or shared rule groups.
    "payments:GetConnectedAccount": "no paid rule groups",
    "wafv2:GetPermissionPolicy": "no rule group of ours shared with other accounts",
    "wafv2:PutPermissionPolicy": "no rule group of ours shared with other accounts",
    # CodeDeploy: Lambda deployments only.
    "codedeploy:RegisterOnPremisesInstance": "no on-premises instances",
    **{
        f"{service}:{action}": "the web ACL is associated with an API Gateway stage only"
        for service, actions in {
            "amplify": ("AssociateWebACL", "DisassociateWebACL", "GetWebACLForResource"),
            "apprunner": ("AssociateWebAcl", "DescribeWebAclForService", "DisassociateWebAcl"),
            "appsync": ("AssociateWebACL", "DisassociateWebACL", "GetWebACLForResource", "SetWebACL"),
            "bedrock-agentcore": (
                "GatewayAssociateWebACL",
                "GatewayDisassociateWebACL",
                "GatewayGetWebACLForResource",
            ),
            "ec2": (
                "AssociateVerifiedAccessInstanceWebAcl",
                "DescribeVerifiedAccessInstanceWebAclAssociations",
                "DisassociateVerifiedAccessInstanceWebAcl",
                "GetVerifiedAccessInstanceWebAcl",
            ),
            "elasticloadbalancing": (
                "CreateWebACLAssociation",
                "DeleteWebACLAssociation",
                "GetLoadBalancerWebACL",
                "SetWebACL",
            ),
        }.items()
        for action in actions
    },
}

# Actions that take no resource in IAM ("*" only), per AWS's Service Authorization Reference
# (tests/infra/test_github_deploy_role.py checks the list against it both ways).
UNSCOPED = {
    "billing:GetBillingViewData",
    "cognito-idp:CreateUserPool",
    "codedeploy:StopDeployment",
    "kms:CreateKey",
    "kms:ListAliases",
    "lambda:CreateEventSourceMapping",
    "logs:CreateLogDelivery",
    "logs:DeleteIndexPolicy",
    "logs:DeleteLogDelivery",
    "logs:DeleteResourcePolicy",
    "logs:DescribeIndexPolicies",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:PutIndexPolicy",
    "logs:PutResourcePolicy",
    "secretsmanager:GetRandomPassword",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
    "sns:Unsubscribe",
}


def unscoped_conditions(environment: str, account: str, region: str, partition: str) -> dict[str, Any]:
    """What narrows an action of UNSCOPED that IAM lets a condition narrow: the SQS trigger of the
    stack's own functions only (CreateEventSourceMapping's lambda:FunctionArn)."""
    function = f"arn:{partition}:lambda:{region}:{account}:function:echoes-{environment}-*"
    return {"lambda:CreateEventSourceMapping": {"ArnLike": {"lambda:FunctionArn": function}}}


def scopes(environment: str, account: str, region: str, partition: str) -> dict[str, list[str]]:
    """Each service's resources this environment's stack may touch: by name where the ARN carries
    one (every name the template gives starts echoes-ENV, and what CloudFormation names starts with
    the stack's name, echoes-ENV-backend), by account and region where it carries an id."""
    name = f"echoes-{environment}"
    arn = f"arn:{partition}"
    return {
        "apigateway": [
            f"{arn}:apigateway:{region}::/restapis",
            f"{arn}:apigateway:{region}::/restapis/*",
            f"{arn}:apigateway:{region}::/domainnames",
            f"{arn}:apigateway:{region}::/domainnames/*",
            f"{arn}:apigateway:{region}::/tags/*",
        ],
        "budgets": [f"{arn}:budgets::{account}:budget/{name}", f"{arn}:budgets::{account}:budget/{name}-*"],
        "cloudwatch": [
            f"{arn}:cloudwatch:{region}:{account}:alarm:{name}-*",
            f"{arn}:cloudwatch::{account}:dashboard/{name}",
            f"{arn}:cloudwatch::{account}:dashboard/{name}-*",
        ],
        "codedeploy": [
            f"{arn}:codedeploy:{region}:{account}:application:{name}-*",
            f"{arn}:codedeploy:{region}:{account}:deploymentgroup:{name}-*/*",
            f"{arn}:codedeploy:{region}:{account}:deploymentconfig:*",
        ],
        "cognito-idp": [f"{arn}:cognito-idp:{region}:{account}:userpool/*"],
        "dynamodb": [f"{arn}:dynamodb:{region}:{account}:table/{name}-*"],
        "iam": [f"{arn}:iam::{account}:role/{name}-*"],
        "kms": [f"{arn}:kms:{region}:{account}:key/*", f"{arn}:kms:{region}:{account}:alias/{name}-*"],
        "lambda": [
            f"{arn}:lambda:{region}:{account}:function:{name}-*",
            # the erasure function's SQS trigger: Lambda names a mapping by a UUID only
            f"{arn}:lambda:{region}:{account}:event-source-mapping:*",
        ],
        "logs": [
            f"{arn}:logs:{region}:{account}:log-group:{group}{name}-*"
            for group in ("/aws/lambda/", "/aws/apigateway/", "aws-waf-logs-")
        ],
        "s3": [f"{arn}:s3:::{name}-*", f"{arn}:s3:::{name}-*/*"],
        "secretsmanager": [f"{arn}:secretsmanager:{region}:{account}:secret:{name}/*"],
        "sns": [f"{arn}:sns:{region}:{account}:{name}-*"],
        "sqs": [f"{arn}:sqs:{region}:{account}:{name}-*"],
        "wafv2": [
            f"{arn}:wafv2:{region}:{account}:regional/webacl/{name}-*/*",
            f"{arn}:wafv2:{region}:{account}:regional/managedruleset/*/*",
            f"{arn}:apigateway:{region}::/restapis/*/stages/*",
        ],
    }


def expanded(template: dict[str, Any], region: str) -> dict[str, Any]:
    """The stack CloudFormation creates: TEMPLATE after SAM's transform."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:  # the template names managed policies by ARN only
        def load(self) -> dict[str, str]:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    packaged = json.loads(json.dumps(template))
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/code"  # as sam deploy packages it
    parameters = {
        name: "placeholder" for name, spec in template.get("Parameters", {}).items() if "Default" not in spec
    }
    result: dict[str, Any] = transform(packaged, parameters, NoManagedPolicies())
    return result


def managed_policies(stack: dict[str, Any]) -> set[str]:
    """The AWS managed policies the stack's roles attach (SAM's for logs, X-Ray, CodeDeploy)."""
    found: set[str] = set()
    for resource in stack["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
                found.add(
                    arn["Fn::Sub"].replace("${AWS::Partition}", "aws") if isinstance(arn, dict) else arn
                )
    return found


def handler_permissions(resource_type: str, region: str) -> set[str]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    handlers = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema.get("handlers", {})
    return {action for handler in HANDLERS for action in handlers.get(handler, {}).get("permissions", [])}


def deployer(environment: str, account: str, region: str, partition: str) -> list[dict[str, Any]]:
    """What deploy.sh and env-setup.sh --check do beside CloudFormation's handlers."""
    arn = f"arn:{partition}"
    stack = f"echoes-{environment}-backend"
    bucket = f"{arn}:s3:::echoes-sam-artifacts-{account}-{region}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "TheStackAndItsChangeSets",
            "Effect": "Allow",
            "Action": [
                "cloudformation:CreateChangeSet",
                "cloudformation:DeleteChangeSet",
                "cloudformation:DescribeChangeSet",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStackResource",
                "cloudformation:DescribeStackResources",
                "cloudformation:DescribeStacks",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:GetTemplate",
                "cloudformation:GetTemplateSummary",
                "cloudformation:ListStackResources",
            ],
            "Resource": [
                f"{arn}:cloudformation:{region}:{account}:stack/{stack}/*",
                f"{arn}:cloudformation:{region}:{account}:changeSet/samcli-deploy*/*",
            ],
        },
        {
            "Sid": "SamTransforms",
            "Effect": "Allow",
            "Action": "cloudformation:CreateChangeSet",
            "Resource": [
                f"{arn}:cloudformation:{region}:aws:transform/Serverless-2016-10-31",
                f"{arn}:cloudformation:{region}:aws:transform/LanguageExtensions",
            ],
        },
        {
            "Sid": "ArtifactsBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": bucket,
        },
        {
            "Sid": "ArtifactsOfThisStack",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetObjectTagging"],
            "Resource": f"{bucket}/{stack}/*",
        },
        {
            "Sid": "ApiGatewayAccountSettings",
            "Effect": "Allow",
            "Action": "apigateway:GET",
            "Resource": f"{arn}:apigateway:{region}::/account",
        },
    ]
    if environment != "prod":
        statements.append(
            {
                "Sid": "SmokeTestUser",
                "Effect": "Allow",
                "Action": [
                    "cognito-idp:AdminCreateUser",
                    "cognito-idp:AdminSetUserPassword",
                    "cognito-idp:AdminDeleteUser",
                ],
                "Resource": f"{arn}:cognito-idp:{region}:{account}:userpool/*",
            }
        )
    return statements


def service_of(action: str) -> str:
    return action.split(":", 1)[0]


def template_statements(
    actions: Iterable[str], attached: set[str], environment: str, account: str, region: str, partition: str
) -> list[dict[str, Any]]:
    by_service: dict[str, set[str]] = {}
    unscoped: set[str] = set()
    for action in actions:
        if action in UNSCOPED:
            unscoped.add(action)
        else:
            by_service.setdefault(service_of(action), set()).add(action)
    resources = scopes(environment, account, region, partition)
    missing = set(by_service) - set(resources)
    if missing:
        raise SystemExit(f"no scope for {sorted(missing)}: add one to SCOPES in scripts/deploy_policy.py")
    statements: list[dict[str, Any]] = [
        {
            "Sid": f"Stack{service.title().replace('-', '')}",
            "Effect": "Allow",
            "Action": sorted(found - set(ROLE_GUARDS)),
            "Resource": resources[service],
        }
        for service, found in sorted(by_service.items())
    ]
    for action in sorted(by_service.get("iam", set()) & set(ROLE_GUARDS)):
        key = ROLE_GUARDS[action]
        test, allowed = (
            ("ArnEquals", sorted(attached)) if key == "iam:PolicyARN" else ("StringEquals", PASSED_TO)
        )
        statements.append(
            {
                "Sid": f"Stack{action.split(':')[1]}",
                "Effect": "Allow",
                "Action": action,
                "Resource": resources["iam"],
                "Condition": {test: {key: allowed}},
            }
        )
    conditions = unscoped_conditions(environment, account, region, partition)
    for action in sorted(unscoped & set(conditions)):
        statements.append(
            {
                "Sid": f"Stack{action.split(':')[1]}",
                "Effect": "Allow",
                "Action": action,
                "Resource": "*",
                "Condition": conditions[action],
            }
        )
    if unscoped - set(conditions):
        statements.append(
            {
                "Sid": "StackActionsWithoutResource",
                "Effect": "Allow",
                "Action": sorted(unscoped - set(conditions)),
                "Resource": "*",
            }
        )
    return statements


def trust(account: str, partition: str, repository: str, environment: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:{partition}:iam::{account}:oidc-provider/{OIDC_HOST}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{OIDC_HOST}:sub": f"repo:{repository}:environment:{environment}",
                    }
                },
            }
        ],
    }


def stack_actions(stack: dict[str, Any], region: str) -> set[str]:
    """Every handler permission of every type the stack has, but what EXCLUDED says it never needs."""
    needed: set[str] = set()
    for resource_type in {resource["Type"] for resource in stack["Resources"].values()}:
        needed |= handler_permissions(resource_type, region)
    return needed - set(EXCLUDED)


# IAM actions that could lift the stack's roles (and so the deployer) above the template's grants:
# attach only the managed policies the template attaches, pass roles only to its services.
ROLE_GUARDS = {
    "iam:AttachRolePolicy": "iam:PolicyARN",
    "iam:DetachRolePolicy": "iam:PolicyARN",
    "iam:PassRole": "iam:PassedToService",
}
PASSED_TO = ["codedeploy.amazonaws.com", "lambda.amazonaws.com"]


def policies(
    template: dict[str, Any], environment: str, account: str, region: str, partition: str
) -> dict[str, dict[str, Any]]:
    """The role's permission policies, each under IAM's size limit for one policy."""
    stack = expanded(template, region)
    statements = deployer(environment, account, region, partition) + template_statements(
        stack_actions(stack, region), managed_policies(stack), environment, account, region, partition
    )
    documents: dict[str, dict[str, Any]] = {}
    current: list[dict[str, Any]] = []
    for statement in statements:
        candidate = {"Version": "2012-10-17", "Statement": [*current, statement]}
        if current and len(json.dumps(candidate, separators=(",", ":"))) > 6000:
            documents[f"deploy-{len(documents) + 1}"] = {"Version": "2012-10-17", "Statement": current}
            current = []
        current.append(statement)
    documents[f"deploy-{len(documents) + 1}"] = {"Version": "2012-10-17", "Statement": current}
    return documents


def main(argv: list[str]) -> int:
    if len(argv) not in (5, 6):
        sys.exit(__doc__)
    environment, account, region, repository, out = argv[:5]
    sys.path.insert(0, str(ROOT))
    from devtools.cfn import load_template

    template = load_template(Path(argv[5]) if len(argv) == 6 else ROOT / "template.yaml")
    partition = (
        "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    )
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "trust.json").write_text(json.dumps(trust(account, partition, repository, environment)))
    for name, document in policies(template, environment, account, region, partition).items():
        (directory / f"{name}.json").write_text(json.dumps(document, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
