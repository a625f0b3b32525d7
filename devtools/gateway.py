"""API Gateway (REST) as template.yaml declares it, for `--lambda` mode: the stage, the routes and
which of them the Cognito authorizer guards, the authorizer's token rule, the claims it passes on,
every GatewayResponse rendered from its template, the 10 MB payload limit and the 29 s integration
timeout. Everything is read from template.yaml; what the emulation cannot model is refused at load
(TemplateNotUnderstood), so a template change cannot silently leave --lambda behind.

Not modelled (docs/local-development.md): throttling (THROTTLED), WAF, authorizer result caching,
TLS/custom domains, the Lambda function's own timeout and memory.
"""

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from app.auth import CLOCK_SKEW_SECONDS
from devtools.cfn import Resolver, load_template

PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024  # API Gateway quota for a REST API request, not configurable
INTEGRATION_TIMEOUT_SECONDS = 29.0  # the default (and, without a quota raise, maximum) for REST APIs
API_RESOURCE = "Api"
FUNCTION_RESOURCE = "ApiFunction"

# API Gateway's default status for each response type it can send (AWS docs, "Gateway response
# types for API Gateway"); a GatewayResponse in the template may override status, headers, body.
RESPONSE_TYPE_STATUS = {
    "ACCESS_DENIED": 403,
    "API_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500,
    "BAD_REQUEST_BODY": 400,
    "BAD_REQUEST_PARAMETERS": 400,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 500,
    "EXPIRED_TOKEN": 403,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
    "INVALID_API_KEY": 403,
    "INVALID_SIGNATURE": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413,
    "RESOURCE_NOT_FOUND": 404,
    "THROTTLED": 429,
    "UNAUTHORIZED": 401,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "WAF_FILTERED": 403,
}
# What API Gateway says in $context.error.message for the types the emulation produces.
MESSAGES = {
    "MISSING_AUTHENTICATION_TOKEN": "Missing Authentication Token",
    "UNAUTHORIZED": "Unauthorized",
    "REQUEST_TOO_LARGE": "Request Too Long",
    "INTEGRATION_TIMEOUT": "Endpoint request timed out",
    "INTEGRATION_FAILURE": "Internal server error",
    "ACCESS_DENIED": "User is not authorized to access this resource",
    "THROTTLED": "Too Many Requests",
    "UNSUPPORTED_MEDIA_TYPE": "Unsupported Media Type",
    "BAD_REQUEST_BODY": "Invalid request body",
}

# The template keys the emulation reads, and those it knowingly ignores (they change nothing a
# client of the local API could observe). Anything else makes the template "not understood".
API_KEYS_MODELLED = {"StageName", "Auth", "GatewayResponses"}
API_KEYS_IGNORED = {
    "Name",
    "TracingEnabled",
    "EndpointConfiguration",
    "MethodSettings",
    "AccessLogSetting",
    "Tags",
    "PropagateTags",
    # The local gateway serves plain HTTP on loopback and never compresses: a TLS policy and the
    # compression threshold are checked in the template (tests/infra/test_template_ops.py), and a
    # client that sends Accept-Encoding decompresses what API Gateway compresses.
    "SecurityPolicy",
    "EndpointAccessMode",
    "MinimumCompressionSize",
}
AUTH_KEYS = {"DefaultAuthorizer", "AddDefaultAuthorizerToCorsPreflight", "Authorizers"}
AUTHORIZER_KEYS = {"UserPoolArn", "AuthorizationScopes"}
GATEWAY_RESPONSE_KEYS = {"StatusCode", "ResponseParameters", "ResponseTemplates"}
RESPONSE_PARAMETER_KEYS = {"Headers"}
EVENT_KEYS = {"RestApiId", "Path", "Method", "Auth"}
EVENT_AUTH_KEYS = {"Authorizer"}
CONTEXT_VARIABLES = {
    "$context.error.messageString",
    "$context.error.message",
    "$context.error.responseType",
    "$context.requestTime",
    "$context.requestId",
}
HEADER_FROM_REQUEST = re.compile(r"^method\.request\.header\.([A-Za-z0-9-]+)$")


class TemplateNotUnderstood(Exception):
    """template.yaml declares something about the API that the emulation does not model."""


