"""The OpenAPI document as the API really answers: no FastAPI 422s (validation errors are 400 in
the one error format, documented by ERROR_RESPONSES, whose ErrorBody schema is added here)."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.models import ErrorBody

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            for name in _FASTAPI_VALIDATION_SCHEMAS:
                schemas.pop(name, None)
            schemas[ErrorBody.__name__] = ErrorBody.model_json_schema(mode="serialization")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point
