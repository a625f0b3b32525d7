"""devtools/gateway.py, the --lambda mode's API Gateway, against template.yaml itself: it must
understand every part of the template that shapes what a client sees, and refuse to load otherwise."""

import copy
import json
from typing import Any

import pytest

from app.errors import ErrorCode
from devtools.cfn import load_template
from devtools.gateway import (
    RESPONSE_TYPE_STATUS,
    ApiGateway,
    TemplateNotUnderstood,
    render,
    request_time,
)

ORIGINS = "http://localhost:3000,https://app.example.com"
PARAMETERS = {"Environment": "dev", "CorsAllowOrigins": ORIGINS}
TEMPLATE = load_template()


def _gateway(template: dict[str, Any] | None = None) -> ApiGateway:
    return ApiGateway.from_template(PARAMETERS, template or TEMPLATE)


def test_stage_routes_and_authorizer_come_from_the_template() -> None:
    gateway = _gateway()
    assert gateway.stage == "dev"
    events = TEMPLATE["Resources"]["ApiFunction"]["Properties"]["Events"]
    assert len(gateway.routes) == len(events)
    assert (
        gateway.scopes
        == TEMPLATE["Resources"]["Api"]["Properties"]["Auth"]["Authorizers"]["CognitoAuthorizer"][
            "AuthorizationScopes"
        ]
    )
    list_route, parameters = gateway.route("GET", "/api/v1/echoes/random")
    assert list_route.authorized and parameters == {"proxy": "echoes/random"}
    preflight, _ = gateway.route("OPTIONS", "/api/v1/echoes")
    assert not preflight.authorized, "preflights must never meet the authorizer"
    assert not gateway.route("GET", "/health")[0].authorized
    for method, path in [("GET", "/api/v1"), ("POST", "/health"), ("GET", "/nope"), ("GET", "/health/x")]:
        assert gateway.route(method, path) is None, (method, path)


def test_token_rule_is_the_scoped_authorizers() -> None:
    gateway = _gateway()
    scope = gateway.scopes[0]
    assert gateway.accepts({"token_use": "access", "scope": f"openid {scope}"})
    assert not gateway.accepts({"token_use": "access", "scope": "openid"})
    assert not gateway.accepts({"token_use": "id", "scope": scope})
    unscoped = copy.deepcopy(TEMPLATE)
    del unscoped["Resources"]["Api"]["Properties"]["Auth"]["Authorizers"]["CognitoAuthorizer"][
        "AuthorizationScopes"
    ]
    without_scopes = _gateway(unscoped)  # what API Gateway does then: ID tokens only
    assert without_scopes.accepts({"token_use": "id"})
    assert not without_scopes.accepts({"token_use": "access", "scope": scope})


@pytest.mark.parametrize("kind", sorted(TEMPLATE["Resources"]["Api"]["Properties"]["GatewayResponses"]))
def test_every_gateway_response_renders_the_apps_error_format_with_cors(kind: str) -> None:
    # DEFAULT_4XX/5XX are reached through a type the template leaves to them.
    sent = {"DEFAULT_4XX": "BAD_REQUEST_BODY", "DEFAULT_5XX": "INTEGRATION_TIMEOUT"}.get(kind, kind)
    answer = _gateway().error(sent, {"Origin": "https://app.example.com"}, "req-1")
    body = json.loads(answer.body)
    assert set(body) == {"error", "message", "details", "timestamp", "request_id"}
    assert body["error"] in {code.value for code in ErrorCode}
    assert body["request_id"] == "req-1" and isinstance(body["message"], str)
    # One origin, whatever the request's: the first configured (template.yaml's comment says why).
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGINS.split(",")[0]
    assert answer.headers["Content-Type"] == "application/json"


def test_gateway_errors_status_and_message() -> None:
    gateway = _gateway()
    for kind, status in [
        ("UNAUTHORIZED", 401),
        ("MISSING_AUTHENTICATION_TOKEN", 404),
        ("REQUEST_TOO_LARGE", 413),
        ("INTEGRATION_TIMEOUT", 503),  # DEFAULT_5XX's status
    ]:
        answer = gateway.error(kind, {}, "r")
        assert answer.status == status, kind
    unauthorized = json.loads(gateway.error("UNAUTHORIZED", {}, "r").body)
    assert unauthorized["message"] == "Unauthorized"
    assert gateway.error("UNAUTHORIZED", {}, "r").headers["WWW-Authenticate"] == "Bearer"


