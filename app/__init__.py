"""Echoes backend: a FastAPI application served on AWS Lambda through Mangum."""

__version__ = "1.0.0"
SERVICE_NAME = "echoes-api"
