"""create_app(settings): the FastAPI application, wired once per process."""

from collections.abc import Callable

from fastapi import FastAPI
from starlette.routing import BaseRoute

from app import __version__
from app.account import AccountService, lambda_continuation
from app.auth import JsonFetcher, JwksCache, TokenVerifier, fetch_json
from app.aws import AwsClients, create_client, create_clients
from app.cors import CorsPolicy
from app.errors import register_error_handlers
from app.health import HealthChecker, cognito_probe, dynamodb_probe, s3_probe
from app.middleware import REQUEST_ID_HEADER, RequestContextMiddleware
from app.observability import logger
from app.routes import echoes, me, system
from app.service import EchoService
from app.settings import Settings
from app.store.account import AccountEraser
from app.store.audio import AudioStore
from app.store.cursor import CursorCodec, secrets_manager_key
from app.store.echoes import EchoStore


def _routes(settings: Settings) -> list[BaseRoute]:
    """The routers' routes, given to the app as its own rather than through include_router, which
    in FastAPI 0.165 resolves every included route through a wrapper on each request: 9 us of a
    64 us warm request (README, Performance). Routes built this way do not see
    app.dependency_overrides; the tests run the real dependencies on moto instead."""
    routes = [*system.router.routes, *echoes.router.routes, *me.router.routes]
    if settings.docs_enabled:
        from app.routes import docs  # dev only: staging and prod never pay for its import

        routes += docs.router_for(settings).routes
    return routes


def create_app(
    settings: Settings,
    clients: AwsClients | None = None,
    cursor_key: Callable[[], bytes] | None = None,
    fetch_jwks: JsonFetcher = fetch_json,
) -> FastAPI:
    """Build the app. Tests may pass clients, a cursor key loader or a JWKS fetcher; the
    deployed function uses the defaults (botocore clients, Secrets Manager, HTTPS)."""
    logger.setLevel(settings.log_level)
    clients = clients or create_clients(settings.aws_region)
    app = FastAPI(
        title="Echoes API",
        version=__version__,
        description="Record ambient sound, tag it with an emotion, return to it later.",
        debug=settings.debug,
        docs_url=None,  # served by app.routes.docs, whose asset URLs are configurable
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        redoc_url=None,
        routes=_routes(settings),
    )
    jwks = JwksCache(settings.jwks_url, fetch_jwks)
    app.state.settings = settings
    app.state.aws_clients = clients
    app.state.token_verifier = TokenVerifier(settings.cognito_issuer, settings.cognito_app_client_id, jwks)
    app.state.echo_service = echo_service = EchoService(
        settings,
        EchoStore(clients.dynamodb, settings.dynamodb_table_name),
        AudioStore(clients.s3, settings.s3_bucket_name),
        CursorCodec(
            cursor_key
            or secrets_manager_key(
                settings.app_secret_name,
                lambda: create_client("secretsmanager", settings.aws_region),
            )
        ),
    )
    app.state.account_service = AccountService(
        settings,
        echo_service,
        lambda: AccountEraser(
            clients.dynamodb,
            clients.s3,
            create_client("cognito-idp", settings.aws_region),
            settings.dynamodb_table_name,
            settings.s3_bucket_name,
            settings.cognito_user_pool_id,
        ),
        lambda_continuation(
            settings.aws_lambda_function_name, lambda: create_client("lambda", settings.aws_region)
        )
        if settings.aws_lambda_function_name
        else None,
    )
    app.state.health = HealthChecker(
        {
            "dynamodb": dynamodb_probe(clients, settings.dynamodb_table_name),
            "s3": s3_probe(clients, settings.s3_bucket_name),
            "cognito": cognito_probe(jwks),
        },
        settings.health_cache_seconds,
    )
    register_error_handlers(app)
    if settings.docs_enabled:
        from app import openapi

        openapi.install(app)
    # Outermost of the app's layers, so that error responses carry CORS headers too.
    app.add_middleware(
        RequestContextMiddleware,
        cors=CorsPolicy(
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "If-Match", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After", "ETag"],
            max_age_seconds=600,
        ),
        deadline_seconds=settings.request_deadline_seconds,
    )
    return app
