"""The Lambda entry point: the app and its Mangum adapter are built once, at init."""

from mangum import Mangum

from app.main import create_app
from app.observability import logger
from app.settings import get_settings

app = create_app(get_settings())
# Powertools adds the Lambda context (function name, ARN, memory, request id, cold_start) to every
# log line of the invocation; the request-context layer adds the correlation id.
handler = logger.inject_lambda_context(Mangum(app, lifespan="off"))
