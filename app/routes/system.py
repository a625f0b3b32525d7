"""Public, unauthenticated routes: service info and health."""

import time

from fastapi import APIRouter, Request, Response

from app import SERVICE_NAME, __version__
from app.concurrency import run_blocking
from app.health import HealthChecker
from app.models import Health, RootInfo

router = APIRouter(tags=["system"])
HEALTHY_HEADERS = {"Cache-Control": "no-store"}
DEGRADED_HEADERS = {**HEALTHY_HEADERS, "Retry-After": "30"}


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
    # Probes block on I/O (run_blocking: inline in Lambda, threadpool under uvicorn), and run only
    # when the short cache has expired.
    report = checker.cached()
    if report is None:
        report = await run_blocking(request, checker.report)
    body = Health(
        status="healthy" if report.healthy else "degraded",
        service=SERVICE_NAME,
        version=__version__,
        environment=request.app.state.settings.environment,
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        dependencies=report.dependencies,
    )
    return Response(
        body.model_dump_json(),
        status_code=200 if report.healthy else 503,
        headers=HEALTHY_HEADERS if report.healthy else DEGRADED_HEADERS,
        media_type="application/json",
    )
