"""The Lambda entry point: the app (built once, at init, by app.main) and its Mangum adapter."""

import gc

# No cyclic garbage collection while init imports the packages and builds the app: init creates
# about a hundred thousand objects and only a few hundred of them become garbage, yet the collector
# would walk them again and again. Frozen afterwards, they stay out of every later collection: the
# gc module's documented disable-early, freeze-later pattern (figures in docs/performance.md).
gc.disable()
try:
    from mangum import Mangum

    from app import snapstart
    from app.main import app
    from app.observability import logger

    # Powertools adds the Lambda context (function name, ARN, memory, request id, cold_start) to
    # every log line of the invocation; the request-context layer adds the correlation id.
    handler = logger.inject_lambda_context(Mangum(app, lifespan="off"))
    snapstart.install(app)  # Lambda runs its hooks where SnapStart is on (docs/performance.md)
finally:
    gc.freeze()
    gc.enable()

__all__ = ["app", "handler"]  # `app` too: devtools/local_app.py serves it with uvicorn
