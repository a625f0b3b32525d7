"""The Lambda entry point: the app (built once, at init, by app.main) and its Mangum adapter."""

from mangum import Mangum

from app.main import app
from app.observability import logger

__all__ = ["app", "handler"]  # `app` too: devtools/local_app.py serves it with uvicorn

# Powertools adds the Lambda context (function name, ARN, memory, request id, cold_start) to every
# log line of the invocation; the request-context layer adds the correlation id.
handler = logger.inject_lambda_context(Mangum(app, lifespan="off"))
