"""Create the stack's data resources on any AWS endpoint (moto here) from template.yaml itself,
so that the local stack, the tests and the deployed stack cannot drift apart.

The table may live on another endpoint than the rest: Amazon's DynamoDB Local
(devtools/dynamodb_local.py), which lacks UpdateContinuousBackups; that one call is skipped there.
"""

import secrets
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3

from devtools.cfn import Resolver, load_template

LOCAL_ACCOUNT_ID = "123456789012"  # moto's account
PASSWORD_AUTH_FLOW = "ALLOW_USER_PASSWORD_AUTH"


@dataclass(frozen=True)
class LocalStack:
    """What the deployed stack's outputs would say, for the app's settings."""

    region: str
    table_name: str
    bucket_name: str
    user_pool_id: str
    app_client_id: str
    secret_name: str
    dynamodb_endpoint: str | None = None  # DynamoDB Local's URL, None: DynamoDB on the main endpoint

    def app_env(self, endpoint_url: str, environment: str, cors_allow_origins: str) -> dict[str, str]:
        """Everything the app's settings need to run against this stack at ENDPOINT_URL (moto)."""
        dynamodb = {"AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint} if self.dynamodb_endpoint else {}
        return {
            **self.settings_env(),
            **dynamodb,
            "AWS_ENDPOINT_URL": endpoint_url,
            "ENVIRONMENT": environment,
            "CORS_ALLOW_ORIGINS": cors_allow_origins,
            # moto serves the pool's JWKS itself, while its tokens name the real AWS issuer.
            "COGNITO_JWKS_URL": f"{endpoint_url}/{self.user_pool_id}/.well-known/jwks.json",
        }

    def settings_env(self) -> dict[str, str]:
        return {
            "AWS_REGION": self.region,
            "DYNAMODB_TABLE_NAME": self.table_name,
            "S3_BUCKET_NAME": self.bucket_name,
            "COGNITO_USER_POOL_ID": self.user_pool_id,
            "COGNITO_APP_CLIENT_ID": self.app_client_id,
            "APP_SECRET_NAME": self.secret_name,
            "FUNCTION_TIMEOUT_SECONDS": function_timeout_seconds(),
            # One version runs against a local stack: nothing there predates the counters' index keys.
            "COUNTERS_IN_LIST_INDEX": "true",
        }


@cache
def function_timeout_seconds() -> str:
    """The function's Timeout as deployed by default: the template's FunctionTimeoutSeconds."""
    return str(load_template()["Parameters"]["FunctionTimeoutSeconds"]["Default"])


def _create_table(client: Any, props: dict[str, Any], point_in_time_recovery: bool = True) -> str:
    name: str = props["TableName"]
    client.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
        BillingMode=props["BillingMode"],
        SSESpecification={"Enabled": props["SSESpecification"]["SSEEnabled"]},
    )
    client.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
    if point_in_time_recovery:  # DynamoDB Local answers UnknownOperationException
        client.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification=props["PointInTimeRecoverySpecification"]
        )
    return name


def _create_bucket(client: Any, props: dict[str, Any], region: str) -> str:
    name: str = props["BucketName"]
    if region == "us-east-1":
        client.create_bucket(Bucket=name)
    else:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    client.put_public_access_block(
        Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
    )
    client.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    "BucketKeyEnabled": rule["BucketKeyEnabled"],
                }
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
        },
    )
    client.put_bucket_cors(
        Bucket=name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": rule["AllowedOrigins"],
                    "AllowedMethods": rule["AllowedMethods"],
                    "AllowedHeaders": rule["AllowedHeaders"],
                    "ExposeHeaders": rule["ExposedHeaders"],
                    "MaxAgeSeconds": rule["MaxAge"],
                }
                for rule in props["CorsConfiguration"]["CorsRules"]
            ]
        },
    )
    return name


