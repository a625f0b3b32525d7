"""Swagger UI at /docs (dev only), behind the API Gateway stage prefix and with configurable assets."""

from typing import TypedDict

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from app.settings import Settings


class _Assets(TypedDict, total=False):
    swagger_js_url: str
    swagger_css_url: str


def router_for(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    assets: _Assets = {}
    if settings.docs_assets_url:
        base = settings.docs_assets_url.rstrip("/")
        assets = {
            "swagger_js_url": f"{base}/swagger-ui-bundle.js",
            "swagger_css_url": f"{base}/swagger-ui.css",
        }

    @router.get("/docs")
    def swagger_ui(request: Request) -> HTMLResponse:
        prefix = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{prefix}{request.app.openapi_url}", title="Echoes API - docs", **assets
        )

    return router
