"""The Lambda entry point: the app and its Mangum adapter are built once, at init."""

from typing import Any

from mangum import Mangum

from app.main import create_app
from app.observability import logger
from app.settings import get_settings

app = create_app(get_settings())
_asgi = Mangum(app, lifespan="off")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _asgi(event, context)
