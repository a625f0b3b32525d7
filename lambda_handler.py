"""The Lambda entry point: the app and its Mangum adapter are built once, at init."""

from typing import Any

from mangum import Mangum

from app.main import create_app
from app.observability import inject_lambda_context
from app.settings import get_settings

app = create_app(get_settings())
_asgi = Mangum(app, lifespan="off")


@inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _asgi(event, context)
