"""Structured logging and CloudWatch metrics (Powertools), and the current request's id."""

from contextvars import ContextVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from app import SERVICE_NAME

METRICS_NAMESPACE = "Echoes"

logger = Logger(service=SERVICE_NAME)
request_id_var: ContextVar[str] = ContextVar("request_id", default="")


def count(metric: str, **dimensions: str) -> None:
    """Emit one EMF count at once, so nothing accumulates when the app runs outside Lambda."""
    with single_metric(name=metric, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE) as emitted:
        emitted.add_dimension(name="service", value=SERVICE_NAME)
        for name, value in dimensions.items():
            emitted.add_dimension(name=name, value=value)


def count_error(code: str) -> None:
    count("ApiErrors", error_code=code)