def _create_user_pool(client: Any, pool: dict[str, Any], resolve_app: Any) -> tuple[str, str]:
    pool_id = client.create_user_pool(
        PoolName=pool["UserPoolName"],
        Policies=pool["Policies"],
        AutoVerifiedAttributes=pool["AutoVerifiedAttributes"],
        UsernameAttributes=pool["UsernameAttributes"],
        UsernameConfiguration=pool["UsernameConfiguration"],
        AccountRecoverySetting=pool["AccountRecoverySetting"],
        Schema=pool["Schema"],
    )["UserPool"]["Id"]
    app = resolve_app(pool_id)
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=app["ClientName"],
        GenerateSecret=app["GenerateSecret"],
        ExplicitAuthFlows=app["ExplicitAuthFlows"],
        PreventUserExistenceErrors=app["PreventUserExistenceErrors"],
        EnableTokenRevocation=app["EnableTokenRevocation"],
        # Number parameters resolve to strings, as CloudFormation passes them; Cognito wants ints.
        AccessTokenValidity=int(app["AccessTokenValidity"]),
        IdTokenValidity=int(app["IdTokenValidity"]),
        RefreshTokenValidity=int(app["RefreshTokenValidity"]),
        TokenValidityUnits=app["TokenValidityUnits"],
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def _create_secret(client: Any, props: dict[str, Any]) -> str:
    generate = props["GenerateSecretString"]
    value = secrets.token_urlsafe(generate["PasswordLength"])[: generate["PasswordLength"]]
    client.create_secret(Name=props["Name"], Description=props["Description"], SecretString=value)
    name: str = props["Name"]
    return name


def _properties(
    template: dict[str, Any],
    name: str,
    environment: str,
    cors_allow_origins: str,
    region: str,
    created: dict[str, str] | None = None,
) -> dict[str, Any]:
    resolver = Resolver(
        template,
        {"Environment": environment, "CorsAllowOrigins": cors_allow_origins},
        resource_names=created,
        account_id=LOCAL_ACCOUNT_ID,
        region=region,
    )
    properties: dict[str, Any] = resolver.resolve(template["Resources"][name]["Properties"])
    return properties


def provision_table(environment: str, cors_allow_origins: str, region: str, dynamodb_endpoint: str) -> str:
    """Only the table, on DynamoDB Local at DYNAMODB_ENDPOINT (e.g. next to a moto-only stack)."""
    props = _properties(load_template(), "EchoesTable", environment, cors_allow_origins, region)
    client = boto3.session.Session(region_name=region).client("dynamodb", endpoint_url=dynamodb_endpoint)
    return _create_table(client, props, point_in_time_recovery=False)


def provision(
    environment: str, cors_allow_origins: str, region: str = "us-east-1", dynamodb_endpoint: str | None = None
) -> LocalStack:
    """Create table, bucket, user pool + client and secret as template.yaml defines them; the
    table on DYNAMODB_ENDPOINT (DynamoDB Local) when given."""
    template = load_template()

    def properties(name: str, created: dict[str, str] | None = None) -> dict[str, Any]:
        return _properties(template, name, environment, cors_allow_origins, region, created)

    session = boto3.session.Session(region_name=region)
    pool_id, client_id = _create_user_pool(
        session.client("cognito-idp"),
        properties("UserPool"),
        lambda pool: properties("UserPoolClient", {"UserPool": pool}),
    )
    return LocalStack(
        region=region,
        table_name=_create_table(
            session.client("dynamodb", endpoint_url=dynamodb_endpoint),
            properties("EchoesTable"),
            point_in_time_recovery=dynamodb_endpoint is None,
        ),
        bucket_name=_create_bucket(session.client("s3"), properties("AudioBucket"), region),
        user_pool_id=pool_id,
        app_client_id=client_id,
        secret_name=_create_secret(session.client("secretsmanager"), properties("AppSecret")),
        dynamodb_endpoint=dynamodb_endpoint,
    )
