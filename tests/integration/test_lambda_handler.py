"""Every route through lambda_handler.handler, with REST (v1) and HTTP API (v2) events."""

import io
import json

import boto3
import pytest
import requests

from app.observability import logger
from devtools.events import LambdaContext, http_api_event, rest_event
from tests.integration.deployed import Deployed
from tests.support import echo_body, wav_bytes

# The init-upload body every test here sends: a WAV of the size wav_bytes() uploads.
INIT_WAV = json.dumps(
    {"file_extension": "wav", "content_type": "audio/wav", "file_size": len(wav_bytes())}
).encode()

EVENT_SHAPES = {"rest-v1": rest_event, "http-v2": http_api_event}


@pytest.fixture(params=list(EVENT_SHAPES))
def make_event(request: pytest.FixtureRequest):
    return EVENT_SHAPES[request.param]


def test_health_through_the_handler(deployed: Deployed, make_event) -> None:
    status, headers, body = deployed.invoke(make_event("GET", "/health"))
    assert status == 200, body
    assert body["dependencies"] == {"dynamodb": "connected", "s3": "connected", "cognito": "connected"}
    assert headers["x-request-id"]


def test_request_id_is_api_gateways(deployed: Deployed) -> None:
    event = rest_event("GET", "/nowhere")
    status, headers, body = deployed.invoke(event)
    assert status == 404
    assert body["request_id"] == event["requestContext"]["requestId"] == headers["x-request-id"]


def test_whole_journey_through_the_handler(deployed: Deployed, make_event) -> None:
    """Tokens from moto's Cognito, verified against the JWKS fetched over HTTP from moto's server."""
    alice, bob = deployed.user("alice@example.com"), deployed.user("bob@example.com")
    auth = {"Authorization": f"Bearer {alice.access_token}", "Content-Type": "application/json"}

    status, _, init = deployed.invoke(
        make_event(
            "POST",
            "/api/v1/echoes/init-upload",
            headers=auth,
            body=INIT_WAV,
        )
    )
    assert status == 200, init
    assert requests.put(init["upload_url"], data=wav_bytes(), headers=init["upload_headers"], timeout=10).ok

    status, _, echo = deployed.invoke(
        make_event(
            "POST",
            "/api/v1/echoes",
            query={"echo_id": init["echo_id"]},
            headers=auth,
            body=json.dumps(echo_body(emotion="hope")).encode(),
        )
    )
    assert status == 201, echo
    assert requests.get(echo["audio_url"], timeout=10).content == wav_bytes()

    status, _, page = deployed.invoke(
        make_event("GET", "/api/v1/echoes", query={"emotion": "hope"}, headers=auth)
    )
    assert status == 200 and [e["echo_id"] for e in page["echoes"]] == [echo["echo_id"]]
    status, _, picked = deployed.invoke(make_event("GET", "/api/v1/echoes/random", headers=auth))
    assert status == 200 and picked["echo_id"] == echo["echo_id"]

    bob_auth = {"Authorization": f"Bearer {bob.access_token}"}
    status, _, _ = deployed.invoke(make_event("GET", f"/api/v1/echoes/{echo['echo_id']}", headers=bob_auth))
    assert status == 404
    status, _, _ = deployed.invoke(
        make_event("DELETE", f"/api/v1/echoes/{echo['echo_id']}", headers=bob_auth)
    )
    assert status == 404

    status, _, body = deployed.invoke(make_event("DELETE", f"/api/v1/echoes/{echo['echo_id']}", headers=auth))
    assert status == 204 and body == ""
    assert requests.get(echo["audio_url"], timeout=10).status_code == 404


