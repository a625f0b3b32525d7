"""The erasure function's entry point (template.yaml: ErasureFunction): one pass of an account's
erasure (app/erasure.py), then, if unfinished, the next pass invoked asynchronously.

Invoked by the API synchronously for a chain's first pass (its answer is the caller's 204 or
202), and by itself asynchronously for the next ones: with no retries, and an on-failure
destination (an SQS queue with an alarm) that keeps what a failed pass was asked to do.
"""

from typing import Any

from app.aws import create_client, create_clients
from app.erasure import build_passes, handle, lambda_continuation
from app.observability import logger
from app.settings import get_settings

settings = get_settings()
clients = create_clients(settings.aws_region)
passes = build_passes(
    settings,
    clients.dynamodb,
    clients.s3,
    lambda_continuation(
        settings.aws_lambda_function_name, lambda: create_client("lambda", settings.aws_region)
    )
    if settings.aws_lambda_function_name
    else None,
)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(passes, event, context.get_remaining_time_in_millis() / 1000)
