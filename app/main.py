"""create_app(settings): the FastAPI application, wired once per process.

`app.main.app` is that application for the environment's settings, built on first use and kept:
what lambda_handler serves, what `uvicorn app.main:app` runs and what
`python -c "from app.main import app"` checks. It is built lazily (module __getattr__), so that
importing create_app (the tests, the local stack) needs no settings.
"""

from collections.abc import Callable
from functools import cache, lru_cache

from botocore.config import Config
from fastapi import FastAPI

from app import __version__
from app.account import AccountService, LambdaErasure, StartErasure, in_process
from app.auth import CognitoSessions, TokenVerifier
from app.aws import AwsClients, create_client, create_clients, credentials
from app.cors import CorsMiddleware
from app.erasure import build_passes
from app.errors import register_error_handlers
from app.health import HealthChecker, cognito_probe, dynamodb_probe, s3_probe
from app.jwks import JsonFetcher, JwksCache, fetch_json
from app.middleware import REQUEST_ID_HEADER, LastResortMiddleware, RequestContextMiddleware
from app.observability import logger
from app.routes import echoes, me, system
from app.service import EchoService
from app.settings import Settings, get_settings
from app.store.audio import AudioStore
from app.store.cursor import CursorCodec, secrets_manager_codec
from app.store.echoes import EchoStore
from app.store.limits import UploadLimit
from app.store.uploads import PendingUploads
from app.uploads import UploadService


def _erasure_starter(settings: Settings, clients: AwsClients) -> StartErasure:
    """The erasure function in Lambda (invoked synchronously for the first pass: the read timeout
    covers a pass, and a retried Invoke would only find the first one's lease); passes in this
    process elsewhere."""
    if not settings.erasure_function_name:  # unset, or empty (sam local's env.json)
        return in_process(build_passes(settings, clients.dynamodb, clients.s3))
    waits = Config(read_timeout=settings.function_timeout_seconds, retries={"total_max_attempts": 1})
    return LambdaErasure(
        settings.erasure_function_name, lambda: create_client("lambda", settings.aws_region, waits)
    )


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
    )
    app.include_router(system.router)
    app.include_router(echoes.router)
    app.include_router(me.router)
    if settings.docs_enabled:
        from app.routes import docs  # dev only: staging and prod never pay for its import

        app.include_router(docs.router_for(settings))
    jwks = JwksCache(settings.jwks_url, fetch_jwks)
    app.state.settings = settings
    app.state.aws_clients = clients
    # Made on the first cursor (or before a SnapStart snapshot, app/snapstart.py), then kept.
    app.state.secrets_manager = cache(lambda: create_client("secretsmanager", settings.aws_region))
    app.state.token_verifier = TokenVerifier(settings.cognito_issuer, settings.cognito_app_client_id, jwks)
    app.state.cognito_sessions = CognitoSessions(lambda: create_client("cognito-idp", settings.aws_region))
    echo_store = EchoStore(
        clients.dynamodb, settings.dynamodb_table_name, counters_in_index=settings.counters_in_list_index
    )
    audio_store = AudioStore(clients.s3, settings.s3_bucket_name, credentials)
    app.state.echo_service = echo_service = EchoService(
        settings,
        echo_store,
        audio_store,
        CursorCodec(cursor_key)
        if cursor_key
        else secrets_manager_codec(settings.app_secret_name, app.state.secrets_manager),
    )
    app.state.upload_service = UploadService(
        settings,
        echo_store,
        PendingUploads(clients.dynamodb, settings.dynamodb_table_name),
        audio_store,
        UploadLimit(clients.dynamodb, settings.dynamodb_table_name, settings.uploads_per_user_per_hour),
        echo_service,
    )
    app.state.account_service = AccountService(
        echo_service, _erasure_starter(settings, clients), settings.export_page_size
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
    # Innermost first: the last-resort 500 inside CORS, so that every error carries CORS headers;
    # the request id outermost, so that every response (preflights too) carries it.
    app.add_middleware(LastResortMiddleware)
    app.add_middleware(
        CorsMiddleware,
        allow_origins=settings.cors_allow_origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "If-Match", REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER, "Retry-After", "ETag", "WWW-Authenticate"],
        max_age=600,
    )
    app.add_middleware(RequestContextMiddleware, deadline_seconds=settings.request_deadline_seconds)
    if settings.tracing_enabled:
        from app import tracing  # imports the X-Ray SDK: only where tracing is on

        tracing.install(app, clients)  # outermost: the route's subsegment holds the whole request
    return app


@lru_cache(maxsize=1)
def _app_for(settings: Settings) -> FastAPI:
    return create_app(settings)


def __getattr__(name: str) -> FastAPI:
    if name == "app":
        # Keyed by the settings: the same settings give the same app, built once.
        return _app_for(get_settings())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
