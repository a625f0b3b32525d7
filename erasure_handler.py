"""The erasure function's entry point (template.yaml: ErasureFunction): one pass of an account's
erasure (app/erasure.py), then, if unfinished, the next pass invoked asynchronously; or a batch of
the sweeps that follow a complete erasure (app/sweep.py), delivered by SQS.

Invoked by the API synchronously for a chain's first pass (its answer is the caller's 204 or
202), and by itself asynchronously for the next ones: with no retries, and an on-failure
destination (an SQS queue with an alarm) that keeps what a failed pass was asked to do. Sweeps
come from their own queue, whose failed messages move to that same queue after three receives.
"""

from typing import Any

from app.aws import create_client, create_clients
from app.erasure import build_passes, handle, lambda_continuation
from app.observability import logger
from app.settings import get_settings
from app.sweep import SweepQueue, handle_records

settings = get_settings()
clients = create_clients(settings.aws_region)
sweeps = (
    SweepQueue(settings.erasure_sweep_queue_url, lambda: create_client("sqs", settings.aws_region))
    if settings.erasure_sweep_queue_url
    else None
)
passes = build_passes(
    settings,
    clients.dynamodb,
    clients.s3,
    lambda_continuation(
        settings.aws_lambda_function_name, lambda: create_client("lambda", settings.aws_region)
    )
    if settings.aws_lambda_function_name
    else None,
    sweeps,
)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:  # SQS: sweeps after complete erasures
        if sweeps is None:
            raise RuntimeError("ERASURE_SWEEP_QUEUE_URL is not set: sweeps cannot queue their next")
        return handle_records(passes.eraser(), sweeps, event["Records"])
    return handle(passes, event, context.get_remaining_time_in_millis() / 1000)