def test_context_values_are_filled_as_api_gateway_fills_them() -> None:
    template = '{"m":$context.error.messageString,"t":"$context.error.responseType","r":"$context.requestId"}'
    assert json.loads(render(template, "UNAUTHORIZED", 'say "hi"', "r-1")) == {
        "m": 'say "hi"',  # messageString is the message as a quoted JSON string
        "t": "UNAUTHORIZED",
        "r": "r-1",
    }
    assert render("$context.error.message", "X", "plain", "r") == "plain"
    assert request_time(0) == "01/Jan/1970:00:00:00 +0000"


def _mutated(change) -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    change(template["Resources"])
    return template


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["Api"]["Properties"].update(Cors={"AllowOrigin": "'*'"}),
        lambda r: r["Api"]["Properties"]["Auth"].update(ApiKeyRequired=True),
        lambda r: r["Api"]["Properties"]["Auth"]["Authorizers"]["CognitoAuthorizer"].update(
            Identity={"Header": "X-Token"}
        ),
        lambda r: r["Api"]["Properties"]["Auth"]["Authorizers"].update(Other={"FunctionArn": "x"}),
        lambda r: r["Api"]["Properties"]["GatewayResponses"].update(NOT_A_TYPE={"StatusCode": "400"}),
        lambda r: r["Api"]["Properties"]["GatewayResponses"]["UNAUTHORIZED"]["ResponseTemplates"].update(
            {"application/json": '{"who":"$context.identity.sourceIp"}'}
        ),
        lambda r: r["Api"]["Properties"]["GatewayResponses"]["UNAUTHORIZED"]["ResponseParameters"].update(
            Paths={"x": "'y'"}
        ),
        lambda r: r["Api"]["Properties"]["GatewayResponses"]["UNAUTHORIZED"]["ResponseParameters"][
            "Headers"
        ].update({"X-Stage": "stageVariables.name"}),
        lambda r: r["ApiFunction"]["Properties"]["Events"]["Echoes"]["Properties"].update(
            RequestParameters=["method.request.header.X"]
        ),
        lambda r: r["ApiFunction"]["Properties"]["Events"]["Health"]["Properties"]["Auth"].update(
            ApiKeyRequired=True
        ),
    ],
    ids=[
        "api-cors",
        "api-key",
        "identity-source",
        "second-authorizer",
        "unknown-response-type",
        "unknown-context-variable",
        "response-paths",
        "header-from-stage-variable",
        "request-parameters",
        "event-api-key",
    ],
)
def test_a_template_change_the_emulation_does_not_model_fails_loudly(change) -> None:
    with pytest.raises(TemplateNotUnderstood):
        _gateway(_mutated(change))


def test_every_response_type_the_template_may_name_has_a_default_status() -> None:
    for kind in TEMPLATE["Resources"]["Api"]["Properties"]["GatewayResponses"]:
        assert kind in RESPONSE_TYPE_STATUS


def test_the_event_carries_the_route_and_the_authorizers_claims_as_strings() -> None:
    from devtools.events import rest_event

    gateway = _gateway()
    route, parameters = gateway.route("GET", "/api/v1/echoes/random")
    claims = {
        "sub": "u-1",
        "exp": 1700000000,
        "scope": "aws.cognito.signin.user.admin",
        "token_use": "access",
    }
    event = rest_event(
        "GET", "/api/v1/echoes/random", resource=route.resource, path_parameters=parameters, claims=claims
    )
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/api/v1/{proxy+}"
    assert event["pathParameters"] == {"proxy": "echoes/random"}
    assert event["requestContext"]["authorizer"]["claims"] == {k: str(v) for k, v in claims.items()}
    health = rest_event("GET", "/health", resource="/health", path_parameters={})
    assert health["pathParameters"] is None and "authorizer" not in health["requestContext"]