def test_cursor_key_comes_from_secrets_manager(deployed: Deployed) -> None:
    alice = deployed.user("carol@example.com")
    auth = {"Authorization": f"Bearer {alice.access_token}", "Content-Type": "application/json"}
    for _ in range(3):
        _, _, init = deployed.invoke(
            rest_event(
                "POST",
                "/api/v1/echoes/init-upload",
                headers=auth,
                body=INIT_WAV,
            )
        )
        requests.put(init["upload_url"], data=wav_bytes(), headers=init["upload_headers"], timeout=10)
        status, _, _ = deployed.invoke(
            rest_event(
                "POST",
                "/api/v1/echoes",
                query={"echo_id": init["echo_id"]},
                headers=auth,
                body=json.dumps(echo_body()).encode(),
            )
        )
        assert status == 201
    _, _, first = deployed.invoke(rest_event("GET", "/api/v1/echoes", query={"page_size": "2"}, headers=auth))
    _, _, second = deployed.invoke(
        rest_event(
            "GET", "/api/v1/echoes", query={"page_size": "2", "cursor": first["next_cursor"]}, headers=auth
        )
    )
    assert second["page"] == 2 and len(second["echoes"]) == 1 and not second["has_more"]


def test_unauthenticated_is_401_through_the_handler(deployed: Deployed, make_event) -> None:
    status, headers, body = deployed.invoke(make_event("GET", "/api/v1/echoes"))
    assert status == 401 and body["error"] == "authentication_failed"
    assert headers["www-authenticate"] == "Bearer"


def test_docs_behind_the_stage_prefix_load_the_prefixed_openapi(deployed: Deployed) -> None:
    status, _, html = deployed.invoke(rest_event("GET", "/docs", stage="dev"))
    assert status == 200
    assert "'/dev/openapi.json'" in html or '"/dev/openapi.json"' in html
    status, _, spec = deployed.invoke(rest_event("GET", "/openapi.json", stage="dev"))
    assert status == 200 and spec["servers"] == [{"url": "/dev"}]
    status, _, root = deployed.invoke(rest_event("GET", "/", stage="dev"))
    assert root["docs"] == "/dev/docs" and root["health"] == "/dev/health"


def test_http_api_named_stage_is_stripped(deployed: Deployed) -> None:
    status, _, body = deployed.invoke(http_api_event("GET", "/health", stage="dev"))
    assert status == 200, body
    status, _, html = deployed.invoke(http_api_event("GET", "/docs", stage="dev"))
    assert status == 200 and "/dev/openapi.json" in html


def test_cors_preflight_through_the_handler(deployed: Deployed, make_event) -> None:
    status, headers, _ = deployed.invoke(
        make_event(
            "OPTIONS",
            "/api/v1/echoes",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example.com"


def test_log_lines_carry_the_lambda_context_and_the_gateway_request_id(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", output)  # Powertools' formatter, our stream
    # A new container in Lambda is a new process; here earlier tests have already invoked a handler,
    # and Powertools keeps its cold-start flag in a module global.
    monkeypatch.setattr("aws_lambda_powertools.logging.logger.is_cold_start", True)
    alice = deployed.user("alice@example.com")
    boto3.client("dynamodb").delete_table(TableName=deployed.stack.table_name)  # each list now logs an error
    invocations = [
        (rest_event("GET", "/api/v1/echoes", headers=alice.headers), LambdaContext.fresh()) for _ in range(2)
    ]
    for event, context in invocations:
        assert deployed.handler(event, context)["statusCode"] == 500
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    errors = [line for line in lines if line.get("message") == "Unexpected AWS error"]
    assert len(errors) == 2, lines
    for line, (event, context), cold_start in zip(errors, invocations, (True, False), strict=True):
        assert line["level"] == "ERROR" and line["service"] == "echoes-api"
        assert line["cold_start"] is cold_start
        assert line["function_request_id"] == context.aws_request_id
        assert line["correlation_id"] == event["requestContext"]["requestId"]
        assert line["function_name"] == context.function_name
        assert line["function_arn"] == context.invoked_function_arn
        assert line["function_memory_size"] == context.memory_limit_in_mb