def _only(keys: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(keys) - allowed
    if unknown:
        raise TemplateNotUnderstood(f"{where}: {sorted(unknown)} not modelled by devtools/gateway.py")


@dataclass(frozen=True)
class Route:
    resource: str  # as declared, e.g. /api/v1/{proxy+}
    method: str  # an HTTP method or ANY
    authorized: bool

    def path_parameters(self, path: str) -> dict[str, str] | None:
        """The path's parameters when this route's resource matches it, else None."""
        declared = self.resource.strip("/").split("/") if self.resource != "/" else []
        given = path.strip("/").split("/") if path.strip("/") else []
        found: dict[str, str] = {}
        for index, segment in enumerate(declared):
            greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
            if greedy:
                rest = given[index:]
                if not rest or not all(rest):
                    return None
                found[greedy[1]] = "/".join(rest)
                return found
            if index >= len(given):
                return None
            single = re.fullmatch(r"\{(\w+)\}", segment)
            if single:
                found[single[1]] = given[index]
            elif segment != given[index]:
                return None
        return found if len(given) == len(declared) else None


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: dict[str, str]  # header -> 'literal' or method.request.header.X, as declared
    template: str | None


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


TokenRule = Callable[[str], dict[str, Any] | None]  # a token's claims when the authorizer accepts it


@dataclass
class ApiGateway:
    stage: str
    routes: list[Route]
    scopes: list[str]
    responses: dict[str, GatewayResponse] = field(default_factory=dict)

    @classmethod
    def from_template(
        cls, parameters: dict[str, str], template: dict[str, Any] | None = None
    ) -> "ApiGateway":
        template = template or load_template()
        resources = template["Resources"]
        api = resources[API_RESOURCE]["Properties"]
        _only(api, API_KEYS_MODELLED | API_KEYS_IGNORED, API_RESOURCE)
        resolve = Resolver(template, parameters).resolve
        auth = api.get("Auth", {})
        _only(auth, AUTH_KEYS, f"{API_RESOURCE}.Auth")
        authorizers = auth.get("Authorizers", {})
        if set(authorizers) - {auth.get("DefaultAuthorizer")}:
            raise TemplateNotUnderstood("only the default (Cognito) authorizer is modelled")
        scopes: list[str] = []
        for name, authorizer in authorizers.items():
            _only(authorizer, AUTHORIZER_KEYS, f"{API_RESOURCE}.Auth.Authorizers.{name}")
            scopes = list(authorizer.get("AuthorizationScopes", []))
        return cls(
            stage=str(resolve(api["StageName"])),
            routes=_routes(resources[FUNCTION_RESOURCE]["Properties"].get("Events", {}), bool(authorizers)),
            scopes=scopes,
            responses={
                kind: _gateway_response(kind, resolve(spec))
                for kind, spec in api.get("GatewayResponses", {}).items()
            },
        )

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route API Gateway picks: an exact method before ANY."""
        matches = [(r, p) for r in self.routes if (p := r.path_parameters(path)) is not None]
        for wanted in (method, "ANY"):
            for route, parameters in matches:
                if route.method == wanted:
                    return route, parameters
        return None

    def accepts(self, claims: dict[str, Any]) -> bool:
        """A REST Cognito authorizer's rule once the token is genuine: with AuthorizationScopes,
        an access token carrying one of them; without, an ID token."""
        if self.scopes:
            granted = str(claims.get("scope", "")).split()
            return claims.get("token_use") == "access" and any(s in granted for s in self.scopes)
        return claims.get("token_use") == "id"

    def error(self, kind: str, request_headers: dict[str, str], request_id: str) -> Answer:
        """The gateway response API Gateway sends for `kind`, rendered from the template."""
        family = "DEFAULT_5XX" if RESPONSE_TYPE_STATUS[kind] >= 500 else "DEFAULT_4XX"
        declared = self.responses.get(kind) or self.responses.get(family)
        if declared is None:
            body = json.dumps({"message": MESSAGES.get(kind, kind)}).encode()
            return Answer(RESPONSE_TYPE_STATUS[kind], {"Content-Type": "application/json"}, body)
        status = declared.status or RESPONSE_TYPE_STATUS[kind]
        lowered = {name.lower(): value for name, value in request_headers.items()}
        headers = {}
        for name, value in declared.headers.items():
            mapped = HEADER_FROM_REQUEST.match(value)
            if mapped:
                if mapped[1].lower() in lowered:
                    headers[name] = lowered[mapped[1].lower()]
            else:
                headers[name] = value[1:-1]
        rendered = render(declared.template or "", kind, MESSAGES.get(kind, kind), request_id)
        return Answer(status, headers, rendered.encode())


def _routes(events: dict[str, Any], has_authorizer: bool) -> list[Route]:
    routes = []
    for name, event in events.items():
        if event["Type"] != "Api":
            raise TemplateNotUnderstood(f"event {name}: type {event['Type']} not modelled")
        props = event["Properties"]
        _only(props, EVENT_KEYS, f"{FUNCTION_RESOURCE}.Events.{name}")
        auth = props.get("Auth", {})
        _only(auth, EVENT_AUTH_KEYS, f"{FUNCTION_RESOURCE}.Events.{name}.Auth")
        authorizer = auth.get("Authorizer")
        if authorizer not in (None, "NONE"):
            raise TemplateNotUnderstood(f"event {name}: authorizer {authorizer} not modelled")
        method = str(props["Method"]).upper()
        routes.append(Route(props["Path"], method, has_authorizer and authorizer is None))
    return routes


def _gateway_response(kind: str, spec: dict[str, Any]) -> GatewayResponse:
    if kind not in RESPONSE_TYPE_STATUS:
        raise TemplateNotUnderstood(f"GatewayResponses.{kind}: unknown response type")
    _only(spec, GATEWAY_RESPONSE_KEYS, f"GatewayResponses.{kind}")
    parameters = spec.get("ResponseParameters", {})
    _only(parameters, RESPONSE_PARAMETER_KEYS, f"GatewayResponses.{kind}.ResponseParameters")
    headers = parameters.get("Headers", {})
    for name, value in headers.items():
        if not isinstance(value, str) or not (
            (len(value) >= 2 and value[0] == value[-1] == "'") or HEADER_FROM_REQUEST.match(value)
        ):
            raise TemplateNotUnderstood(f"GatewayResponses.{kind} header {name}: {value!r} not modelled")
    templates = spec.get("ResponseTemplates", {})
    _only(templates, {"application/json"}, f"GatewayResponses.{kind}.ResponseTemplates")
    template = templates.get("application/json")
    if template is not None:
        unknown = set(re.findall(r"\$context\.[\w.]+", template)) - CONTEXT_VARIABLES
        if unknown or "#" in template or re.search(r"\$(?!context\.)", template):
            raise TemplateNotUnderstood(f"GatewayResponses.{kind}: template uses {sorted(unknown) or 'VTL'}")
    status = spec.get("StatusCode")
    return GatewayResponse(int(status) if status else 0, dict(headers), template)


def render(template: str, kind: str, message: str, request_id: str) -> str:
    """A gateway response's mapping template with API Gateway's $context values filled in."""
    values = {
        "$context.error.messageString": json.dumps(message),
        "$context.error.message": message,
        "$context.error.responseType": kind,
        "$context.requestTime": request_time(),
        "$context.requestId": request_id,
    }
    for name in sorted(values, key=len, reverse=True):  # messageString before message
        template = template.replace(name, values[name])
    return template


def request_time(now: float | None = None) -> str:
    """$context.requestTime's CLF format: 26/Nov/2026:02:30:00 +0000."""
    stamp = formatdate(now if now is not None else time.time(), usegmt=True)  # Thu, 26 Nov 2026 02:30:00 GMT
    _, day, month, year, clock, _ = stamp.replace(",", "").split()
    return f"{day}/{month}/{year}:{clock} +0000"


def new_request_id() -> str:
    return str(uuid.uuid4())


class CognitoTokens:
    """What a Cognito authorizer checks before its rule: RS256 by a key of the pool's JWKS, the
    pool as issuer, not expired (no leeway), iat and nbf not ahead by more than the app's
    CLOCK_SKEW_SECONDS. Returns the claims, or None.

    AWS does not document the authorizer's clock leeway; Cognito sets iat from AWS's clock, so on
    AWS a fresh token is not ahead of the authorizer by more than their drift. Locally the token
    can come from another clock than the gateway's, so the gateway applies the app's one rule, and
    a token the app accepts is never refused here first (tests/unit/test_gateway_tokens.py)."""

    def __init__(self, issuer: str, jwks_url: str) -> None:
        import jwt

        self._issuer = issuer
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True)

    def claims(self, authorization: str | None) -> dict[str, Any] | None:
        import jwt

        if not authorization:
            return None
        token = authorization.removeprefix("Bearer ").strip()  # API Gateway takes either form
        try:
            key = self._keys.get_signing_key_from_jwt(token).key
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=self._issuer,
                leeway=CLOCK_SKEW_SECONDS,  # PyJWT applies it to exp as well: exp is checked below
                options={"verify_aud": False, "require": ["exp", "iss", "token_use"]},
            )
        except jwt.PyJWTError:
            return None
        return claims if time.time() < claims["exp"] else None
