"""The pure pieces of devtools/gateway.py (the --lambda mode's API Gateway): route matching, the
GatewayResponse checks and the $context rendering; tests/unit/test_gateway.py runs them
against template.yaml itself."""

import pytest

from devtools.gateway import Route, TemplateNotUnderstood, _gateway_response, render, request_time


@pytest.mark.parametrize(
    ("resource", "path", "parameters"),
    [
        ("/", "/", {}),
        ("/health", "/health", {}),
        ("/health", "/health/", {}),  # a trailing slash is ignored
        ("/health", "/healthz", None),
        ("/health", "/", None),
        ("/api/v1/{proxy+}", "/api/v1/echoes", {"proxy": "echoes"}),
        ("/api/v1/{proxy+}", "/api/v1/echoes/e1/audio", {"proxy": "echoes/e1/audio"}),
        ("/api/v1/{proxy+}", "/api/v1", None),  # a greedy parameter needs at least one segment
        ("/api/v1/{proxy+}", "/api/v1/a//b", None),  # nor may any of its segments be empty
        ("/echoes/{id}", "/echoes/e1", {"id": "e1"}),
        ("/echoes/{id}", "/echoes/e1/more", None),
        ("/echoes/{id}", "/echoes", None),
    ],
)
def test_route_matching(resource: str, path: str, parameters: dict[str, str] | None) -> None:
    assert Route(resource, "GET", authorized=True).path_parameters(path) == parameters


def test_a_gateway_response_keeps_what_it_declares() -> None:
    response = _gateway_response(
        "UNAUTHORIZED",
        {
            "StatusCode": "401",
            "ResponseParameters": {
                "Headers": {"WWW-Authenticate": "'Bearer'", "X-Origin": "method.request.header.Origin"}
            },
            "ResponseTemplates": {"application/json": '{"id":"$context.requestId"}'},
        },
    )
    assert response.status == 401
    assert response.headers == {"WWW-Authenticate": "'Bearer'", "X-Origin": "method.request.header.Origin"}
    assert response.template == '{"id":"$context.requestId"}'
    assert _gateway_response("DEFAULT_4XX", {}).status == 0, "0: the response type's own status"


@pytest.mark.parametrize(
    "spec",
    [
        {"ResponseParameters": {"Headers": {"X": "unquoted"}}},
        {"ResponseParameters": {"Headers": {"X": "'"}}},  # one quote is not a quoted literal
        {"ResponseParameters": {"Headers": {"X": "context.requestId"}}},
        {"ResponseTemplates": {"text/html": "<p>no</p>"}},
        {"ResponseTemplates": {"application/json": '#set($x = 1){"x":$x}'}},  # VTL
        {"ResponseTemplates": {"application/json": '{"ip":"$context.identity.sourceIp"}'}},
        {"ResponseTemplates": {"application/json": '{"v":"$input.body"}'}},
        {"Unknown": 1},
    ],
)
def test_what_the_emulation_cannot_render_is_refused(spec: dict[str, object]) -> None:
    with pytest.raises(TemplateNotUnderstood):
        _gateway_response("UNAUTHORIZED", spec)


def test_longer_context_names_are_filled_before_their_prefixes() -> None:
    rendered = render("$context.error.messageString|$context.error.message", "X", "a b", "r")
    assert rendered == '"a b"|a b'


def test_request_time_is_api_gateways_clf_format_with_a_padded_day() -> None:
    assert request_time(1_788_000_000) == "29/Aug/2026:10:40:00 +0000"
    assert request_time(1_786_000_000.9) == "06/Aug/2026:07:06:40 +0000", "seconds truncated"
