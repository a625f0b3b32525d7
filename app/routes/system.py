"""Public, unauthenticated routes: service info and health."""

import time

from fastapi import APIRouter, Request, Response

from app import SERVICE_NAME, __version__
from app.concurrency import run_blocking
from app.health import CONNECTED, HealthChecker
from app.models import Health, RootInfo

router = APIRouter(tags=["system"])


@router.get("/", response_model=RootInfo)
def root(request: Request) -> RootInfo:
    prefix = request.scope.get("root_path", "").rstrip("/")
    return RootInfo(
        message="Echoes API is running",
        version=__version__,
        docs=f"{prefix}/docs" if request.app.openapi_url else None,
        health=f"{prefix}/health",
    )


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> Response:
    checker: HealthChecker = request.app.state.health
    # Probes block on I/O, so they run in the threadpool, and only when the short cache expired.
    dependencies = checker.cached() or await run_blocking(request, checker.dependencies)
    healthy = all(state == CONNECTED for state in dependencies.values())
    body = Health(
        status="healthy" if healthy else "degraded",
        service=SERVICE_NAME,
        version=__version__,
        environment=request.app.state.settings.environment,
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        dependencies=dependencies,
    )
    headers = {"Cache-Control": "no-store"}
    if not healthy:
        headers["Retry-After"] = "30"
    return Response(
        body.model_dump_json(), status_code=200 if healthy else 503, headers=headers, media_type="application/json"
    )
