"""The one error format, system routes, CORS, docs gating and start-up configuration errors."""

import re
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from fastapi.testclient import TestClient

from app.aws import AwsClients
from app.main import create_app
from app.settings import Settings, SettingsError, load_settings
from devtools.local_aws import LocalStack
from tests.support import User, moto_jwks, settings_for

ERROR_KEYS = {"error", "message", "details", "timestamp", "request_id"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["error"] == code
    assert TIMESTAMP.match(body["timestamp"])
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_root_describes_the_service(client: TestClient) -> None:
    assert client.get("/").json() == {
        "message": "Echoes API is running",
        "version": "1.0.0",
        "docs": "/docs",
        "health": "/health",
    }


def test_health_reports_each_dependency(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy" and body["environment"] == "dev"
    assert body["dependencies"] == {"dynamodb": "connected", "s3": "connected", "cognito": "connected"}
    assert {"service", "version", "timestamp"} <= set(body)


def test_health_is_503_and_names_the_missing_dependency(stack: LocalStack) -> None:
    client = TestClient(
        create_app(settings_for(stack, s3_bucket_name="no-such-bucket"), fetch_jwks=moto_jwks)
    )
    response = client.get("/health")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    body = response.json()
    assert body["status"] == "degraded"
    assert body["dependencies"]["s3"].startswith("error:")
    assert body["dependencies"]["dynamodb"] == "connected"


def test_health_names_a_missing_table(stack: LocalStack) -> None:
    settings = settings_for(stack, dynamodb_table_name="no-such-table")
    response = TestClient(create_app(settings, fetch_jwks=moto_jwks)).get("/health")
    assert response.status_code == 503
    assert response.json()["dependencies"]["dynamodb"] == "error: ResourceNotFoundException"


def test_health_probes_are_cached(stack: LocalStack) -> None:
    dynamodb = boto3.client("dynamodb")
    scratch = f"scratch-{uuid.uuid4().hex}"  # a table of its own to delete: the stack's is shared
    dynamodb.create_table(
        TableName=scratch,
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    settings = settings_for(stack, health_cache_seconds=300, dynamodb_table_name=scratch)
    client = TestClient(create_app(settings, fetch_jwks=moto_jwks))
    assert client.get("/health").status_code == 200
    dynamodb.delete_table(TableName=scratch)
    assert client.get("/health").status_code == 200, "served from the cache"


def test_unknown_route_is_404_in_the_error_format(client: TestClient) -> None:
    _assert_error(client.get("/nowhere"), 404, "resource_not_found")


def test_wrong_method_is_405_in_the_error_format(client: TestClient) -> None:
    response = client.put("/health")
    _assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


def test_malformed_json_is_400_not_422(client: TestClient, alice: User) -> None:
    response = client.post(
        "/api/v1/echoes/init-upload",
        content=b"{not json",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    body = _assert_error(response, 400, "validation_error")
    assert body["details"][0]["type"] == "json_invalid"


def test_client_request_id_is_kept_when_well_formed(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    injected = client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
    assert injected.headers["x-request-id"] != "bad id\nwith newline"


def test_unexpected_aws_error_is_500_without_internals(stack: LocalStack, alice: User) -> None:
    settings = settings_for(stack, dynamodb_table_name="no-such-table")
    client = TestClient(create_app(settings, fetch_jwks=moto_jwks))
    body = _assert_error(client.get("/api/v1/echoes", headers=alice.headers), 500, "internal_server_error")
    assert body["message"] == "An unexpected error occurred"
    assert settings.dynamodb_table_name not in str(body)


def test_unhandled_exception_is_500_in_the_error_format(app, client: TestClient, alice: User) -> None:
    app.state.echo_service = None  # a programming error inside the request, not an AWS failure
    response = client.get("/api/v1/echoes", headers={**alice.headers, "Origin": "http://localhost:3000"})
    body = _assert_error(response, 500, "internal_server_error")
    assert "NoneType" not in str(body)
    assert body["request_id"] == response.headers["x-request-id"]
    # Browsers can read it: the last-resort 500 is made inside the CORS layer.
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_throttled_dynamodb_is_503_with_retry_after(
    stack: LocalStack, settings: Settings, alice: User
) -> None:
    dynamodb = boto3.client("dynamodb", config=Config(retries={"max_attempts": 1}))
    clients = AwsClients(dynamodb=dynamodb, s3=boto3.client("s3"))
    client = TestClient(create_app(settings, clients=clients, fetch_jwks=moto_jwks))
    with Stubber(dynamodb) as stub:
        stub.add_client_error("query", "ProvisionedThroughputExceededException", http_status_code=400)
        response = client.get("/api/v1/echoes", headers=alice.headers)
    _assert_error(response, 503, "service_unavailable")
    assert response.headers["Retry-After"]


def test_unreachable_aws_is_503(stack: LocalStack, settings: Settings, alice: User) -> None:
    closed = Config(retries={"max_attempts": 1}, connect_timeout=0.5)
    clients = AwsClients(
        dynamodb=boto3.client("dynamodb", endpoint_url="http://127.0.0.1:9", config=closed),
        s3=boto3.client("s3", endpoint_url="http://127.0.0.1:9", config=closed),
    )
    client = TestClient(create_app(settings, clients=clients, fetch_jwks=moto_jwks))
    _assert_error(client.get("/api/v1/echoes", headers=alice.headers), 503, "service_unavailable")


def test_cors_allows_only_configured_origins(client: TestClient) -> None:
    allowed = client.get("/health", headers={"Origin": "https://app.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    refused = client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in refused.headers


def test_preflight_is_answered_without_a_token(client: TestClient) -> None:
    response = client.options(
        "/api/v1/echoes",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


@pytest.mark.parametrize(
    ("origin", "method", "headers", "refused"),
    [
        ("https://evil.example.com", "GET", "authorization", ["origin"]),
        ("http://localhost:3000", "PUT", "authorization", ["method"]),
        ("http://localhost:3000", "GET", "authorization, x-api-key", ["headers"]),
        ("https://evil.example.com", "PUT", "x-api-key", ["origin", "method", "headers"]),
    ],
)
def test_preflight_asking_for_anything_not_allowed_is_refused(
    client: TestClient, origin: str, method: str, headers: str, refused: list[str]
) -> None:
    response = client.options(
        "/api/v1/echoes",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )
    body = _assert_error(response, 400, "validation_error")
    assert body["details"] == {"refused": refused}
    assert (response.headers.get("access-control-allow-origin") == origin) is (
        origin == "http://localhost:3000"
    )


def test_preflight_states_what_is_allowed_and_every_response_varies_by_origin(client: TestClient) -> None:
    response = client.options(
        "/api/v1/echoes/random",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "Content-Type, X-Request-Id",
        },
    )
    assert response.status_code == 200 and response.text == "OK"  # Starlette's CORSMiddleware
    assert set(response.headers["access-control-allow-methods"].split(", ")) == {
        "GET",
        "POST",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }
    allowed_headers = response.headers["access-control-allow-headers"].lower().split(", ")
    assert "if-match" in allowed_headers
    assert response.headers["access-control-max-age"] == "600"
    assert "Origin" in response.headers["vary"].split(", ")
    assert response.headers["x-request-id"]
    for headers in ({}, {"Origin": "https://evil.example.com"}, {"Origin": "http://localhost:3000"}):
        assert client.get("/health", headers=headers).headers["vary"] == "Origin"


def test_an_options_request_that_is_not_a_preflight_reaches_the_app(client: TestClient) -> None:
    response = client.options("/api/v1/echoes", headers={"Origin": "http://localhost:3000"})
    _assert_error(response, 405, "method_not_allowed")
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_error_responses_carry_cors_headers(client: TestClient) -> None:
    response = client.get("/api/v1/echoes", headers={"Origin": "http://localhost:3000"})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_docs_are_served_in_dev(client: TestClient) -> None:
    assert "swagger-ui" in client.get("/docs").text
    spec = client.get("/openapi.json").json()
    assert "/api/v1/echoes/init-upload" in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    listing = spec["paths"]["/api/v1/echoes"]["get"]["responses"]
    assert "422" not in listing, "the API answers 400, never 422"
    assert listing["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "HTTPValidationError" not in spec["components"]["schemas"]


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_docs_are_off_outside_dev(stack: LocalStack, environment: str) -> None:
    client = TestClient(create_app(settings_for(stack, environment=environment), fetch_jwks=moto_jwks))
    for path in ("/docs", "/openapi.json"):
        _assert_error(client.get(path), 404, "resource_not_found")
    assert client.get("/").json()["docs"] is None


def test_missing_setting_fails_at_start_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ENVIRONMENT",
        "AWS_REGION",
        "DYNAMODB_TABLE_NAME",
        "S3_BUCKET_NAME",
        "COGNITO_USER_POOL_ID",
        "COGNITO_APP_CLIENT_ID",
        "APP_SECRET_NAME",
        "FUNCTION_TIMEOUT_SECONDS",
    ):
        monkeypatch.setenv(
            name,
            {
                "ENVIRONMENT": "dev",
                "COGNITO_USER_POOL_ID": "us-east-1_abc",
                "FUNCTION_TIMEOUT_SECONDS": "10",
            }.get(name, "echoes-x"),
        )
    monkeypatch.delenv("DYNAMODB_TABLE_NAME")
    with pytest.raises(SettingsError, match="DYNAMODB_TABLE_NAME: Field required"):
        load_settings()
    monkeypatch.setenv("DYNAMODB_TABLE_NAME", "echoes-x")
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "*")
    with pytest.raises(SettingsError, match="CORS_ALLOW_ORIGINS"):
        load_settings()
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a.example, http://localhost:3000")
    monkeypatch.setenv("ENVIRONMENT", "qa")
    with pytest.raises(SettingsError, match="ENVIRONMENT"):
        load_settings()
    monkeypatch.setenv("ENVIRONMENT", "prod")
    assert load_settings().cors_allow_origins == ("https://a.example", "http://localhost:3000")


def test_a_secrets_manager_failure_is_503_not_500(stack: LocalStack, alice: User) -> None:
    """Finding 6: a failure to read the cursor key (here the secret does not exist) is a 503."""
    settings = settings_for(stack, app_secret_name="no-such-secret")
    client = TestClient(create_app(settings, fetch_jwks=moto_jwks))
    response = client.get("/api/v1/echoes?cursor=e30.AAAA", headers=alice.headers)
    _assert_error(response, 503, "service_unavailable")
    assert response.headers["Retry-After"]
